// NestedMmu's walk observer against an oracle outside the MMU: host memory itself. Every entry
// the two-dimensional walk reads is two read32 calls at its host-physical address (the pair a,
// a + 4), every guest A/D update one write8 at the entry's address; the observer must report
// exactly those, in the same order (reads among reads, writes among writes: the walker
// translates every A/D update before it writes any), with the combined TLB, combined
// paging-structure caches and EPT caches all on, 4 KiB or 2 MiB EPT pages and EPT holes.
import { ACCESS_WRITE, WalkOutcome } from '@vmkit/paging';
import { CR0, CR4, EFER } from '@vmkit/x86';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { EptBuilder, NestedMmu, REF_GUEST, REF_WRITE } from '../src/index.js';
import { EPT_TABLES, GUEST_SIZE, HOST_OFFSET, hostMemory, mapGuest } from './support/setup.js';

const A = 0x20n;
const D = 0x40n;
const LARGE = 0x20_0000;
const indexArb = fc.constantFrom(0n, 1n, 0x1ffn);

it('observed references are the host reads and A/D writes of each walk, and what the counters count (property)', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          indices: fc.tuple(indexArb, indexArb, indexArb, indexArb),
          flags: fc.constantFrom(7n, 7n | A, 7n | A | D),
          frame: fc.integer({ min: 0x40, max: GUEST_SIZE / 0x1000 - 1 }),
        }),
        { minLength: 1, maxLength: 6 },
      ),
      fc.boolean(),
      fc.option(fc.integer({ min: 1, max: GUEST_SIZE / LARGE - 1 })),
      fc.option(fc.integer({ min: 1, max: 8 })),
      fc.array(fc.tuple(fc.nat(), fc.boolean(), fc.nat(19)), {
        minLength: 20,
        maxLength: 60,
        size: 'max',
      }),
      (mappings, large, hole, readOnly, accesses) => {
        const host = hostMemory();
        const b = new EptBuilder(host, {
          tableBase: EPT_TABLES,
          tableLimit: EPT_TABLES + 0x10_0000,
        });
        const pageSize = large ? LARGE : 0x1000;
        if (readOnly !== null) {
          // One guest page-table page read-only in the EPT: its A/D updates exit, abandoning the
          // updates already translated for the entries above it.
          const ro = 0x1000 * (readOnly + 1);
          b.map(0, HOST_OFFSET, ro);
          b.map(ro, HOST_OFFSET + ro, 0x1000, { rights: 5 });
          b.map(ro + 0x1000, HOST_OFFSET + ro + 0x1000, GUEST_SIZE - ro - 0x1000);
        } else if (hole === null) b.map(0, HOST_OFFSET, GUEST_SIZE, { pageSize });
        else {
          // Guest-physical memory minus one 2 MiB hole: walks that reach it exit.
          b.map(0, HOST_OFFSET, hole * LARGE, { pageSize });
          const after = (hole + 1) * LARGE;
          if (after < GUEST_SIZE)
            b.map(after, HOST_OFFSET + after, GUEST_SIZE - after, { pageSize });
        }
        const tables = Array.from({ length: 30 }, (_, i) => 0x2000 + i * 0x1000);
        const linears = mappings.map((m) => {
          const [i4, i3, i2, i1] = m.indices;
          const linear = (i4 << 39n) | (i3 << 30n) | (i2 << 21n) | (i1 << 12n);
          mapGuest(host, {
            levels: 4,
            root: 0x1000,
            linear,
            frame: m.frame * 0x1000,
            tables,
            flags: m.flags,
          });
          return linear & 0x7fff_ffff_ffffn;
        });
        const mmu = new NestedMmu(host, {
          eptp: b.eptp(),
          guest: {
            features: { maxPhyAddr: 46 },
            cr0: CR0.PG | CR0.PE,
            cr4: CR4.PAE,
            efer: EFER.LME | EFER.LMA | EFER.NXE,
            cr3: 0x1000n,
          },
        });
        // The oracle: host memory accesses while translating.
        let reads: number[] = [];
        let writes: number[] = [];
        const read32 = host.read32.bind(host);
        const write8 = host.write8.bind(host);
        host.read32 = (a: number) => {
          reads.push(a);
          return read32(a);
        };
        host.write8 = (a: number, v: number) => {
          writes.push(a);
          write8(a, v);
        };
        const observed: [number, number][] = [];
        mmu.walkObserver = (address, info) => observed.push([address, info]);
        let total = 0;
        let guest = 0;
        for (const [pick, write, op] of accesses) {
          if (op === 19) mmu.movToCr3(0x1000n);
          if (op === 18) mmu.invept(2);
          const linear = linears[pick % linears.length]!;
          reads = [];
          writes = [];
          observed.length = 0;
          const outcome = mmu.translate(
            Number(linear >> 32n),
            Number(linear & 0xffff_ffffn),
            write ? ACCESS_WRITE : 0,
          );
          expect([
            WalkOutcome.OK,
            WalkOutcome.PAGE_FAULT,
            WalkOutcome.SECOND_STAGE_FAULT,
          ]).toContain(outcome);
          // Entry reads: the first read32 of each pair.
          const entryReads = reads.filter((_, i) => i % 2 === 0);
          for (let i = 0; i < reads.length; i += 2) expect(reads[i + 1]).toBe(reads[i]! + 4);
          expect(observed.filter(([, f]) => (f & REF_WRITE) === 0).map(([a]) => a)).toEqual(
            entryReads,
          );
          expect(observed.filter(([, f]) => (f & REF_WRITE) !== 0).map(([a]) => a)).toEqual(writes);
          // Without EPT A/D every write is a guest A/D update.
          for (const [, f] of observed)
            if ((f & REF_WRITE) !== 0) expect(f & REF_GUEST).toBe(REF_GUEST);
          total += observed.length;
          guest += observed.filter(([, f]) => (f & REF_GUEST) !== 0).length;
        }
        expect(total).toBe(mmu.stats.references);
        expect(guest).toBe(mmu.stats.guestReferences);
      },
    ),
    { numRuns: 120 },
  );
});

