import { describe, expect, it } from 'vitest';
import { ShadowFaultKind } from '../src/index.js';
import { runEpochs } from './support/dirty-workload.js';

describe('log-dirty mode (seed 004)', () => {
  const runs = {
    original: runEpochs('original', 12, 600),
    rfr: runEpochs('read-fault-reduction', 12, 600),
    wfp: runEpochs('write-fault-prediction', 12, 600),
  };
  for (const [name, r] of Object.entries(runs)) {
    it(`${name}: every epoch's harvest equals the model's dirty set`, () => {
      expect(r.mismatches).toEqual([]);
      expect(r.harvested).toBeGreaterThan(100);
    });
  }
  it('fault counts: original >= read-fault-reduction >= write-fault-prediction', () => {
    const total = (k: keyof typeof runs) => runs[k].stats.totalFaults();
    expect(total('original')).toBeGreaterThan(total('rfr'));
    expect(total('rfr')).toBeGreaterThanOrEqual(total('wfp'));
    // Read-fault reduction removes the not-present refaults of reads.
    expect(runs.rfr.stats.faults[ShadowFaultKind.NOT_PRESENT]).toBeLessThan(
      runs.original.stats.faults[ShadowFaultKind.NOT_PRESENT]!,
    );
  });
  it('prediction predicts, with recall and precision reported', () => {
    const s = runs.wfp.stats;
    expect(s.predicted).toBeGreaterThan(0);
    expect(s.precision()).toBeGreaterThan(0);
    expect(s.recall()).toBeGreaterThan(0);
    expect(s.precision()).toBeLessThanOrEqual(1);
  });
  it('with markers, read-fault reduction scans only marked segments', () => {
    expect(runs.rfr.stats.scanned).toBeLessThan(12 * 512 * 2);
  });
});
