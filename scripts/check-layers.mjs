#!/usr/bin/env node
// Enforces DESIGN.md's layering: dependencies point down (base -> hardware -> mechanisms ->
// vmm -> app), never up, never in a cycle, and no published package depends at run time on a
// private one. Each package.json names its layer in "vmkit": { "layer": ... }.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const RANK = { tooling: -1, base: 0, hardware: 1, mechanisms: 2, vmm: 3, app: 4 };
const root = new URL('..', import.meta.url).pathname;
const pkgs = new Map();
for (const group of ['packages', 'apps']) {
  for (const entry of readdirSync(join(root, group), { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const file = join(root, group, entry.name, 'package.json');
    let pkg;
    try {
      pkg = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      continue;
    }
    pkgs.set(pkg.name, { pkg, file: `${group}/${entry.name}/package.json` });
  }
}

const errors = [];
const runtimeDeps = (pkg) =>
  Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies }).filter((d) => pkgs.has(d));
for (const [name, { pkg, file }] of pkgs) {
  const layer = pkg.vmkit?.layer;
  if (!(layer in RANK)) {
    errors.push(`${file}: "vmkit.layer" must be one of ${Object.keys(RANK).join(', ')}`);
    continue;
  }
  for (const dep of runtimeDeps(pkg)) {
    const target = pkgs.get(dep).pkg;
    const depLayer = target.vmkit?.layer;
    if (RANK[depLayer] > RANK[layer]) {
      errors.push(`${name} (${layer}) depends on ${dep} (${depLayer}): dependencies point down`);
    }
    if (!pkg.private && target.private) {
      errors.push(`${name} is published but depends at run time on private ${dep}`);
    }
  }
}

// Cycles over all workspace edges, dev dependencies included (turbo needs an acyclic graph).
const state = new Map();
const visit = (name, path) => {
  if (state.get(name) === 'done') return;
  if (state.get(name) === 'open') {
    errors.push(`dependency cycle: ${[...path, name].join(' -> ')}`);
    return;
  }
  state.set(name, 'open');
  const { pkg } = pkgs.get(name);
  const all = { ...pkg.dependencies, ...pkg.devDependencies, ...pkg.peerDependencies };
  for (const dep of Object.keys(all)) if (pkgs.has(dep)) visit(dep, [...path, name]);
  state.set(name, 'done');
};
for (const name of pkgs.keys()) visit(name, []);

if (errors.length > 0) {
  for (const e of errors) console.error(`layers: ${e}`);
  process.exit(1);
}
console.log(`layers: ${pkgs.size} packages, dependencies point down, no cycles`);
