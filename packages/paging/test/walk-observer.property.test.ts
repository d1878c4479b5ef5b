// The walk observer sees exactly the references the counters count, at the physical addresses of
// the entries, which the test computes itself by following the table layout with bigint reads:
// the entry of each level at table + index x 8 from CR3 down to the leaf or the first
// non-present entry, then the A/D writes (SDM Vol. 3A §4.8) of a walk that succeeded.
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { ACCESS_WRITE, Mmu, REFERENCE_WRITE, WalkOutcome } from '../src/index.js';
import { A, D, map, memory, P, RW, US } from './support/tables.js';

const CR0_PG = 0x8001_0001;
const CR4_PAE = 1 << 5;
const LONG = 0xd00;
const ROOT = 0x10_0000;
const ADDRESS = 0x000f_ffff_ffff_f000n;

type Ref = [address: number, info: number];

/** The references of a walk from CR3 (no cached entries), computed from the tables alone. */
function expectedWalk(mem: ReturnType<typeof memory>, linear: bigint, write: boolean): Ref[] {
  const refs: Ref[] = [];
  const used: [number, number, bigint][] = [];
  let table = BigInt(ROOT);
  for (let level = 4; level >= 1; level--) {
    const index = (linear >> BigInt(12 + 9 * (level - 1))) & 0x1ffn;
    const at = Number(table + index * 8n);
    const e = mem.read64(at);
    refs.push([at, level]);
    used.push([at, level, e]);
    if ((e & P) === 0n) return refs; // #PF: no A/D write
    if (level === 1 || (level <= 3 && (e & 0x80n) !== 0n)) break;
    table = e & ADDRESS;
  }
  const leaf = used[used.length - 1]![1];
  for (const [at, level, e] of used) {
    const need = level === leaf && write ? A | D : A;
    if ((e & need) !== need) refs.push([at, level | REFERENCE_WRITE]);
  }
  return refs;
}

const indexArb = fc.constantFrom(0n, 1n, 0x1ffn);
const mappingArb = fc.record({
  indices: fc.tuple(indexArb, indexArb, indexArb, indexArb),
  leafLevel: fc.constantFrom<1 | 2 | 3>(1, 1, 1, 2, 3),
  upperA: fc.boolean(),
  leafA: fc.boolean(),
  leafD: fc.boolean(),
  frame: fc.integer({ min: 1, max: 8 }),
});

function build(mappings: Parameters<Parameters<typeof mappingArb.map>[0]>[0][], holes: number[]) {
  const mem = memory();
  const linears: bigint[] = [];
  for (const m of mappings) {
    const [i4, i3, i2, i1] = m.indices;
    // Bits 63:48 copy bit 47 (canonical, SDM Vol. 3A §3.3.7.1).
    const upperHalf = i4 >= 256n ? 0xffff_0000_0000_0000n : 0n;
    const linear = upperHalf | (i4 << 39n) | (i3 << 30n) | (i2 << 21n) | (i1 << 12n);
    const span = [0n, 0x1000n, 0x20_0000n, 0x4000_0000n][m.leafLevel]!;
    const addresses = map(mem, {
      levels: 4,
      root: ROOT,
      linear,
      frame: BigInt(m.frame) * span * 16n,
      leafLevel: m.leafLevel,
      upper: P | RW | US | (m.upperA ? A : 0n),
      leaf: P | RW | US | (m.leafA ? A : 0n) | (m.leafD ? D : 0n),
    });
    linears.push(linear);
    // Some entries become non-present: the walk through them stops there.
    for (const h of holes) {
      const at = addresses[(h % 4) + 1];
      if (h % 7 === linears.length % 7 && at !== undefined) mem.write64(at, 0n);
    }
  }
  const mmu = new Mmu(mem, {
    features: { maxPhyAddr: 46, page1GB: true },
    registers: { cr0: CR0_PG, cr4: CR4_PAE, efer: LONG },
  });
  mmu.movToCr3(BigInt(ROOT));
  return { mem, mmu, linears };
}

const args = [
  fc.array(mappingArb, { minLength: 1, maxLength: 6 }),
  fc.array(fc.nat(30), { maxLength: 3 }),
  fc.array(fc.tuple(fc.nat(), fc.boolean(), fc.nat(9)), {
    minLength: 20,
    maxLength: 60,
    size: 'max',
  }),
] as const;

it('cold walks: the observer sees each entry read and A/D write at its physical address, in order (property)', () => {
  fc.assert(
    fc.property(...args, (mappings, holes, accesses) => {
      const { mem, mmu, linears } = build(mappings, holes);
      const seen: Ref[] = [];
      mmu.walkObserver = (address, info) => seen.push([address, info]);
      for (const [pick, write] of accesses) {
        const linear = linears[pick % linears.length]!;
        mmu.flushAll(); // every translation walks from CR3
        const want = expectedWalk(mem, linear, write);
        seen.length = 0;
        const hi = Number(linear >> 32n);
        const lo = Number(linear & 0xffff_ffffn);
        mmu.translate(hi, lo, write ? ACCESS_WRITE : 0);
        expect(seen).toEqual(want);
      }
    }),
    { numRuns: 150 },
  );
});

it('with TLB and paging-structure caches: observed references equal the counters, level by level (property)', () => {
  fc.assert(
    fc.property(...args, (mappings, holes, accesses) => {
      const { mem, mmu, linears } = build(mappings, holes);
      const reads = new Float64Array(6);
      const writes = new Float64Array(6);
      let last: Ref[] = [];
      mmu.walkObserver = (address, info) => {
        last.push([address, info]);
        if ((info & REFERENCE_WRITE) !== 0) writes[info & 7]!++;
        else reads[info & 7]!++;
      };
      for (const [pick, write, op] of accesses) {
        const linear = linears[pick % linears.length]!;
        if (op === 9) mmu.movToCr3(BigInt(ROOT));
        // What a cold walk would read: a cached walk reads a suffix of it (PSC hit), and every
        // observed address is one of the entries of this translation's path.
        const full = expectedWalk(mem, linear, write).filter(([, i]) => (i & 8) === 0);
        last = [];
        const outcome = mmu.translateLinear(linear, write ? ACCESS_WRITE : 0).outcome;
        const observedReads = last.filter(([, i]) => (i & 8) === 0);
        expect(observedReads).toEqual(full.slice(full.length - observedReads.length));
        const path = new Set(full.map(([a]) => a));
        for (const [a] of last) expect(path.has(a)).toBe(true);
        if (outcome === WalkOutcome.OK && mmu.result.referenceCount === 0) expect(last).toEqual([]);
      }
      expect([...reads]).toEqual([...mmu.stats.reads]);
      expect([...writes]).toEqual([...mmu.stats.writes]);
    }),
    { numRuns: 150 },
  );
});

it('costs nothing when absent and can be removed', () => {
  const { mmu, linears } = build(
    [
      {
        indices: [0n, 0n, 0n, 1n],
        leafLevel: 1,
        upperA: false,
        leafA: false,
        leafD: false,
        frame: 1,
      },
    ],
    [],
  );
  let calls = 0;
  mmu.walkObserver = () => calls++;
  mmu.translateLinear(linears[0]!, ACCESS_WRITE);
  expect(calls).toBe(8); // 4 reads + 4 A/D writes
  mmu.walkObserver = undefined;
  mmu.flushAll();
  mmu.translateLinear(linears[0]!, 0);
  expect(calls).toBe(8);
  expect(mmu.stats.reads.reduce((a, b) => a + b)).toBe(8);
});
