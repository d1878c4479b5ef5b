import fc from 'fast-check';
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
  it('property: random seeds, marker widths, alphas and write ratios never lose (or invent) a dirty page', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('original', 'read-fault-reduction', 'write-fault-prediction' as const),
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.constantFrom(1, 2, 4, 8, 16, 32),
        fc.double({ min: 0, max: 0.95, noNaN: true }),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        (strategy, seed, markerBits, alpha, writeRatio) => {
          const r = runEpochs(strategy as 'original', 4, 150, seed, {
            markerBits,
            alpha,
            writeRatio,
          });
          expect(r.mismatches).toEqual([]);
        },
      ),
      { numRuns: 40 },
    );
  });
});
