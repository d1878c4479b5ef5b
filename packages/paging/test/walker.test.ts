import { describe, expect, it } from 'vitest';
import {
  ACCESS_FETCH,
  ACCESS_STACK,
  ACCESS_USER,
  ACCESS_WRITE,
  makeAccess,
  PageWalker,
  PagingError,
  PagingMode,
  PagingState,
  REFERENCE_WRITE,
  SECOND_STAGE_GUEST_WRITABLE,
  SECOND_STAGE_PAGING_STRUCTURE,
  SECOND_STAGE_WRITE,
  type SecondStage,
  splitLinear,
  WalkOutcome,
} from '../src/index.js';
import { A, D, G, map, memory, P, PS, put64, RW, US, XD } from './support/tables.js';

const CR0_PG = 0x8000_0001;
const CR0_WP = 1 << 16;
const CR4_PAE = 1 << 5;
const CR4_PGE = 1 << 7;
const CR4_LA57 = 1 << 12;
const LONG = 0x500; // EFER.LME | EFER.LMA
const NXE = 0x800;

function long(levels: 4 | 5, extra: { cr4?: number; efer?: number; page1GB?: boolean } = {}) {
  return new PagingState({
    features: { maxPhyAddr: 46, page1GB: extra.page1GB ?? true },
    cr0: CR0_PG | CR0_WP,
    cr4: CR4_PAE | (levels === 5 ? CR4_LA57 : 0) | (extra.cr4 ?? 0),
    efer: LONG | (extra.efer ?? NXE),
    cr3: 0x10_0000n,
  });
}

describe('4-level and 5-level walks', () => {
  it('translates a 4 KiB page, sets A everywhere and D on write, reports every reference', () => {
    const mem = memory();
    const linear = 0x0000_7f12_3456_7abcn;
    const at = map(mem, { levels: 4, root: 0x10_0000, linear, frame: 0x1234_5000n });
    const walker = new PageWalker(mem);
    const [hi, lo] = splitLinear(linear);
    expect(walker.walk(long(4), hi, lo, ACCESS_WRITE | ACCESS_USER)).toBe(WalkOutcome.OK);
    const r = walker.result;
    expect(r.physical).toBe(0x1234_5abc);
    expect(r.pageSize).toBe(4096);
    expect(r.leafLevel).toBe(1);
    expect(r.referenceCount).toBe(8);
    const refs = Array.from({ length: r.referenceCount }, (_, i) => [
      r.referenceAddress[i],
      r.referenceInfo[i]! & 7,
      (r.referenceInfo[i]! & REFERENCE_WRITE) !== 0,
    ]);
    expect(refs).toEqual([
      [at[4], 4, false],
      [at[3], 3, false],
      [at[2], 2, false],
      [at[1], 1, false],
      [at[4], 4, true],
      [at[3], 3, true],
      [at[2], 2, true],
      [at[1], 1, true],
    ]);
    for (const level of [4, 3, 2]) expect(mem.read64(at[level]!) & (A | D)).toBe(A);
    expect(mem.read64(at[1]!) & (A | D)).toBe(A | D);
    // A second walk finds A and D set: reads only.
    walker.walk(long(4), hi, lo, ACCESS_WRITE | ACCESS_USER);
    expect(r.referenceCount).toBe(4);
  });

  it('5-level: a 57-bit canonical address, 2 MiB and 1 GiB pages', () => {
    const mem = memory();
    const linear = 0xff7f_ff80_4060_1234n; // bits 63:56 all 1
    map(mem, { levels: 5, root: 0x10_0000, linear, frame: 0x4060_0000n, leafLevel: 2 });
    const walker = new PageWalker(mem);
    const r = walker.translate(long(5), linear, 0);
    expect(r.outcome).toBe(WalkOutcome.OK);
    expect(r.physical).toBe(0x4060_1234);
    expect(r.pageSize).toBe(2 * 2 ** 20);
    const linear1g = 0x0001_0000_4000_0010n;
    map(mem, { levels: 5, root: 0x10_0000, linear: linear1g, frame: 0x1_c000_0000n, leafLevel: 3 });
    expect(walker.translate(long(5), linear1g, 0).physical).toBe(0x1_c000_0010);
    expect(walker.result.pageSize).toBe(2 ** 30);
  });

  it('non-canonical addresses raise #GP(0) or #SS(0) before any memory reference', () => {
    const walker = new PageWalker(memory(0x1000));
    const cases: [4 | 5, bigint][] = [
      [4, 0x0000_8000_0000_0000n],
      [4, 0xffff_7fff_ffff_ffffn],
      [5, 0x0100_0000_0000_0000n],
      [5, 0xfeff_ffff_ffff_ffffn],
    ];
    for (const [levels, linear] of cases) {
      expect(walker.translate(long(levels), linear, 0).outcome).toBe(
        WalkOutcome.GENERAL_PROTECTION,
      );
      expect(walker.result.referenceCount).toBe(0);
      expect(walker.translate(long(levels), linear, ACCESS_STACK).outcome).toBe(
        WalkOutcome.STACK_FAULT,
      );
    }
    // 0x0000_8000_0000_0000 is canonical with 5-level paging, so the walk starts and reaches
    // the PML5 table, which lies outside this tiny memory.
    expect(walker.translate(long(5), 0x0000_8000_0000_0000n, 0).outcome).toBe(
      WalkOutcome.BAD_PHYSICAL_ADDRESS,
    );
  });

  it('PS in a PML4E and a PDPTE without 1 GiB support set RSVD', () => {
    const mem = memory();
    const linear = 0x4000_0000n;
    const at = map(mem, { levels: 4, root: 0x10_0000, linear, frame: 0x4000_0000n, leafLevel: 3 });
    const walker = new PageWalker(mem);
    expect(walker.translate(long(4, { page1GB: false }), linear, ACCESS_USER).errorCode).toBe(
      0b1101,
    );
    expect(walker.translate(long(4), linear, ACCESS_USER).outcome).toBe(WalkOutcome.OK);
    put64(mem, at[4]!, mem.read64(at[4]!) | PS);
    expect(walker.translate(long(4), linear, 0).errorCode).toBe(0b1001);
  });

  it('bits 62:52 are ignored with 4-level paging; bits 51:MAXPHYADDR are reserved', () => {
    const mem = memory();
    const linear = 0x5000n;
    const at = map(mem, { levels: 4, root: 0x10_0000, linear, frame: 0x5000n });
    const walker = new PageWalker(mem);
    put64(mem, at[1]!, P | RW | 0x5000n | (0x7ffn << 52n));
    expect(walker.translate(long(4), linear, 0).outcome).toBe(WalkOutcome.OK);
    put64(mem, at[1]!, P | RW | 0x5000n | (1n << 46n));
    expect(walker.translate(long(4), linear, ACCESS_WRITE).errorCode).toBe(0b1011);
  });

  it('global pages only with CR4.PGE', () => {
    const mem = memory();
    map(mem, { levels: 4, root: 0x10_0000, linear: 0x5000n, frame: 0x5000n, leaf: P | G });
    const walker = new PageWalker(mem);
    expect(walker.translate(long(4), 0x5000n, 0).global).toBe(false);
    expect(walker.translate(long(4, { cr4: CR4_PGE }), 0x5000n, 0).global).toBe(true);
  });

  it('paging structures outside guest memory give BAD_PHYSICAL_ADDRESS, not an exception', () => {
    const mem = memory(0x10_0000);
    const walker = new PageWalker(mem);
    const state = long(4);
    expect(walker.translate(state, 0x1000n, 0).outcome).toBe(WalkOutcome.BAD_PHYSICAL_ADDRESS);
    expect(walker.result.faultAddress).toBe(0x10_0000);
  });
});

