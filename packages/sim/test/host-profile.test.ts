import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { CostModel, defaultProfile, diffProfiles, loadProfile } from '../src/index.js';

// profiles/host-measured.json was written by measure/measure-host.mjs on the development machine.
it('loads the measured host profile from JSON; it differs from the default only where measured', () => {
  const json = JSON.parse(
    readFileSync(new URL('../profiles/host-measured.json', import.meta.url), 'utf8'),
  );
  const host = loadProfile(json);
  const diff = diffProfiles(defaultProfile, host);
  expect(diff.map((d) => d.path)).toEqual([
    'copy.bytesPerCycle',
    'cpu.frequency',
    'memory.latency.dram',
    'memory.latency.l1',
    'memory.latency.l2',
    'memory.latency.l3',
  ]);
  for (const d of diff) expect(d.sourceB?.kind).toBe('measured');
  // The hierarchy is ordered on any real machine.
  const l = host.memory.latency;
  expect(l.l1.value).toBeLessThan(l.l2.value);
  expect(l.l2.value).toBeLessThan(l.l3.value);
  expect(l.l3.value).toBeLessThan(l.dram.value);
  expect(new CostModel(host).memoryReferences('dram')).toBe(l.dram.value);
});

it('ships the default profile as JSON too, identical to the typed object', () => {
  const json = JSON.parse(
    readFileSync(new URL('../profiles/xeon-5500-xen.json', import.meta.url), 'utf8'),
  );
  expect(diffProfiles(defaultProfile, loadProfile(json))).toEqual([]);
  expect(json).toEqual(JSON.parse(JSON.stringify(defaultProfile)));
});
