import {
  ACCESS_USER,
  ACCESS_WRITE,
  PageWalker,
  PagingState,
  splitLinear,
  WalkOutcome,
} from '@vmkit/paging';
import { CR0, CR4, EFER } from '@vmkit/x86';
import { describe, expect, it } from 'vitest';
import { Ept, EptBuilder, EPT_QUALIFICATION as Q, REF_GUEST, REF_WRITE } from '../src/index.js';
import {
  EPT_TABLES,
  GUEST_SIZE,
  getGuest,
  HOST_OFFSET,
  hostMemory,
  mapGuest,
  putGuest,
} from './support/setup.js';

const A = 0x20n;
const D = 0x40n;

function setup(levels: 4 | 5, opts: { ad?: boolean; guestFlags?: bigint } = {}) {
  const host = hostMemory();
  const b = new EptBuilder(host, {
    tableBase: EPT_TABLES,
    tableLimit: EPT_TABLES + 0x10_0000,
    walkLength: levels,
  });
  b.map(0, HOST_OFFSET, GUEST_SIZE);
  const ept = new Ept(host, { eptp: b.eptp({ accessedDirty: opts.ad ?? false }) });
  const linear = levels === 5 ? 0x00ab_cdef_1234_5000n : 0x7f12_3456_7000n;
  const entries = mapGuest(host, {
    levels,
    root: 0x1000,
    linear,
    frame: 0x30_0000,
    tables: [0x2000, 0x3000, 0x4000, 0x5000],
    flags: opts.guestFlags ?? 7n | A | D,
  });
  const state = new PagingState({
    features: { maxPhyAddr: 46 },
    cr0: CR0.PG | CR0.PE | CR0.WP,
    cr4: CR4.PAE | (levels === 5 ? CR4.LA57 : 0),
    efer: EFER.LME | EFER.LMA | EFER.NXE,
    cr3: 0x1000n,
  });
  const walker = new PageWalker(host, ept);
  const [hi, lo] = splitLinear(linear + 0x123n);
  return { host, b, ept, walker, state, hi, lo, entries };
}

