// TLB and paging-structure-cache semantics of SDM Vol. 3A §4.10: stale entries stay in use
// until invalidated, and each invalidating operation removes exactly what §4.10.4.1 says.
import { describe, expect, it } from 'vitest';
import {
  ACCESS_USER,
  ACCESS_WRITE,
  Mmu,
  type MmuOptions,
  PagingError,
  TranslationCache,
  WalkOutcome,
} from '../src/index.js';
import { A, D, G, map, memory, P, put64, RW, US } from './support/tables.js';

const CR0_PG = 0x8001_0001;
const CR4_PAE = 1 << 5;
const CR4_PGE = 1 << 7;
const CR4_PCIDE = 1 << 17;
const CR4_SMEP = 1 << 20;
const CR4_SMAP = 1 << 21;
const LONG = 0xd00;
const FRAME_A = 0x7_0000n;
const FRAME_B = 0x8_0000n;
const PS_2M = 0x80n;

function setup(cr4 = 0, options: MmuOptions = {}) {
  const mem = memory();
  const mmu = new Mmu(mem, {
    features: { maxPhyAddr: 46 },
    registers: { cr0: CR0_PG, cr4: CR4_PAE | cr4, efer: LONG },
    ...options,
  });
  mmu.movToCr3(0x10_0000n);
  return { mem, mmu };
}

const physicalOf = (mmu: Mmu, linear: bigint, access = 0) => {
  const r = mmu.translateLinear(linear, access);
  return r.outcome === WalkOutcome.OK ? r.physical : -r.outcome;
};

