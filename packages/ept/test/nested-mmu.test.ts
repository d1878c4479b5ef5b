import { ACCESS_WRITE, PageWalker, WalkOutcome } from '@vmkit/paging';
import { CR0, CR4, EFER } from '@vmkit/x86';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ept, EptBuilder, NestedMmu } from '../src/index.js';
import {
  EPT_TABLES,
  GUEST_SIZE,
  HOST_OFFSET,
  hostMemory,
  mapGuest,
  putGuest,
} from './support/setup.js';

const LINEAR = 0x7f00_0000_0000n;
const PAGES = 8;

function setup() {
  const host = hostMemory();
  const b = new EptBuilder(host, { tableBase: EPT_TABLES, tableLimit: EPT_TABLES + 0x10_0000 });
  b.map(0, HOST_OFFSET, GUEST_SIZE);
  const tables = [0x2000, 0x3000, 0x4000, 0x5000];
  const ptes: number[] = [];
  for (let i = 0; i < PAGES; i++) {
    const e = mapGuest(host, {
      levels: 4,
      root: 0x1000,
      linear: LINEAR + BigInt(i) * 0x1000n,
      frame: 0x10_0000 + i * 0x1000,
      tables,
      flags: 0x67n, // P, R/W, U/S, A, D: no A/D updates
    });
    ptes.push(e[3]!);
  }
  const guest = {
    cr0: CR0.PG | CR0.PE,
    cr4: CR4.PAE | CR4.PGE,
    efer: EFER.LME | EFER.LMA | EFER.NXE,
    cr3: 0x1000n,
  };
  const eptp = b.eptp();
  const mmu = new NestedMmu(host, { eptp, vpid: 1, guest, tlb: { small: { sets: 4, ways: 2 } } });
  return { host, b, mmu, ptes, eptp };
}

const hiOf = Number(LINEAR >> 32n);
const loOf = (i: number) => Number(LINEAR & 0xffff_ffffn) + i * 0x1000;