describe('second stage', () => {
  class OffsetStage implements SecondStage {
    calls: [number, number][] = [];
    refuse: ((gpa: number, access: number) => boolean) | undefined;
    translate(gpa: number, access: number): number {
      this.calls.push([gpa, access]);
      if (this.refuse?.(gpa, access)) return -1;
      return gpa + 2 ** 32;
    }
  }
  const setup = () => {
    const mem = memory(2 ** 33);
    const host = memory(2 ** 33);
    const linear = 0x0000_0040_0020_3010n;
    // Guest tables live at guest-physical 0x10_0000; the host copy is at +4 GiB.
    const at = map(mem, { levels: 4, root: 0x10_0000, linear, frame: 0x7000n });
    for (const level of [4, 3, 2, 1]) put64(host, at[level]! + 2 ** 32, mem.read64(at[level]!));
    return { host, linear, at };
  };

  it('translates every paging-structure access, each A/D update and the final address', () => {
    const { host, linear, at } = setup();
    const stage = new OffsetStage();
    const walker = new PageWalker(host, stage);
    const r = walker.translate(long(4), linear, ACCESS_WRITE);
    expect(r.outcome).toBe(WalkOutcome.OK);
    expect(r.physical).toBe(0x7010);
    expect(r.hostPhysical).toBe(0x7010 + 2 ** 32);
    expect(stage.calls.map(([gpa]) => gpa)).toEqual([
      at[4],
      at[3],
      at[2],
      at[1],
      0x7010,
      at[4],
      at[3],
      at[2],
      at[1],
    ]);
    expect(stage.calls[0]![1] & SECOND_STAGE_PAGING_STRUCTURE).not.toBe(0);
    expect(stage.calls[4]![1] & (SECOND_STAGE_WRITE | SECOND_STAGE_GUEST_WRITABLE)).toBe(
      SECOND_STAGE_WRITE | SECOND_STAGE_GUEST_WRITABLE,
    );
    expect(host.read64(at[1]! + 2 ** 32) & (A | D)).toBe(A | D);
  });

  it('a second-stage fault on a paging-structure read aborts the walk without A/D updates', () => {
    const { host, linear, at } = setup();
    const stage = new OffsetStage();
    stage.refuse = (gpa) => gpa === at[2];
    const walker = new PageWalker(host, stage);
    const r = walker.translate(long(4), linear, ACCESS_WRITE);
    expect(r.outcome).toBe(WalkOutcome.SECOND_STAGE_FAULT);
    expect(r.faultAddress).toBe(at[2]);
    expect(r.faultLevel).toBe(2);
    for (const level of [4, 3, 2, 1]) expect(host.read64(at[level]! + 2 ** 32) & A).toBe(0n);
  });

  it('a refused A/D write or final access leaves every flag untouched', () => {
    for (const refuse of [
      (gpa: number, access: number) => gpa === 0x7010 && access !== 0,
      (_: number, access: number) =>
        (access & SECOND_STAGE_WRITE) !== 0 && (access & SECOND_STAGE_PAGING_STRUCTURE) !== 0,
    ]) {
      const { host, linear, at } = setup();
      const stage = new OffsetStage();
      stage.refuse = refuse;
      const walker = new PageWalker(host, stage);
      expect(walker.translate(long(4), linear, ACCESS_WRITE).outcome).toBe(
        WalkOutcome.SECOND_STAGE_FAULT,
      );
      for (const level of [4, 3, 2, 1])
        expect(host.read64(at[level]! + 2 ** 32) & (A | D)).toBe(0n);
    }
  });
});