describe('TLB', () => {
  it('serves repeated translations without memory references and counts hits and misses', () => {
    const { mem, mmu } = setup();
    map(mem, { levels: 4, root: 0x10_0000, linear: 0x40_1000n, frame: FRAME_A });
    expect(physicalOf(mmu, 0x40_1234n)).toBe(0x7_0234);
    expect(mmu.result.referenceCount).toBe(8);
    expect(physicalOf(mmu, 0x40_1ff8n)).toBe(0x7_0ff8);
    expect(mmu.result.referenceCount).toBe(0);
    expect(mmu.stats.hits).toBe(1);
    expect(mmu.stats.misses).toBe(1);
    expect(mmu.stats.walks).toBe(1);
    expect(Array.from(mmu.stats.reads)).toEqual([0, 1, 1, 1, 1, 0]);
    expect(Array.from(mmu.stats.writes)).toEqual([0, 1, 1, 1, 1, 0]);
    expect(mmu.stats.referencesPerWalk()).toBe(8);
  });

  it('uses a stale entry after the PTE changes, until INVLPG', () => {
    const { mem, mmu } = setup();
    const at = map(mem, { levels: 4, root: 0x10_0000, linear: 0x40_1000n, frame: FRAME_A });
    expect(physicalOf(mmu, 0x40_1000n)).toBe(0x7_0000);
    put64(mem, at[1]!, P | RW | US | FRAME_B);
    expect(physicalOf(mmu, 0x40_1000n)).toBe(0x7_0000); // stale
    put64(mem, at[1]!, 0n);
    expect(physicalOf(mmu, 0x40_1000n)).toBe(0x7_0000); // still stale: not present in memory
    mmu.invlpg(0, 0x40_1000);
    expect(physicalOf(mmu, 0x40_1000n)).toBe(-WalkOutcome.PAGE_FAULT);
    put64(mem, at[1]!, P | RW | US | FRAME_B);
    expect(physicalOf(mmu, 0x40_1000n)).toBe(0x8_0000); // the fault invalidated the page
  });

  it('a write through an entry cached with D = 0 walks to set D', () => {
    const { mem, mmu } = setup();
    const at = map(mem, { levels: 4, root: 0x10_0000, linear: 0x40_1000n, frame: FRAME_A });
    physicalOf(mmu, 0x40_1000n);
    expect(mem.read64(at[1]!) & D).toBe(0n);
    physicalOf(mmu, 0x40_1000n, ACCESS_WRITE);
    expect(mmu.stats.walks).toBe(2);
    expect(mem.read64(at[1]!) & D).toBe(D);
    physicalOf(mmu, 0x40_1000n, ACCESS_WRITE);
    expect(mmu.stats.walks).toBe(2);
  });

  it('checks rights at use: CR0.WP, SMAP and EFLAGS.AC changes need no invalidation', () => {
    const { mem, mmu } = setup(CR4_SMAP);
    map(mem, {
      levels: 4,
      root: 0x10_0000,
      linear: 0x40_1000n,
      frame: FRAME_A,
      leaf: P | US | A | D,
    });
    expect(physicalOf(mmu, 0x40_1000n, ACCESS_USER)).toBe(0x7_0000);
    expect(physicalOf(mmu, 0x40_1000n)).toBe(-WalkOutcome.PAGE_FAULT); // SMAP, AC = 0
    physicalOf(mmu, 0x40_1000n, ACCESS_USER);
    mmu.setRflags(1 << 18);
    expect(physicalOf(mmu, 0x40_1000n)).toBe(0x7_0000);
    // One hit: the SMAP fault had invalidated the entry, so the user read refilled it.
    expect(mmu.stats.hits).toBe(1);
    expect(physicalOf(mmu, 0x40_1000n, ACCESS_WRITE)).toBe(-WalkOutcome.PAGE_FAULT); // WP
    mmu.movToCr0(CR0_PG & ~(1 << 16));
    expect(physicalOf(mmu, 0x40_1000n, ACCESS_WRITE)).toBe(0x7_0000);
  });

  it('a spurious fault from a stale, less permissive entry invalidates it (§4.10.4.3)', () => {
    const { mem, mmu } = setup();
    const at = map(mem, {
      levels: 4,
      root: 0x10_0000,
      linear: 0x40_1000n,
      frame: FRAME_A,
      leaf: P | US | A | D,
    });
    physicalOf(mmu, 0x40_1000n, ACCESS_USER);
    put64(mem, at[1]!, P | RW | US | A | D | FRAME_A);
    expect(physicalOf(mmu, 0x40_1000n, ACCESS_WRITE | ACCESS_USER)).toBe(-WalkOutcome.PAGE_FAULT);
    expect(mmu.result.errorCode).toBe(0b111);
    expect(mmu.result.referenceCount).toBe(0); // decided from the TLB alone
    expect(physicalOf(mmu, 0x40_1000n, ACCESS_WRITE | ACCESS_USER)).toBe(0x7_0000);
  });

  it('MOV CR3 keeps global entries (CR4.PGE), MOV CR4 changing PGE drops them', () => {
    const { mem, mmu } = setup(CR4_PGE);
    const g = map(mem, {
      levels: 4,
      root: 0x10_0000,
      linear: 0x40_1000n,
      frame: FRAME_A,
      leaf: P | RW | G,
    });
    const n = map(mem, { levels: 4, root: 0x10_0000, linear: 0x40_2000n, frame: FRAME_A });
    physicalOf(mmu, 0x40_1000n);
    physicalOf(mmu, 0x40_2000n);
    put64(mem, g[1]!, P | RW | G | FRAME_B);
    put64(mem, n[1]!, P | RW | FRAME_B);
    mmu.movToCr3(0x10_0000n);
    expect(physicalOf(mmu, 0x40_1000n)).toBe(0x7_0000); // global: survives
    expect(physicalOf(mmu, 0x40_2000n)).toBe(0x8_0000); // flushed
    mmu.invlpg(0, 0x40_1000); // INVLPG removes global entries too
    expect(physicalOf(mmu, 0x40_1000n)).toBe(0x8_0000);
    put64(mem, g[1]!, P | RW | G | FRAME_A);
    mmu.movToCr4(CR4_PAE); // PGE 1 -> 0: everything goes
    expect(physicalOf(mmu, 0x40_1000n)).toBe(0x7_0000);
  });

  it('tags entries with the PCID; bit 63 of MOV CR3 keeps them; PCIDE 1 -> 0 drops all', () => {
    const { mem, mmu } = setup(CR4_PCIDE);
    const at = map(mem, { levels: 4, root: 0x10_0000, linear: 0x40_1000n, frame: FRAME_A });
    mmu.movToCr3(0x10_0001n); // PCID 1
    expect(physicalOf(mmu, 0x40_1000n)).toBe(0x7_0000);
    put64(mem, at[1]!, P | RW | US | FRAME_B);
    mmu.movToCr3((1n << 63n) | 0x10_0002n); // PCID 2, no flush
    expect(physicalOf(mmu, 0x40_1000n)).toBe(0x8_0000); // PCID 2 has no entry
    put64(mem, at[1]!, P | RW | US | FRAME_A);
    mmu.movToCr3((1n << 63n) | 0x10_0001n); // back to PCID 1 without flushing it
    expect(physicalOf(mmu, 0x40_1000n)).toBe(0x7_0000);
    put64(mem, at[1]!, P | RW | US | FRAME_B);
    expect(physicalOf(mmu, 0x40_1000n)).toBe(0x7_0000); // stale in PCID 1
    mmu.movToCr3((1n << 63n) | 0x10_0002n);
    expect(physicalOf(mmu, 0x40_1000n)).toBe(0x8_0000); // PCID 2's own entry
    mmu.movToCr3(0x10_0001n); // PCID 1 with flush
    expect(physicalOf(mmu, 0x40_1000n)).toBe(0x8_0000);
    expect(mmu.tlb.occupancy()).toBe(2);
    mmu.movToCr4(CR4_PAE); // PCIDE 1 -> 0
    expect(mmu.tlb.occupancy()).toBe(0);
    expect(mmu.psc.occupancy()).toBe(0);
  });

  it('MOV CR4 setting SMEP or changing PAE flushes the current PCID; MOV CR0 clearing PG flushes all', () => {
    const { mem, mmu } = setup(CR4_PGE);
    map(mem, { levels: 4, root: 0x10_0000, linear: 0x40_1000n, frame: FRAME_A, leaf: P | G });
    physicalOf(mmu, 0x40_1000n);
    mmu.movToCr4(CR4_PAE | CR4_PGE | CR4_SMEP);
    expect(mmu.tlb.occupancy()).toBe(0); // global entries of the current PCID go too
    physicalOf(mmu, 0x40_1000n);
    mmu.movToCr4(CR4_PAE | CR4_PGE); // clearing SMEP: no invalidation
    expect(mmu.tlb.occupancy()).toBe(1);
    mmu.movToCr0(0x1);
    expect(mmu.tlb.occupancy() + mmu.psc.occupancy()).toBe(0);
  });

  it('INVPCID types 0..3 and its #GP(0) cases', () => {
    const { mem, mmu } = setup(CR4_PCIDE | CR4_PGE);
    map(mem, { levels: 4, root: 0x10_0000, linear: 0x40_1000n, frame: FRAME_A });
    map(mem, { levels: 4, root: 0x10_0000, linear: 0x40_2000n, frame: FRAME_A, leaf: P | G });
    const fill = () => {
      for (const pcid of [1n, 2n]) {
        mmu.movToCr3((1n << 63n) | 0x10_0000n | pcid);
        physicalOf(mmu, 0x40_1000n);
        physicalOf(mmu, 0x40_2000n);
      }
    };
    fill();
    const small = mmu.tlb.small;
    const live = () => {
      const out: string[] = [];
      for (let i = 0; i < small.capacity; i++) {
        if (small.tag[i] !== -1)
          out.push(`${small.tag[i]!.toString(16)}/${small.global[i] ? 'g' : small.pcid[i]}`);
      }
      return out.sort();
    };
    // PCID 2 holds a global entry for 0x402 (filled under PCID 1, matched for 2) and 0x401.
    expect(live()).toEqual(['401/1', '401/2', '402/g']);
    expect(mmu.invpcid(0, 1, 0, 0x40_1000)).toBe(WalkOutcome.OK);
    expect(live()).toEqual(['401/2', '402/g']);
    expect(mmu.invpcid(0, 1, 0, 0x40_2000)).toBe(WalkOutcome.OK); // never global
    expect(live()).toEqual(['401/2', '402/g']);
    expect(mmu.invpcid(1, 2)).toBe(WalkOutcome.OK);
    expect(live()).toEqual(['402/g']);
    fill();
    expect(mmu.invpcid(3, 0)).toBe(WalkOutcome.OK);
    expect(live()).toEqual(['402/g']);
    expect(mmu.psc.occupancy()).toBe(0);
    expect(mmu.invpcid(2, 0)).toBe(WalkOutcome.OK);
    expect(live()).toEqual([]);
    expect(mmu.invpcid(4, 0)).toBe(WalkOutcome.GENERAL_PROTECTION);
    expect(mmu.invpcid(0, 0x1000)).toBe(WalkOutcome.GENERAL_PROTECTION);
    expect(mmu.invpcid(0, 1, 0x8000, 0)).toBe(WalkOutcome.GENERAL_PROTECTION);
    mmu.movToCr4(CR4_PAE);
    expect(mmu.invpcid(1, 1)).toBe(WalkOutcome.GENERAL_PROTECTION); // PCIDE = 0, PCID != 0
    expect(mmu.invpcid(1, 0)).toBe(WalkOutcome.OK);
  });

  it('large and huge pages live in their own TLBs', () => {
    const { mem, mmu } = setup();
    map(mem, { levels: 4, root: 0x10_0000, linear: 0x4060_0000n, frame: 0x20_0000n, leafLevel: 2 });
    map(mem, {
      levels: 4,
      root: 0x10_0000,
      linear: 0x80_0000_0000n,
      frame: 0x4000_0000n,
      leafLevel: 3,
    });
    physicalOf(mmu, 0x4060_0000n);
    physicalOf(mmu, 0x80_0000_0000n);
    expect(physicalOf(mmu, 0x407f_fff0n)).toBe(0x3f_fff0);
    expect(physicalOf(mmu, 0x80_3fff_fff0n)).toBe(0x7fff_fff0);
    expect([
      mmu.tlb.small.occupancy(),
      mmu.tlb.large.occupancy(),
      mmu.tlb.huge.occupancy(),
    ]).toEqual([0, 1, 1]);
    expect(mmu.stats.hits).toBe(2);
  });
});