describe('NestedMmu', () => {
  it('hits the combined TLB the second time, with no memory reference', () => {
    const { mmu } = setup();
    expect(mmu.translate(hiOf, loOf(1) + 5, 0)).toBe(WalkOutcome.OK);
    expect(mmu.result.hostPhysical).toBe(HOST_OFFSET + 0x10_1005);
    const refs = mmu.stats.references;
    expect(mmu.translate(hiOf, loOf(1) + 9, 0)).toBe(WalkOutcome.OK);
    expect(mmu.result.hostPhysical).toBe(HOST_OFFSET + 0x10_1009);
    expect(mmu.result.physical).toBe(0x10_1009);
    expect([mmu.stats.hits, mmu.stats.references]).toEqual([1, refs]);
    // A neighbouring page: the combined PDE cache gives the PT's host address: one guest
    // reference (the PTE) and no EPT walk for it; the data page's EPT translation hits the EPT
    // paging-structure cache (one EPT read).
    const before = mmu.stats.references;
    mmu.translate(hiOf, loOf(2), 0);
    expect(mmu.stats.references - before).toBe(2);
  });

  it('keeps a stale EPT translation until INVEPT single-context of its EPTP', () => {
    const { mmu, b, eptp } = setup();
    mmu.translate(hiOf, loOf(0), 0);
    b.map(0x10_0000, HOST_OFFSET + 0x20_0000, 0x1000);
    mmu.translate(hiOf, loOf(0), 0);
    expect(mmu.result.hostPhysical).toBe(HOST_OFFSET + 0x10_0000);
    expect(mmu.invept(1, eptp ^ 0x1000_0000n)).toBe(true); // another EP4TA
    mmu.translate(hiOf, loOf(0), 0);
    expect(mmu.result.hostPhysical).toBe(HOST_OFFSET + 0x10_0000);
    expect(mmu.invept(1, eptp)).toBe(true);
    mmu.translate(hiOf, loOf(0), 0);
    expect(mmu.result.hostPhysical).toBe(HOST_OFFSET + 0x20_0000);
  });

  it('INVEPT global flushes everything; bad types and EPTPs are VMfailValid', () => {
    const { mmu, b } = setup();
    mmu.translate(hiOf, loOf(0), 0);
    b.map(0x10_0000, HOST_OFFSET + 0x20_0000, 0x1000);
    expect(mmu.invept(2)).toBe(true);
    mmu.translate(hiOf, loOf(0), 0);
    expect(mmu.result.hostPhysical).toBe(HOST_OFFSET + 0x20_0000);
    expect(mmu.invept(0)).toBe(false);
    expect(mmu.invept(3)).toBe(false);
    expect(mmu.invept(1, 0x1000n | 0x16n)).toBe(false); // walk length 3
  });

  it('separates VPIDs (global entries too) and implements INVVPID types 0-3', () => {
    const { mmu, host, ptes } = setup();
    // Page 0 global, page 1 not.
    putGuest(host, ptes[0]!, 0x10_0000n | 0x167n);
    mmu.translate(hiOf, loOf(0), 0);
    mmu.translate(hiOf, loOf(1), 0);
    putGuest(host, ptes[0]!, 0x10_5000n | 0x167n);
    putGuest(host, ptes[1]!, 0x10_6000n | 0x67n);
    const phys = (i: number) => {
      mmu.translate(hiOf, loOf(i), 0);
      return mmu.result.physical;
    };
    mmu.setContext(2);
    expect([phys(0), phys(1)]).toEqual([0x10_5000, 0x10_6000]); // VPID 2 sees memory
    mmu.setContext(1);
    expect([phys(0), phys(1)]).toEqual([0x10_0000, 0x10_1000]); // VPID 1: stale
    expect(mmu.invvpid(1, 2)).toBe(true); // other VPID: no effect on 1
    expect([phys(0), phys(1)]).toEqual([0x10_0000, 0x10_1000]);
    expect(mmu.invvpid(3, 1)).toBe(true); // retaining globals
    expect([phys(0), phys(1)]).toEqual([0x10_0000, 0x10_6000]);
    expect(mmu.invvpid(0, 1, hiOf, loOf(0))).toBe(true); // individual address, global too
    expect(phys(0)).toBe(0x10_5000);
    expect(mmu.invvpid(0, 0, hiOf, loOf(0))).toBe(false);
    expect(mmu.invvpid(1, 0)).toBe(false);
    expect(mmu.invvpid(3, 0)).toBe(false);
    expect(mmu.invvpid(0, 1, 0x8000, 0)).toBe(false); // non-canonical
    expect(mmu.invvpid(4, 1)).toBe(false);
    putGuest(host, ptes[1]!, 0x10_7000n | 0x67n);
    expect(mmu.invvpid(2, 0)).toBe(true); // all contexts
    expect(phys(1)).toBe(0x10_7000);
  });

  it('VPID 0 is flushed by every VM transition; register changes flush the VPID', () => {
    const { mmu, host, ptes } = setup();
    mmu.setContext(0);
    mmu.translate(hiOf, loOf(2), 0);
    putGuest(host, ptes[2]!, 0x10_8000n | 0x67n);
    mmu.translate(hiOf, loOf(2), 0);
    expect(mmu.result.physical).toBe(0x10_2000);
    mmu.vmTransition();
    mmu.translate(hiOf, loOf(2), 0);
    expect(mmu.result.physical).toBe(0x10_8000);
    mmu.setContext(1);
    mmu.translate(hiOf, loOf(2), 0);
    putGuest(host, ptes[2]!, 0x10_9000n | 0x67n);
    mmu.vmTransition(); // VPID 1: no effect
    mmu.translate(hiOf, loOf(2), 0);
    expect(mmu.result.physical).toBe(0x10_8000);
    expect(mmu.setRegisters({ cr4: CR4.PAE })).toBe(WalkOutcome.OK); // PGE 1 -> 0
    mmu.translate(hiOf, loOf(2), 0);
    expect(mmu.result.physical).toBe(0x10_9000);
  });

  it('32-bit guest 4 MiB pages over 2 MiB EPT pages: combined entries of 4 KiB', () => {
    const host = hostMemory();
    const b = new EptBuilder(host, { tableBase: EPT_TABLES, tableLimit: EPT_TABLES + 0x10_0000 });
    b.map(0, HOST_OFFSET, GUEST_SIZE, { pageSize: 0x20_0000 });
    host.write32(HOST_OFFSET + 0x1000, 0x40_0000 | 0x87); // PDE 0: 4 MiB page at 4 MiB
    host.write32(HOST_OFFSET + 0x1004, 0x80_0000 | 0x87); // PDE 1: 4 MiB page at 8 MiB
    const mmu = new NestedMmu(host, {
      eptp: b.eptp(),
      guest: { cr0: CR0.PG | CR0.PE, cr4: CR4.PSE, cr3: 0x1000n },
    });
    expect(mmu.translate(0, 0x20_0010, 0)).toBe(WalkOutcome.OK);
    expect(mmu.result.physical).toBe(0x60_0010);
    expect(mmu.translate(0, 0x40_0010, 0)).toBe(WalkOutcome.OK);
    expect(mmu.result.physical).toBe(0x80_0010);
    expect(mmu.translate(0, 0x20_0020, 0)).toBe(WalkOutcome.OK);
    expect(mmu.result.hostPhysical).toBe(HOST_OFFSET + 0x60_0020);
    expect(mmu.stats.hits).toBe(1);
  });

  it('guest INVLPG and MOV to CR3 invalidate combined entries', () => {
    const { mmu, host, ptes } = setup();
    mmu.translate(hiOf, loOf(3), 0);
    putGuest(host, ptes[3]!, 0x10_9000n | 0x67n);
    mmu.translate(hiOf, loOf(3), 0);
    expect(mmu.result.physical).toBe(0x10_3000);
    mmu.invlpg(hiOf, loOf(3));
    mmu.translate(hiOf, loOf(3), 0);
    expect(mmu.result.physical).toBe(0x10_9000);
    putGuest(host, ptes[3]!, 0x10_a000n | 0x67n);
    expect(mmu.movToCr3(0x1000n)).toBe(WalkOutcome.OK);
    mmu.translate(hiOf, loOf(3), 0);
    expect(mmu.result.physical).toBe(0x10_a000);
  });

  let totalHits = 0;
  it('property: with invalidation after each change, results equal uncached 2D walks', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            {
              arbitrary: fc.record({
                op: fc.constant('access' as const),
                page: fc.integer({ min: 0, max: PAGES - 1 }),
                write: fc.boolean(),
              }),
              weight: 6,
            },
            fc.record({
              op: fc.constant('guest' as const),
              page: fc.integer({ min: 0, max: PAGES - 1 }),
              flags: fc.constantFrom(0x67, 0x65, 0x66, 0x63, 0x167),
            }),
            fc.record({
              op: fc.constant('ept' as const),
              page: fc.integer({ min: 0, max: PAGES - 1 }),
              rights: fc.integer({ min: 0, max: 7 }),
              vpid: fc.integer({ min: 1, max: 2 }),
            }),
          ),
          { minLength: 20, maxLength: 60 },
        ),
        (ops) => {
          const { mmu, host, ptes, b, eptp } = setup();
          for (const o of ops) {
            if (o.op === 'access') {
              const access = o.write ? ACCESS_WRITE : 0;
              const h = mmu.stats.hits;
              const got = mmu.translate(hiOf, loOf(o.page), access);
              totalHits += mmu.stats.hits - h;
              const ept = new Ept(host, { eptp });
              const ref = new PageWalker(host, ept);
              const want = ref.walk(mmu.state, hiOf, loOf(o.page), access);
              expect(got).toBe(want);
              if (want === WalkOutcome.OK)
                expect(mmu.result.hostPhysical).toBe(ref.result.hostPhysical);
              if (want === WalkOutcome.PAGE_FAULT)
                expect(mmu.result.errorCode).toBe(ref.result.errorCode);
              if (want === WalkOutcome.SECOND_STAGE_FAULT) {
                expect(mmu.ept.exit.qualification).toBe(ept.exit.qualification);
                expect(mmu.ept.exit.guestPhysical).toBe(ept.exit.guestPhysical);
              }
            } else if (o.op === 'guest') {
              putGuest(
                host,
                ptes[o.page]!,
                BigInt(0x10_0000 + o.page * 0x1000 + 0x1000 * (o.flags & 1)) | BigInt(o.flags),
              );
              mmu.invlpg(hiOf, loOf(o.page));
            } else {
              // EPT changes need INVEPT; switch VPID as a VMM scheduling vCPUs would.
              const rights = o.rights === 2 || o.rights === 6 ? o.rights | 1 : o.rights;
              if (rights === 0) b.map(0x10_0000 + o.page * 0x1000, 0, 0x1000, { rights: 0 });
              else
                b.map(
                  0x10_0000 + o.page * 0x1000,
                  HOST_OFFSET + 0x10_0000 + o.page * 0x1000,
                  0x1000,
                  { rights },
                );
              mmu.invept(1, eptp);
              mmu.setContext(o.vpid);
            }
          }
        },
      ),
      { numRuns: 100 },
    );
    // The combined TLB must actually be exercised (about a fifth of the accesses hit).
    expect(totalHits).toBeGreaterThan(100);
  });
});
