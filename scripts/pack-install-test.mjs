#!/usr/bin/env node
// "Installing individual packages" must really work. For every publishable package:
//   1. `pnpm pack` it (workspace:^ ranges become real version ranges, publishConfig applies);
//   2. check the packed package.json has no workspace: ranges and no source-only export condition;
//   3. install all tarballs with plain npm into an empty project outside the workspace;
//   4. run the package's pack-smoke.mjs there, which imports it by name and calls something real.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'vmkit-pack-'));
const tarballs = join(work, 'tarballs');
const project = join(work, 'project');
mkdirSync(tarballs);
mkdirSync(project);

const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

const packages = [];
for (const group of ['packages', 'apps']) {
  for (const name of readdirSync(join(root, group))) {
    const dir = join(root, group, name);
    if (!existsSync(join(dir, 'package.json'))) continue;
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    if (pkg.private) continue;
    packages.push({ dir, pkg });
  }
}

let passed = 0;
const failures = [];
try {
  for (const { dir, pkg } of packages) {
    const out = run('pnpm', ['pack', '--pack-destination', tarballs, '--json'], dir);
    const file = JSON.parse(out).filename;
    const packed = JSON.parse(run('tar', ['-xOzf', file, 'package/package.json'], work));
    const text = JSON.stringify(packed);
    if (text.includes('workspace:'))
      failures.push(`${pkg.name}: packed package.json keeps a workspace: range`);
    if (text.includes('@vmkit/source'))
      failures.push(`${pkg.name}: packed exports keep the @vmkit/source condition`);
    const listing = run('tar', ['-tzf', file], work);
    if (!listing.includes('package/dist/')) failures.push(`${pkg.name}: tarball has no dist/`);
  }
  const files = readdirSync(tarballs).map((f) => join(tarballs, f));
  // Optional peers (vitest for the /testing conformance suites) are what a user of those
  // subpaths has installed anyway; install them too so every subpath can be imported.
  const peers = new Set();
  for (const { pkg } of packages) {
    for (const [name, range] of Object.entries(pkg.peerDependencies ?? {})) {
      if (!name.startsWith('@vmkit/')) peers.add(`${name}@${range}`);
    }
  }
  run('npm', ['init', '-y'], project);
  run('npm', ['pkg', 'set', 'type=module'], project);
  run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--loglevel=error', ...files, ...peers],
    project,
  );
  for (const { dir, pkg } of packages) {
    const smoke = join(dir, 'pack-smoke.mjs');
    if (!existsSync(smoke)) {
      failures.push(`${pkg.name}: no pack-smoke.mjs`);
      continue;
    }
    const target = join(project, `smoke-${pkg.name.replace(/[@/]/g, '_')}.mjs`);
    cpSync(smoke, target);
    try {
      run('node', [target], project);
      console.log(`pack-test: ${pkg.name}@${pkg.version} installed from its tarball and works`);
      passed++;
    } catch (e) {
      failures.push(`${pkg.name}: pack-smoke.mjs failed\n${e.stderr || e.message}`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
for (const f of failures) console.error(`pack-test: FAIL ${f}`);
console.log(`pack-test: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length === 0 ? 0 : 1);
