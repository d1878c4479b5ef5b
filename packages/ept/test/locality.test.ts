// Seed 003: 2-MByte EPT pages (EPT_LP) and confining the guest page tables into one 2-MByte
// region give fewer memory references per walk and more cache hits.
import { describe, expect, it } from 'vitest';
import { runWorkload } from './support/workload.js';

describe('EPT_LP and confined guest page tables (seed 003)', () => {
  const N = 20_000;
  const base = runWorkload({ eptPageSize: 4096, confined: false }, N);
  const lp = runWorkload({ eptPageSize: 0x20_0000, confined: false }, N);
  const confined = runWorkload({ eptPageSize: 4096, confined: true }, N);
  const both = runWorkload({ eptPageSize: 0x20_0000, confined: true }, N);

  it('every access translates', () => {
    for (const r of [base, lp, confined, both]) expect(r.ok).toBe(N);
  });
  it('2 MiB EPT pages: fewer references per walk, more EPT cache hits', () => {
    expect(lp.referencesPerWalk).toBeLessThan(base.referencesPerWalk);
    expect(lp.eptReads).toBeLessThan(base.eptReads);
    expect(lp.eptMappingHits).toBeGreaterThan(base.eptMappingHits);
  });
  it('confined guest page tables: fewer references per walk, more EPT cache hits', () => {
    expect(confined.referencesPerWalk).toBeLessThan(base.referencesPerWalk);
    expect(confined.eptMappingHits).toBeGreaterThan(base.eptMappingHits);
    expect(confined.eptReads).toBeLessThan(base.eptReads);
  });
  it('both together are best', () => {
    expect(both.referencesPerWalk).toBeLessThanOrEqual(
      Math.min(lp.referencesPerWalk, confined.referencesPerWalk),
    );
  });
});