describe('the two-dimensional walk', () => {
  for (const levels of [4, 5] as const) {
    const want = levels + (levels + 1) * levels; // g + (g+1) * e with g = e
    it(`makes ${want} references for ${levels}-level over ${levels}-level with nothing cached`, () => {
      const { ept, walker, state, hi, lo, host } = setup(levels);
      // Independent count: every 8-byte entry read is two read32 calls on host memory.
      let read32 = 0;
      const orig = host.read32.bind(host);
      host.read32 = (a: number) => {
        read32++;
        return orig(a);
      };
      ept.references.clear();
      expect(walker.walk(state, hi, lo, 0)).toBe(WalkOutcome.OK);
      expect(walker.result.hostPhysical).toBe(HOST_OFFSET + 0x30_0123);
      const log = ept.references;
      expect(log.count).toBe(want);
      expect(log.countWhere(REF_GUEST, REF_GUEST)).toBe(levels);
      expect(log.countWhere(REF_GUEST | REF_WRITE, 0)).toBe((levels + 1) * levels);
      expect(log.countWhere(REF_WRITE, REF_WRITE)).toBe(0);
      expect(read32 / 2).toBe(want);
      // Order: e EPT reads for each guest entry, then that entry, ..., then e for the data.
      for (let g = 0; g < levels; g++) {
        for (let k = 0; k < levels; k++) expect(log.info[g * (levels + 1) + k]).toBe(levels - k);
        expect(log.info[g * (levels + 1) + levels]! & REF_GUEST).toBe(REF_GUEST);
      }
    });
  }

  it('with EPT A/D on, guest paging-structure reads are writes: D set in the EPT leaves of the tables', () => {
    const { ept, walker, state, hi, lo, b, host } = setup(4, { ad: true });
    expect(walker.walk(state, hi, lo, 0)).toBe(WalkOutcome.OK);
    const eptLeaf = (gpa: number) => host.read32(b.entryAddress(gpa, 1));
    for (const gpa of [0x1000, 0x2000, 0x3000, 0x4000]) expect(eptLeaf(gpa) & 0x300).toBe(0x300);
    // The data page was read: A but not D.
    expect(eptLeaf(0x30_0000) & 0x300).toBe(0x100);
    expect(ept.stats.writes[1]).toBeGreaterThan(0);
  });

  it('with EPT A/D on, a read-only guest page table gives a violation with bits 0 and 1 set', () => {
    const { ept, walker, state, hi, lo, b } = setup(4, { ad: true });
    b.map(0x3000, HOST_OFFSET + 0x3000, 0x1000, { rights: 1 });
    expect(walker.walk(state, hi, lo, 0)).toBe(WalkOutcome.SECOND_STAGE_FAULT);
    expect(walker.result.faultAddress).toBe(
      0x3000 + 8 * Number((0x7f12_3456_7000n >> 21n) & 0x1ffn),
    );
    expect(ept.exit.qualification).toBe(Q.READ | Q.WRITE | Q.READABLE | Q.LINEAR_VALID);
  });

  it('with EPT A/D off, a read-only guest page table is read, and setting guest A is a separate write that faults', () => {
    const { ept, walker, state, hi, lo, b, host, entries } = setup(4, {
      ad: false,
      guestFlags: 7n,
    });
    b.map(0x3000, HOST_OFFSET + 0x3000, 0x1000, { rights: 1 });
    ept.references.clear();
    expect(walker.walk(state, hi, lo, 0)).toBe(WalkOutcome.SECOND_STAGE_FAULT);
    // The four entry reads succeeded; the A update of the PDE (in the read-only table) faulted.
    expect(ept.references.countWhere(REF_GUEST, REF_GUEST)).toBe(4);
    expect(walker.result.faultAddress).toBe(entries[2]);
    expect(ept.exit.qualification).toBe(Q.WRITE | Q.READABLE | Q.LINEAR_VALID);
    // No guest A flag was set anywhere (the walker checks every update first).
    for (const at of entries) expect(getGuest(host, at) & A).toBe(0n);
  });

  it('with EPT A/D off and writable tables, guest A/D are set by separate writes', () => {
    const { ept, walker, state, hi, lo, host, entries } = setup(4, { ad: false, guestFlags: 7n });
    ept.references.clear();
    expect(walker.walk(state, hi, lo, ACCESS_WRITE)).toBe(WalkOutcome.OK);
    // 4 entry reads + 4 A/D writes, each write translated by EPT again (4 EPT reads each).
    expect(ept.references.countWhere(REF_GUEST | REF_WRITE, REF_GUEST | REF_WRITE)).toBe(4);
    expect(ept.references.count).toBe(4 + 4 + 5 * 4 + 4 * 4);
    expect(getGuest(host, entries[3]!) & (A | D)).toBe(A | D);
  });

  it('a violation on the final access sets bits 7 and 8 and the advanced information', () => {
    const { ept, walker, state, hi, lo, b } = setup(4);
    b.map(0x30_0000, HOST_OFFSET + 0x30_0000, 0x1000, { rights: 1 | 4 });
    expect(walker.walk(state, hi, lo, ACCESS_WRITE | ACCESS_USER)).toBe(
      WalkOutcome.SECOND_STAGE_FAULT,
    );
    expect(ept.exit.qualification).toBe(
      Q.WRITE |
        Q.READABLE |
        Q.EXECUTABLE |
        Q.LINEAR_VALID |
        Q.TRANSLATED |
        Q.USER_LINEAR |
        Q.GUEST_WRITABLE,
    );
    expect(ept.exit.guestPhysical).toBe(0x30_0123);
    expect(ept.exit.linear).toBe(0x7f12_3456_7123n);
  });

  it('a PDPTE load (PAE MOV to CR3) through a non-readable page has bit 7 clear', () => {
    const { ept, b } = setup(4);
    b.map(0x7000, HOST_OFFSET + 0x7000, 0x1000, { rights: 4 });
    const state = new PagingState({
      features: { maxPhyAddr: 46 },
      cr0: CR0.PG | CR0.PE,
      cr4: CR4.PAE,
      cr3: 0x7000n,
    });
    expect(ept.loadPdptes(state)).toBe(WalkOutcome.SECOND_STAGE_FAULT);
    expect(ept.exit.qualification).toBe(Q.READ | Q.EXECUTABLE);
    expect(ept.exit.guestPhysical).toBe(0x7000);
  });

  it('composes with the guest walk: guest-physical from an EPT-less walk, then EPT of it', () => {
    const { ept, walker, state, hi, lo, host } = setup(4);
    const plain = new PageWalker({
      ...host,
      read32: (a: number) => host.read32(a + HOST_OFFSET),
      read8: (a: number) => host.read8(a + HOST_OFFSET),
      write8: (a: number, v: number) => host.write8(a + HOST_OFFSET, v),
    } as never);
    expect(plain.walk(state, hi, lo, 0)).toBe(WalkOutcome.OK);
    expect(walker.walk(state, hi, lo, 0)).toBe(WalkOutcome.OK);
    expect(walker.result.physical).toBe(plain.result.physical);
    expect(ept.translate(plain.result.physical, 1, hi, lo)).toBe(walker.result.hostPhysical);
    putGuest(host, 0x10, 0n);
  });
});
