// Hand-written vectors for 32-bit paging (SDM Vol. 3A §4.3) and PAE paging (§4.4), which the
// permutation test does not cover. Expected values are worked out by hand from the SDM tables.
import { describe, expect, it } from 'vitest';
import {
  ACCESS_FETCH,
  ACCESS_USER,
  ACCESS_WRITE,
  loadPdptes,
  PageWalker,
  type PagingFeatures,
  PagingState,
  WalkOutcome,
} from '../src/index.js';
import { A, D, memory, P, PS, put32, put64, RW, US, XD } from './support/tables.js';

const CR0_PG_WP = 0x8001_0001;
const CR4_PSE = 1 << 4;
const CR4_PAE = 1 << 5;
const CR4_SMEP = 1 << 20;
const NXE = 0x800;

describe('32-bit paging (SDM Vol. 3A §4.3)', () => {
  const state = (cr4: number, features: PagingFeatures = {}, efer = 0) =>
    new PagingState({ features, cr0: CR0_PG_WP, cr4, efer, cr3: 0x1000n });

  it('4 KiB pages: PDE at CR3[31:12] + 4 * lin[31:22], PTE at PDE[31:12] + 4 * lin[21:12]', () => {
    const mem = memory();
    put32(mem, 0x1000 + 0x300 * 4, 0x2000 | 0x7); // lin 0xc0000000..: PDE index 0x300
    put32(mem, 0x2000 + 0x12 * 4, 0x0abc_d000 | 0x7);
    const walker = new PageWalker(mem);
    expect(walker.walk(state(0), 0, 0xc001_2345, ACCESS_WRITE | ACCESS_USER)).toBe(WalkOutcome.OK);
    expect(walker.result.physical).toBe(0x0abc_d345);
    expect(walker.result.referenceCount).toBe(4); // 2 reads, 2 A/D writes
    expect(mem.read32(0x1000 + 0x300 * 4)).toBe(0x2000 | 0x27);
    expect(mem.read32(0x2000 + 0x12 * 4)).toBe(0x0abc_d000 | 0x67);
  });

  it('PS is ignored when CR4.PSE = 0 and maps 4 MiB when CR4.PSE = 1', () => {
    const mem = memory();
    put32(mem, 0x1000 + 4 * 5, 0x0040_0000 | 0x83); // PDE 5: PS, RW, P; address 0x400000
    put32(mem, 0x0040_0000 + 4 * 0x3ff, 0x0777_7000 | 0x1); // read as a page table when PSE=0
    const walker = new PageWalker(mem);
    expect(walker.walk(state(0), 0, 0x017f_f123, 0)).toBe(WalkOutcome.OK);
    expect(walker.result.physical).toBe(0x0777_7123);
    expect(walker.walk(state(CR4_PSE), 0, 0x017f_f123, 0)).toBe(WalkOutcome.OK);
    expect(walker.result.physical).toBe(0x007f_f123);
    expect(walker.result.pageSize).toBe(4 * 2 ** 20);
  });

  it('PSE-36: PDE bits 20:13 are physical-address bits 39:32', () => {
    const mem = memory();
    put32(mem, 0x1000 + 4 * 1, 0x0080_0000 | (0xa5 << 13) | 0x83);
    const walker = new PageWalker(mem);
    expect(walker.walk(state(CR4_PSE, { maxPhyAddr: 40 }), 0, 0x0045_6789, 0)).toBe(WalkOutcome.OK);
    expect(walker.result.physical).toBe(0xa5 * 2 ** 32 + 0x0085_6789);
  });

  it('4 MiB PDE reserved bits: 21 always, 20:(M-19) below MAXPHYADDR 40, 20:13 without PSE-36', () => {
    const mem = memory();
    const walker = new PageWalker(mem);
    const pde = (bits: number) => put32(mem, 0x1000 + 4, 0x0080_0000 | bits | 0x83);
    const rsvd = 0b1001;
    pde(1 << 21);
    expect(walker.walk(state(CR4_PSE, { maxPhyAddr: 52 }), 0, 0x0040_0000, 0)).toBe(
      WalkOutcome.PAGE_FAULT,
    );
    expect(walker.result.errorCode).toBe(rsvd);
    // MAXPHYADDR 36: address bits 35:32 in PDE bits 16:13; bits 20:17 reserved.
    pde(1 << 17);
    expect(walker.walk(state(CR4_PSE, { maxPhyAddr: 36 }), 0, 0x0040_0000, 0)).toBe(
      WalkOutcome.PAGE_FAULT,
    );
    expect(walker.result.errorCode).toBe(rsvd);
    pde(1 << 16);
    expect(walker.walk(state(CR4_PSE, { maxPhyAddr: 36 }), 0, 0x0040_0000, 0)).toBe(WalkOutcome.OK);
    expect(walker.result.physical).toBe(8 * 2 ** 32 + 0x0080_0000);
    // Without PSE-36 every bit of 20:13 is reserved.
    pde(1 << 13);
    expect(walker.walk(state(CR4_PSE, { pse36: false }), 0, 0x0040_0000, 0)).toBe(
      WalkOutcome.PAGE_FAULT,
    );
    expect(walker.result.errorCode).toBe(rsvd);
    // A PDE referencing a page table has no reserved bits: bits 21:13 are address bits there.
    put32(mem, 0x1000 + 4, 0x0020_3000 | 0x3);
    put32(mem, 0x0020_3000, 0x5000 | 0x3);
    expect(walker.walk(state(CR4_PSE, { pse36: false }), 0, 0x0040_0000, 0)).toBe(WalkOutcome.OK);
  });

  it('I/D is reported with SMEP only: 32-bit paging has no XD, so NXE does not count', () => {
    const mem = memory();
    const walker = new PageWalker(mem);
    expect(walker.walk(state(0, {}, NXE), 0, 0x1000, ACCESS_FETCH)).toBe(WalkOutcome.PAGE_FAULT);
    expect(walker.result.errorCode).toBe(0);
    walker.walk(state(CR4_SMEP, {}, NXE), 0, 0x1000, ACCESS_FETCH | ACCESS_USER);
    expect(walker.result.errorCode).toBe(0b10100);
  });

  it('R/W and U/S combine across the PDE and the PTE; CR0.WP governs supervisor writes', () => {
    const mem = memory();
    put32(mem, 0x1000, 0x2000 | 0x5); // PDE: user, read-only
    put32(mem, 0x2000, 0x9000 | 0x7); // PTE: user, writable
    const walker = new PageWalker(mem);
    expect(walker.walk(state(0), 0, 0x10, ACCESS_WRITE | ACCESS_USER)).toBe(WalkOutcome.PAGE_FAULT);
    expect(walker.result.errorCode).toBe(0b111);
    expect(walker.walk(state(0), 0, 0x10, ACCESS_WRITE)).toBe(WalkOutcome.PAGE_FAULT);
    expect(walker.result.errorCode).toBe(0b011);
    const noWp = new PagingState({ cr0: 0x8000_0001, cr3: 0x1000n });
    expect(walker.walk(noWp, 0, 0x10, ACCESS_WRITE)).toBe(WalkOutcome.OK);
    expect(mem.read32(0x2000) & 0x60).toBe(0x60);
  });
});

