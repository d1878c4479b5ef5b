// Random page tables, random processor state, random addresses and accesses: the walker never
// throws, always returns a defined outcome, and only ever writes the A/D flags of entries it
// read during that walk.
import { GuestPhysicalMemory } from '@vmkit/memory';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import {
  ACCESS_FETCH,
  ACCESS_IMPLICIT,
  ACCESS_STACK,
  ACCESS_USER,
  ACCESS_WRITE,
  loadPdptes,
  PageWalker,
  PagingState,
  REFERENCE_WRITE,
  WalkOutcome,
} from '../src/index.js';

const REGION = 16 * 4096;

const entryArb = fc.oneof(
  // An entry pointing at one of the 16 pages, with random flags in bits 11:0 and 63:52.
  fc
    .record({
      page: fc.integer({ min: 0, max: 15 }),
      low: fc.integer({ min: 0, max: 0xfff }),
      high: fc.integer({ min: 0, max: 0xfff }),
    })
    .map(({ page, low, high }) => [(page * 4096) | low, high << 20] as const),
  // Anything at all.
  fc.tuple(fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0, max: 0xffff_ffff })),
);

const stateArb = fc.record({
  mode: fc.constantFrom('32', 'pae', '4', '5'),
  maxPhyAddr: fc.integer({ min: 32, max: 52 }),
  page1GB: fc.boolean(),
  pse36: fc.boolean(),
  cr0wp: fc.boolean(),
  cr4: fc.integer({ min: 0, max: 0x1ff_ffff }),
  nxe: fc.boolean(),
  ac: fc.boolean(),
  pkru: fc.integer({ min: 0, max: 0xffff_ffff }),
  pkrs: fc.integer({ min: 0, max: 0xffff_ffff }),
  cr3page: fc.integer({ min: 0, max: 15 }),
});

const accessArb = fc.constantFrom(
  0,
  ACCESS_WRITE,
  ACCESS_FETCH,
  ACCESS_USER,
  ACCESS_USER | ACCESS_WRITE,
  ACCESS_USER | ACCESS_FETCH,
  ACCESS_IMPLICIT,
  ACCESS_IMPLICIT | ACCESS_WRITE,
  ACCESS_STACK | ACCESS_WRITE,
);

it('random page tables only ever produce defined outcomes', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: REGION / 8 - 1 }), entryArb), { maxLength: 200 }),
      stateArb,
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 0xffff_ffff }),
          fc.integer({ min: 0, max: 0xffff_ffff }),
          accessArb,
        ),
        { minLength: 1, maxLength: 20 },
      ),
      (entries, s, accesses) => {
        const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: REGION }] });
        for (const [slot, [lo, hi]] of entries) {
          mem.write32(slot * 8, lo >>> 0);
          mem.write32(slot * 8 + 4, hi >>> 0);
        }
        const cr4 =
          (s.cr4 & ~((1 << 5) | (1 << 12))) |
          (s.mode === '32' ? 0 : 1 << 5) |
          (s.mode === '5' ? 1 << 12 : 0);
        const long = s.mode === '4' || s.mode === '5';
        const state = new PagingState({
          features: { maxPhyAddr: s.maxPhyAddr, page1GB: s.page1GB, pse36: s.pse36 },
          cr0: 0x8000_0001 | (s.cr0wp ? 1 << 16 : 0),
          cr4,
          efer: (long ? 0x500 : 0) | (s.nxe ? 0x800 : 0),
          rflags: s.ac ? 1 << 18 : 0,
          pkru: s.pkru,
          pkrs: s.pkrs,
          cr3: BigInt(s.cr3page * 4096 + (s.mode === 'pae' ? 0x20 : 0)),
        });
        if (s.mode === 'pae') {
          const loaded = loadPdptes(state, mem);
          expect([WalkOutcome.OK, WalkOutcome.GENERAL_PROTECTION]).toContain(loaded);
          if (loaded !== WalkOutcome.OK) return;
        }
        const walker = new PageWalker(mem);
        const r = walker.result;
        for (const [hi, lo, access] of accesses) {
          const before = new Uint8Array(REGION);
          mem.readBytes(0, before);
          const outcome = walker.walk(state, hi, lo, access);
          expect(Object.values(WalkOutcome)).toContain(outcome);
          const read = new Set<number>();
          const written = new Set<number>();
          for (let i = 0; i < r.referenceCount; i++) {
            ((r.referenceInfo[i]! & REFERENCE_WRITE) !== 0 ? written : read).add(
              r.referenceAddress[i]!,
            );
          }
          if (outcome === WalkOutcome.PAGE_FAULT) {
            expect(r.errorCode & ~0x3f).toBe(0);
            expect(r.errorCode & (ACCESS_WRITE | ACCESS_USER)).toBe(
              access & (ACCESS_WRITE | ACCESS_USER),
            );
          }
          if (outcome === WalkOutcome.OK) {
            expect(r.physical - r.frame).toBeGreaterThanOrEqual(0);
            expect(r.physical - r.frame).toBeLessThan(r.pageSize);
            expect(r.frame % r.pageSize).toBe(0);
          } else {
            expect(written.size).toBe(0);
          }
          for (const w of written) expect(read.has(w)).toBe(true);
          // Nothing but A (bit 5) and D (bit 6) of written entries changed.
          const after = new Uint8Array(REGION);
          mem.readBytes(0, after);
          for (let i = 0; i < REGION; i++) {
            if (before[i] === after[i]) continue;
            expect(written.has(i)).toBe(true);
            expect((before[i]! ^ after[i]!) & ~0x60).toBe(0);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});
