// Property: as long as software invalidates after every paging-structure change, the MMU with
// its TLBs and paging-structure caches gives exactly what an uncached walk gives: the same
// outcome, error code and physical address, and the same accessed/dirty flags in memory.
import fc from 'fast-check';
import { expect, it } from 'vitest';
import {
  ACCESS_FETCH,
  ACCESS_IMPLICIT,
  ACCESS_USER,
  ACCESS_WRITE,
  Mmu,
  PageWalker,
  PagingState,
  splitLinear,
  WalkOutcome,
} from '../src/index.js';
import { A, D, G, map, memory, P, RW, US, XD } from './support/tables.js';

const SIZE = 8 * 2 ** 20;
const ROOT = 0x10_0000;

const mostly = fc.constantFrom(true, true, true, false);
const flagsArb = fc
  .record({
    rw: mostly,
    us: mostly,
    a: fc.boolean(),
    d: fc.boolean(),
    g: fc.boolean(),
    xd: fc.constantFrom(false, false, false, true),
    key: fc.integer({ min: 0, max: 3 }),
  })
  .map(
    (f) =>
      P |
      (f.rw ? RW : 0n) |
      (f.us ? US : 0n) |
      (f.a ? A : 0n) |
      (f.d ? D : 0n) |
      (f.g ? G : 0n) |
      (f.xd ? XD : 0n) |
      (BigInt(f.key) << 59n),
  );

const mappingArb = fc.record({
  slot: fc.integer({ min: 0, max: 63 }),
  frame: fc.integer({ min: 0, max: 1 }),
  leafLevel: fc.constantFrom<1 | 2>(1, 1, 1, 2),
  leaf: flagsArb,
  upper: flagsArb.map((v) => v & ~(G | D | (15n << 59n))),
});

// Linear addresses: a few regions so that mappings share upper tables.
const linearOf = (slot: number, levels: 4 | 5) =>
  (BigInt(levels === 5 ? slot & 1 : 0) << 48n) |
  (BigInt((slot >> 1) & 3) << 39n) |
  (BigInt((slot >> 3) & 1) << 30n) |
  (BigInt(slot >> 4) << 21n) |
  (BigInt(slot & 7) << 12n);

const accessArb = fc.constantFrom(
  0,
  0,
  ACCESS_WRITE,
  ACCESS_WRITE,
  ACCESS_FETCH,
  ACCESS_USER,
  ACCESS_USER | ACCESS_WRITE,
  ACCESS_USER | ACCESS_FETCH,
  ACCESS_IMPLICIT,
);

const opArb = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      op: fc.constant('access' as const),
      slot: fc.integer({ min: 0, max: 63 }),
      mapped: fc.nat(),
      offset: fc.integer({ min: 0, max: 4095 }),
      access: accessArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('remap' as const),
      mapping: mappingArb,
      invalidation: fc.constantFrom('invpcid2', 'cr4pge'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('ac' as const), on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('wp' as const), on: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('pkru' as const),
      value: fc.integer({ min: 0, max: 255 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('pcid' as const),
      pcid: fc.integer({ min: 0, max: 3 }),
      noFlush: fc.boolean(),
    }),
  },
);