describe('paging-structure caches', () => {
  it('a miss continues from the deepest cached entry, and stale PSC entries are used', () => {
    const { mem, mmu } = setup();
    const at = map(mem, { levels: 4, root: 0x10_0000, linear: 0x40_1000n, frame: FRAME_A });
    map(mem, { levels: 4, root: 0x10_0000, linear: 0x40_2000n, frame: FRAME_B });
    physicalOf(mmu, 0x40_1000n);
    expect(mmu.psc.occupancy()).toBe(3); // PML4E, PDPTE, PDE
    expect(physicalOf(mmu, 0x40_2000n)).toBe(0x8_0000);
    expect(mmu.stats.pscHits[2]).toBe(1);
    expect(mmu.result.referenceCount).toBe(2); // PTE read + its A update
    // Point the PDE at another page table: the PDE cache still holds the old one.
    put64(mem, 0x9_0000 + 3 * 8, P | RW | US | 0xa_0000n);
    put64(mem, at[2]!, P | RW | US | A | 0x9_0000n);
    expect(physicalOf(mmu, 0x40_3000n)).toBe(-WalkOutcome.PAGE_FAULT); // old table: empty slot
    // The fault invalidated the PSC entries for that address; the walk now sees the new PDE.
    expect(physicalOf(mmu, 0x40_3000n)).toBe(0xa_0000);
  });

  it('MOV CR3 drops PSC entries of the PCID; disabled caches are skipped', () => {
    const { mem, mmu } = setup(0, { psc: { pde: { sets: 1, ways: 0 } } });
    map(mem, { levels: 4, root: 0x10_0000, linear: 0x40_1000n, frame: FRAME_A });
    map(mem, { levels: 4, root: 0x10_0000, linear: 0x40_2000n, frame: FRAME_B });
    physicalOf(mmu, 0x40_1000n);
    expect(mmu.psc.occupancy()).toBe(2);
    physicalOf(mmu, 0x40_2000n);
    expect(mmu.stats.pscHits[3]).toBe(1);
    mmu.movToCr3(0x10_0000n);
    expect(mmu.psc.occupancy()).toBe(0);
  });

  it('5-level paging fills the PML5 cache', () => {
    const mem = memory();
    const mmu = new Mmu(mem, { registers: { cr0: CR0_PG, cr4: CR4_PAE | (1 << 12), efer: LONG } });
    mmu.movToCr3(0x10_0000n);
    map(mem, { levels: 5, root: 0x10_0000, linear: 0x1_0000_0040_1000n, frame: FRAME_A });
    map(mem, { levels: 5, root: 0x10_0000, linear: 0x1_0080_0000_0000n, frame: FRAME_B });
    expect(physicalOf(mmu, 0x1_0000_0040_1000n)).toBe(0x7_0000);
    expect(mmu.psc.pml5e.occupancy()).toBe(1);
    expect(physicalOf(mmu, 0x1_0080_0000_0000n)).toBe(0x8_0000);
    expect(mmu.stats.pscHits[5]).toBe(1);
  });
});

