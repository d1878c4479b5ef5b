// Differential: translating through the shadow tables (hardware walk of the shadows plus the
// VMM's fault handling) gives what paging's walker gives on the guest tables: the same outcome,
// guest-physical address, error code, and the same guest accessed/dirty flags afterwards.
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { entryArb, opArb, runDifferential, storeOpArb } from './support/differential.js';

it('shadow translation equals the guest walk (fast-check)', () => {
  let hits = 0;
  fc.assert(
    fc.property(
      fc.array(entryArb, { maxLength: 6 }),
      fc.array(opArb, { minLength: 20, maxLength: 80 }),
      (entries, ops) => {
        hits += runDifferential(entries, ops);
      },
    ),
    { numRuns: 200 },
  );
  // The hardware TLB must be exercised (hits after fills, on both vCPUs).
  expect(hits).toBeGreaterThan(20);
});

// The guest also stores through its translations, and data frames become page tables while
// both vCPUs may still cache writable translations of them: a store the VMM does not see
// (a TLB entry its write protection missed) leaves the shadows behind the guest tables. The
// vCPUs' SMEP/SMAP/AC also change one at a time.
it('with guest stores into frames that become page tables (fast-check)', () => {
  fc.assert(
    fc.property(
      fc.array(entryArb, { maxLength: 6 }),
      fc.array(fc.oneof({ weight: 3, arbitrary: opArb }, { weight: 2, arbitrary: storeOpArb }), {
        minLength: 20,
        maxLength: 80,
      }),
      (entries, ops) => {
        runDifferential(entries, ops);
      },
    ),
    { numRuns: 150 },
  );
});