describe('PAE paging (SDM Vol. 3A §4.4)', () => {
  const pae = (features: PagingFeatures = { maxPhyAddr: 36 }, efer = NXE) =>
    new PagingState({ features, cr0: CR0_PG_WP, cr4: CR4_PAE, efer, cr3: 0x1020n });

  function setup() {
    const mem = memory();
    // PDPT at 0x1020 (32-byte aligned, CR3 bits 31:5).
    put64(mem, 0x1020, P | 0x2000n);
    put64(mem, 0x1028, 0n);
    put64(mem, 0x1030, P | 0x3000n);
    put64(mem, 0x1038, 0n);
    put64(mem, 0x2000 + 8 * 1, P | RW | US | 0x4000n); // PDE 1 -> PT
    put64(mem, 0x4000 + 8 * 2, P | RW | US | 0x8_1234_5000n); // PTE 2 -> above 4 GiB
    put64(mem, 0x3000 + 8 * 3, P | RW | PS | 0xa_4060_0000n); // 2 MiB page
    return mem;
  }

  it('loads the PDPTE registers on MOV CR3 and walks PDE and PTE', () => {
    const mem = setup();
    const state = pae();
    expect(loadPdptes(state, mem)).toBe(WalkOutcome.OK);
    const walker = new PageWalker(mem);
    expect(walker.walk(state, 0, 0x0020_2abc, ACCESS_WRITE | ACCESS_USER)).toBe(WalkOutcome.OK);
    expect(walker.result.physical).toBe(0x8_1234_5abc);
    expect(walker.result.referenceCount).toBe(4); // PDE, PTE reads; their A/D writes
    expect(walker.walk(state, 0, 0x8060_0010, 0)).toBe(WalkOutcome.OK);
    expect(walker.result.physical).toBe(0xa_4060_0010);
    expect(walker.result.pageSize).toBe(2 ** 21);
    expect(mem.read64(0x1020) & A).toBe(0n); // PDPTEs have no accessed flag in PAE paging
  });

  it('a not-present PDPTE register gives #PF with P = 0', () => {
    const mem = setup();
    const state = pae();
    loadPdptes(state, mem);
    const walker = new PageWalker(mem);
    expect(walker.walk(state, 0, 0x4000_0000, ACCESS_WRITE)).toBe(WalkOutcome.PAGE_FAULT);
    expect(walker.result.errorCode).toBe(0b010);
    expect(walker.result.referenceCount).toBe(0);
  });

  it('walks use the PDPTE registers, not memory, until CR3 is loaded again', () => {
    const mem = setup();
    const state = pae();
    loadPdptes(state, mem);
    put64(mem, 0x1020, 0n);
    const walker = new PageWalker(mem);
    expect(walker.walk(state, 0, 0x0020_2abc, 0)).toBe(WalkOutcome.OK);
    loadPdptes(state, mem);
    expect(walker.walk(state, 0, 0x0020_2abc, 0)).toBe(WalkOutcome.PAGE_FAULT);
  });

  it('PDPTE load faults: #GP(0) for reserved bits 2:1, 8:5, 63:MAXPHYADDR of a present PDPTE', () => {
    for (const bad of [1n << 1n, 1n << 2n, 1n << 5n, 1n << 8n, 1n << 36n, 1n << 52n, 1n << 63n]) {
      const mem = setup();
      put64(mem, 0x1030, P | 0x3000n | bad);
      const state = pae();
      const before = state.pdpteLo.slice();
      expect(loadPdptes(state, mem), `bit ${bad.toString(2).length - 1}`).toBe(
        WalkOutcome.GENERAL_PROTECTION,
      );
      expect(state.pdpteLo).toEqual(before); // registers unchanged
    }
    // The same bits in a not-present PDPTE are ignored; 11:9 are ignored, 3 and 4 are PWT/PCD.
    const mem = setup();
    put64(mem, 0x1028, 0xffff_ffff_ffff_fffen);
    put64(mem, 0x1030, P | 0x3000n | (7n << 9n) | (3n << 3n));
    expect(loadPdptes(pae(), mem)).toBe(WalkOutcome.OK);
    // MAXPHYADDR 52: bit 36 is an address bit.
    put64(mem, 0x1030, P | 0x3000n | (1n << 36n));
    expect(loadPdptes(pae({ maxPhyAddr: 52 }), mem)).toBe(WalkOutcome.OK);
  });

  it('legacy-PAE reserved bits 62:52 (and 51:MAXPHYADDR) in PDEs and PTEs', () => {
    for (const bit of [52n, 57n, 62n, 36n, 51n]) {
      const mem = setup();
      put64(mem, 0x4000 + 8 * 2, P | RW | US | 0x5000n | (1n << bit));
      const state = pae();
      loadPdptes(state, mem);
      const walker = new PageWalker(mem);
      expect(walker.walk(state, 0, 0x0020_2000, ACCESS_USER), `bit ${bit}`).toBe(
        WalkOutcome.PAGE_FAULT,
      );
      expect(walker.result.errorCode).toBe(0b1101);
      expect(mem.read64(0x2000 + 8) & A).toBe(0n); // no A on a faulting walk
    }
  });

  it('2 MiB PDE bits 20:13 are reserved', () => {
    const mem = setup();
    put64(mem, 0x3000 + 8 * 3, P | RW | PS | 0xa_4060_0000n | (1n << 13n));
    const state = pae();
    loadPdptes(state, mem);
    const walker = new PageWalker(mem);
    expect(walker.walk(state, 0, 0x8060_0010, ACCESS_FETCH)).toBe(WalkOutcome.PAGE_FAULT);
    expect(walker.result.errorCode).toBe(0b11001);
  });

  it('XD: reserved with NXE = 0, execute-disable with NXE = 1 (I/D reported)', () => {
    const mem = setup();
    put64(mem, 0x4000 + 8 * 2, P | RW | US | 0x5000n | XD);
    const walker = new PageWalker(mem);
    const off = pae({ maxPhyAddr: 36 }, 0);
    loadPdptes(off, mem);
    walker.walk(off, 0, 0x0020_2000, ACCESS_FETCH | ACCESS_USER);
    expect(walker.result.errorCode).toBe(0b01101); // RSVD; no I/D without NXE or SMEP
    const on = pae();
    loadPdptes(on, mem);
    walker.walk(on, 0, 0x0020_2000, ACCESS_FETCH | ACCESS_USER);
    expect(walker.result.errorCode).toBe(0b10101);
    expect(walker.walk(on, 0, 0x0020_2000, ACCESS_WRITE | ACCESS_USER)).toBe(WalkOutcome.OK);
    expect(mem.read64(0x4000 + 8 * 2) & (A | D)).toBe(A | D);
  });
});