describe('PAE and 32-bit through the MMU', () => {
  it('MOV CR3 with a bad PDPTE is #GP(0) and changes nothing', () => {
    const mem = memory();
    const mmu = new Mmu(mem, {
      features: { maxPhyAddr: 36 },
      registers: { cr0: CR0_PG, cr4: CR4_PAE },
    });
    put64(mem, 0x1000, P | 0x2000n);
    put64(mem, 0x2000, P | RW | 0x3000n);
    put64(mem, 0x3000, P | RW | 0x5000n);
    expect(mmu.movToCr3(0x1000n)).toBe(WalkOutcome.OK);
    expect(physicalOf(mmu, 0x10n)).toBe(0x5010);
    put64(mem, 0x4000, P | (1n << 40n));
    expect(mmu.movToCr3(0x4000n)).toBe(WalkOutcome.GENERAL_PROTECTION);
    expect(mmu.state.cr3).toBe(0x1000n);
    expect(mmu.stats.hits).toBe(0);
    expect(physicalOf(mmu, 0x10n)).toBe(0x5010);
    expect(mmu.stats.hits).toBe(1);
  });

  it('32-bit paging: 4 MiB pages in the large TLB', () => {
    const mem = memory();
    const mmu = new Mmu(mem, { registers: { cr0: CR0_PG, cr4: 1 << 4 } });
    mmu.movToCr3(0x1000n);
    mem.write32(0x1000 + 4 * 3, 0x0c00_0000 | 0x83);
    expect(physicalOf(mmu, 0x00c1_2345n)).toBe(0x0c01_2345);
    expect(physicalOf(mmu, 0x00ff_fff0n)).toBe(0x0c3f_fff0);
    expect(mmu.tlb.large.occupancy()).toBe(1);
    expect(mmu.stats.hits).toBe(1);
  });
});