it('cached translations equal uncached walks while invalidation follows every change', () => {
  let successes = 0;
  let hits = 0;
  let pscHits = 0;
  fc.assert(
    fc.property(
      fc.constantFrom<4 | 5>(4, 5),
      fc.record({
        pge: fc.boolean(),
        pcide: fc.boolean(),
        smep: fc.boolean(),
        smap: fc.boolean(),
        pke: fc.boolean(),
        nxe: fc.boolean(),
      }),
      fc.array(mappingArb, { minLength: 4, maxLength: 24 }),
      fc.array(opArb, { minLength: 40, maxLength: 80 }),
      fc.constantFrom('lru', 'fifo', 'random'),
      (levels, c, mappings, ops, replacement) => {
        const memCached = memory(SIZE);
        const memPlain = memory(SIZE);
        const apply = (m: (typeof mappings)[number]) => {
          const linear = linearOf(m.slot, levels);
          const frame =
            (m.leafLevel === 2 ? 0x40_0000n : 0x30_0000n + BigInt(m.slot) * 0x1000n) +
            BigInt(m.frame) * 0x60_0000n;
          for (const mem of [memCached, memPlain]) {
            map(mem, {
              levels,
              root: ROOT,
              linear,
              frame,
              leafLevel: m.leafLevel,
              leaf: m.leaf,
              upper: m.upper,
            });
          }
        };
        for (const m of mappings) apply(m);
        const cr4 =
          (1 << 5) |
          (levels === 5 ? 1 << 12 : 0) |
          (c.pge ? 1 << 7 : 0) |
          (c.pcide ? 1 << 17 : 0) |
          (c.smep ? 1 << 20 : 0) |
          (c.smap ? 1 << 21 : 0) |
          (c.pke ? 1 << 22 : 0);
        const registers = { cr0: 0x8001_0001, cr4, efer: 0x500 | (c.nxe ? 0x800 : 0) };
        // Small caches so that replacement happens.
        const mmu = new Mmu(memCached, {
          features: { maxPhyAddr: 46 },
          registers,
          tlb: { small: { sets: 4, ways: 2 }, large: { sets: 2, ways: 2 }, replacement },
          psc: { pde: { sets: 2, ways: 2 }, pdpte: { sets: 1, ways: 2 }, replacement },
        });
        mmu.movToCr3(BigInt(ROOT));
        const plain = new PagingState({
          features: { maxPhyAddr: 46 },
          ...registers,
          cr3: BigInt(ROOT),
        });
        const walker = new PageWalker(memPlain);
        for (const op of ops) {
          switch (op.op) {
            case 'access': {
              // Mostly addresses that some mapping covers.
              const slot =
                op.mapped % 4 === 0 ? op.slot : mappings[op.mapped % mappings.length]!.slot;
              const [hi, lo] = splitLinear(linearOf(slot, levels) + BigInt(op.offset));
              const got = mmu.translate(hi, lo, op.access);
              const want = walker.walk(plain, hi, lo, op.access);
              expect(got).toBe(want);
              if (want === WalkOutcome.OK) {
                expect(mmu.result.physical).toBe(walker.result.physical);
                successes++;
              }
              if (want === WalkOutcome.PAGE_FAULT)
                expect(mmu.result.errorCode).toBe(walker.result.errorCode);
              break;
            }
            case 'remap':
              if (op.mapping.frame === 1 && op.mapping.leafLevel === 1) {
                // Drop the PDE first so that map() builds a fresh page table elsewhere.
                for (const mem of [memCached, memPlain]) {
                  const at = map(mem, {
                    levels,
                    root: ROOT,
                    linear: linearOf(op.mapping.slot, levels),
                    frame: 0n,
                    leafLevel: 2,
                    leaf: 0n,
                    upper: op.mapping.upper,
                  });
                  mem.write64(at[2]!, 0n);
                }
              }
              apply(op.mapping);
              if (op.invalidation === 'invpcid2') mmu.invpcid(2, 0);
              else {
                mmu.movToCr4(mmu.state.cr4 ^ (1 << 7));
                mmu.movToCr4(mmu.state.cr4 ^ (1 << 7));
              }
              break;
            case 'ac':
              mmu.setRflags(op.on ? 1 << 18 : 0);
              plain.setRflags(op.on ? 1 << 18 : 0);
              break;
            case 'wp': {
              const cr0 = op.on ? 0x8001_0001 : 0x8000_0001;
              mmu.movToCr0(cr0);
              plain.setCr0(cr0);
              break;
            }
            case 'pkru':
              mmu.setPkru(op.value);
              plain.setPkru(op.value);
              break;
            case 'pcid': {
              const pcid = c.pcide ? op.pcid : 0;
              const noFlush = c.pcide && op.noFlush ? 1n << 63n : 0n;
              mmu.movToCr3(noFlush | BigInt(ROOT + pcid));
              plain.setCr3(BigInt(ROOT + pcid));
              break;
            }
          }
        }
        const a = new Uint8Array(0x20_0000);
        const b = new Uint8Array(0x20_0000);
        memCached.readBytes(ROOT, a);
        memPlain.readBytes(ROOT, b);
        expect(Buffer.compare(a, b)).toBe(0);
        hits += mmu.stats.hits;
        pscHits += mmu.stats.pscHits.reduce((x, y) => x + y, 0);
      },
    ),
    { numRuns: 150 },
  );
  // The property is only as strong as the cache traffic behind it.
  console.log(
    `coherence: ${successes} successful translations, ${hits} TLB hits, ${pscHits} PSC hits`,
  );
  expect(successes).toBeGreaterThan(500);
  expect(hits).toBeGreaterThan(200);
  expect(pscHits).toBeGreaterThan(100);
});