describe('access descriptors and state', () => {
  it('makeAccess', () => {
    expect(makeAccess({ kind: 'write', cpl: 3 })).toBe(ACCESS_WRITE | ACCESS_USER);
    expect(makeAccess({ kind: 'fetch', cpl: 0 })).toBe(ACCESS_FETCH);
    expect(makeAccess({ kind: 'read', cpl: 3, implicit: true }) & ACCESS_USER).toBe(0);
    expect(() => makeAccess({ kind: 'read', cpl: 4 })).toThrow(PagingError);
    expect(() => makeAccess({ kind: 'fetch', cpl: 0, implicit: true })).toThrow(PagingError);
  });
  it('derives the mode and PCID, and refuses bad configuration', () => {
    const s = new PagingState({
      cr0: CR0_PG,
      cr4: CR4_PAE | (1 << 17),
      efer: LONG,
      cr3: 0x1234_5abcn,
    });
    expect(s.mode).toBe(PagingMode.LEVEL4);
    expect(s.pcid).toBe(0xabc);
    expect(s.rootTable()).toBe(0x1234_5000);
    s.setCr3(0x8000_0000_0000_1000n); // bit 63 is not CR3 state
    expect(s.cr3).toBe(0x1000n);
    expect(() => new PagingState({ features: { maxPhyAddr: 53 } })).toThrow(PagingError);
    expect(() => s.setCr0(2 ** 32)).toThrow(PagingError);
    expect(() => splitLinear(1n << 64n)).toThrow(PagingError);
    expect(() => splitLinear(-1n)).toThrow(PagingError);
  });
  it('without paging, linear = physical', () => {
    const walker = new PageWalker(memory(0x1000));
    expect(walker.translate(new PagingState(), 0x1234_5678n, ACCESS_WRITE).physical).toBe(
      0x1234_5678,
    );
  });
  it('XD with IA32_EFER.NXE = 0 is a reserved bit', () => {
    const mem = memory();
    map(mem, { levels: 4, root: 0x10_0000, linear: 0x5000n, frame: 0x5000n, leaf: P | XD });
    const walker = new PageWalker(mem);
    expect(walker.translate(long(4, { efer: 0 }), 0x5000n, ACCESS_FETCH).errorCode).toBe(0b1001);
    expect(walker.translate(long(4), 0x5000n, ACCESS_FETCH).errorCode).toBe(0b10001);
    expect(walker.translate(long(4), 0x5000n, 0).outcome).toBe(WalkOutcome.OK);
    expect(RW | US).toBe(6n);
  });
});

describe('PageTableMemory', () => {
  it('any object with read32 and write8 will do; the walker reports what it touched', () => {
    const mem = memory();
    map(mem, { levels: 4, root: 0x10_0000, linear: 0x5000n, frame: 0x9000n });
    let reads = 0;
    let writes = 0;
    const counting = {
      read32: (gpa: number) => {
        reads++;
        return mem.read32(gpa);
      },
      write8: (gpa: number, value: number) => {
        writes++;
        mem.write8(gpa, value);
      },
    };
    const walker = new PageWalker(counting);
    expect(walker.translate(long(4), 0x5000n, ACCESS_WRITE).physical).toBe(0x9000);
    expect([reads, writes]).toEqual([8, 4]); // two halves per entry; one byte per A/D update
    expect(walker.result.referenceCount).toBe(8); // 4 entry reads + 4 entry writes
  });
});