describe('TranslationCache', () => {
  const fillAll = (c: TranslationCache, tags: number[]) => tags.map((t) => c.fill(t * 4, 0, false));
  it('LRU evicts the least recently used way', () => {
    const c = new TranslationCache({ sets: 4, ways: 2 }, 'lru');
    fillAll(c, [1, 2]);
    c.lookup(4, 0);
    c.fill(12, 0, false);
    expect(c.lookup(4, 0)).toBeGreaterThanOrEqual(0);
    expect(c.lookup(8, 0)).toBe(-1);
  });
  it('FIFO evicts in fill order regardless of use', () => {
    const c = new TranslationCache({ sets: 4, ways: 2 }, 'fifo');
    fillAll(c, [1, 2]);
    c.lookup(4, 0);
    c.fill(12, 0, false);
    expect(c.lookup(4, 0)).toBe(-1);
    expect(c.lookup(8, 0)).toBeGreaterThanOrEqual(0);
  });
  it('random replacement is deterministic and stays in the set', () => {
    const a = new TranslationCache({ sets: 4, ways: 4 }, 'random');
    const b = new TranslationCache({ sets: 4, ways: 4 }, 'random');
    const tags = Array.from({ length: 40 }, (_, i) => i);
    const slotsA = tags.map((t) => a.fill(t, 0, false));
    expect(slotsA).toEqual(tags.map((t) => b.fill(t, 0, false)));
    for (const [i, slot] of slotsA.entries()) expect(Math.floor(slot / 4)).toBe(i % 4);
    expect(a.occupancy()).toBe(16);
  });
  it('rejects bad geometry', () => {
    expect(() => new TranslationCache({ sets: 3, ways: 2 }, 'lru')).toThrow(PagingError);
    expect(() => new TranslationCache({ sets: 4, ways: 65 }, 'lru')).toThrow(PagingError);
    expect(() => new TranslationCache({ sets: 4, ways: 2 }, 'mru' as 'lru')).toThrow(PagingError);
  });
});