it('a cold 4-over-4 walk reports 24 references at their host-physical addresses; nothing when absent', () => {
  const host = hostMemory();
  const b = new EptBuilder(host, { tableBase: EPT_TABLES, tableLimit: EPT_TABLES + 0x10_0000 });
  b.map(0, HOST_OFFSET, GUEST_SIZE);
  const entries = mapGuest(host, {
    levels: 4,
    root: 0x1000,
    linear: 0x7f12_3456_7000n,
    frame: 0x30_0000,
    tables: [0x2000, 0x3000, 0x4000],
    flags: 7n | A | D,
  });
  const guest = {
    features: { maxPhyAddr: 46 },
    cr0: CR0.PG | CR0.PE,
    cr4: CR4.PAE,
    efer: EFER.LME | EFER.LMA | EFER.NXE,
    cr3: 0x1000n,
  };
  // EPT caches off, so each of the 5 guest-physical accesses walks the EPT in full.
  const off = { sets: 1, ways: 0 };
  const eptCaches = {
    small: off,
    large: off,
    huge: off,
    pde: off,
    pdpte: off,
    pml4e: off,
    pml5e: off,
  };
  const seen: [number, number][] = [];
  const mmu = new NestedMmu(host, {
    eptp: b.eptp(),
    guest,
    eptCaches,
    walkObserver: (a, i) => seen.push([a, i]),
  });
  expect(mmu.translate(0x7f12, 0x3456_7123, 0)).toBe(WalkOutcome.OK);
  expect(seen.length).toBe(24);
  // The guest entries, at host-physical = HOST_OFFSET + their guest-physical address.
  expect(seen.filter(([, i]) => (i & REF_GUEST) !== 0).map(([a]) => a)).toEqual(
    entries.map((gpa) => HOST_OFFSET + gpa),
  );
  const quiet = new NestedMmu(host, { eptp: b.eptp(), guest, vpid: 2, eptCaches });
  expect(quiet.walkObserver).toBeUndefined();
  expect(quiet.translate(0x7f12, 0x3456_7123, 0)).toBe(WalkOutcome.OK);
  expect(quiet.stats.references).toBe(24);
});