describe('MMU with a second stage and PAE register loads', () => {
  it('a TLB hit still sends the final address through the second stage', () => {
    const mem = memory();
    const calls: number[] = [];
    const mmu = new Mmu(mem, {
      registers: { cr0: CR0_PG, cr4: CR4_PAE, efer: LONG },
      secondStage: {
        translate: (gpa) => {
          calls.push(gpa);
          return gpa;
        },
      },
    });
    mmu.movToCr3(0x10_0000n);
    map(mem, { levels: 4, root: 0x10_0000, linear: 0x40_1000n, frame: FRAME_A });
    expect(physicalOf(mmu, 0x40_1234n)).toBe(0x7_0234);
    const afterWalk = calls.length;
    expect(physicalOf(mmu, 0x40_1238n)).toBe(0x7_0238);
    expect(calls.slice(afterWalk)).toEqual([0x7_0238]);
    expect(mmu.stats.hits).toBe(1);
  });

  it('MOV to CR4 (PGE) and MOV to CR0 (PG) reload the PDPTE registers in PAE mode', () => {
    const mem = memory();
    const mmu = new Mmu(mem, { features: { maxPhyAddr: 36 }, registers: { cr4: CR4_PAE } });
    put64(mem, 0x1000, P | 0x2000n);
    put64(mem, 0x2000, P | RW | 0x3000n);
    put64(mem, 0x3000, P | RW | 0x5000n);
    mmu.movToCr3(0x1000n);
    expect(mmu.movToCr0(CR0_PG)).toBe(WalkOutcome.OK); // enabling paging loads the PDPTEs
    expect(physicalOf(mmu, 0x10n)).toBe(0x5010);
    put64(mem, 0x1000, P | 0x4000n);
    put64(mem, 0x4000, P | RW | PS_2M);
    expect(mmu.movToCr4(CR4_PAE | CR4_PGE)).toBe(WalkOutcome.OK);
    expect(physicalOf(mmu, 0x10n)).toBe(0x10); // the new PDPTE -> a 2 MiB page at 0
    put64(mem, 0x1000, P | (1n << 40n));
    expect(mmu.movToCr4(CR4_PAE)).toBe(WalkOutcome.GENERAL_PROTECTION);
    expect(mmu.state.cr4).toBe(CR4_PAE | CR4_PGE); // unchanged on #GP(0)
  });
});

it('int32 and uint32 halves name the same page', () => {
  const { mem, mmu } = setup();
  const at = map(mem, {
    levels: 4,
    root: 0x10_0000,
    linear: 0xffff_8000_8000_1000n,
    frame: FRAME_A,
  });
  expect(mmu.translate(0xffff_8000 | 0, 0x8000_1000 | 0, 0)).toBe(WalkOutcome.OK);
  expect(mmu.translate(0xffff_8000, 0x8000_1000, 0)).toBe(WalkOutcome.OK);
  expect(mmu.stats.hits).toBe(1);
  put64(mem, at[1]!, P | RW | US | FRAME_B);
  mmu.invlpg(0xffff_8000 | 0, 0x8000_1000 | 0);
  expect(mmu.translate(0xffff_8000, 0x8000_1000, 0)).toBe(WalkOutcome.OK);
  expect(mmu.result.physical).toBe(0x8_0000);
});
