// The CPU-seam methods of NestedMmu (the names @vmkit/cpu's Translator uses): register writes
// that change translation flush the combined mappings, INVPCID drops what SDM Vol. 2A INVPCID
// says for each type, and secondStageExit is the Ept's exit record.
import { WalkOutcome } from '@vmkit/paging';
import { CR0, CR4, EFER, RFLAGS } from '@vmkit/x86';
import { describe, expect, it } from 'vitest';
import { EptBuilder, NestedMmu } from '../src/index.js';
import { EPT_TABLES, GUEST_SIZE, HOST_OFFSET, hostMemory, mapGuest } from './support/setup.js';

const LINEAR = 0x7f00_0000_0000n;
const hi = Number(LINEAR >> 32n);
const lo = (i: number) => Number(LINEAR & 0xffff_ffffn) + i * 0x1000;
const CR4_BASE = CR4.PAE | CR4.PGE;

function setup(globalPage = -1) {
  const host = hostMemory();
  const b = new EptBuilder(host, { tableBase: EPT_TABLES, tableLimit: EPT_TABLES + 0x10_0000 });
  b.map(0, HOST_OFFSET, GUEST_SIZE);
  const tables = [0x2000, 0x3000, 0x4000, 0x5000];
  for (let i = 0; i < 4; i++) {
    mapGuest(host, {
      levels: 4,
      root: 0x1000,
      linear: LINEAR + BigInt(i) * 0x1000n,
      frame: 0x10_0000 + i * 0x1000,
      tables,
      flags: i === globalPage ? 0x167n : 0x67n, // P, R/W, U/S, A, D (+ G)
    });
  }
  const guest = {
    cr0: CR0.PG | CR0.PE,
    cr4: CR4_BASE,
    efer: EFER.LME | EFER.LMA | EFER.NXE,
    cr3: 0x1000n,
  };
  return new NestedMmu(host, { eptp: b.eptp(), vpid: 1, guest });
}

// Whether page i is served from the combined TLB (a hit adds no memory reference).
function cached(mmu: NestedMmu, i: number): boolean {
  const before = mmu.stats.references;
  expect(mmu.translate(hi, lo(i), 0)).toBe(WalkOutcome.OK);
  return mmu.stats.references === before;
}

function warm(mmu: NestedMmu): void {
  for (let i = 0; i < 4; i++) mmu.translate(hi, lo(i), 0);
}

describe('NestedMmu as a CPU translator', () => {
  it('movToCr4/movToCr0/writeEfer flush on a change that alters translation, not otherwise', () => {
    const mmu = setup();
    warm(mmu);
    expect(mmu.movToCr4(CR4_BASE)).toBe(WalkOutcome.OK);
    expect(cached(mmu, 0)).toBe(true);
    expect(mmu.movToCr4(CR4_BASE | CR4.SMEP)).toBe(WalkOutcome.OK);
    expect(mmu.state.cr4).toBe(CR4_BASE | CR4.SMEP);
    expect(cached(mmu, 1)).toBe(false);
    warm(mmu);
    expect(mmu.movToCr0(CR0.PG | CR0.PE | CR0.WP)).toBe(WalkOutcome.OK);
    expect(cached(mmu, 1)).toBe(false);
    warm(mmu);
    mmu.writeEfer(EFER.LME | EFER.LMA);
    expect(mmu.state.efer & EFER.NXE).toBe(0);
    expect(cached(mmu, 2)).toBe(false);
  });

  it('setRflags records RFLAGS without flushing', () => {
    const mmu = setup();
    warm(mmu);
    mmu.setRflags(RFLAGS.FIXED1 | RFLAGS.AC);
    expect(mmu.state.rflags & RFLAGS.AC).toBe(RFLAGS.AC);
    expect(cached(mmu, 3)).toBe(true);
  });

  it('INVPCID type 0 drops one page, type 1 the PCID, type 3 all but globals, type 2 all', () => {
    const mmu = setup(3);
    warm(mmu);
    expect(mmu.invpcid(0, 0, hi, lo(1))).toBe(WalkOutcome.OK);
    expect(cached(mmu, 0)).toBe(true);
    expect(cached(mmu, 1)).toBe(false);
    warm(mmu);
    expect(mmu.invpcid(1, 0)).toBe(WalkOutcome.OK);
    expect(cached(mmu, 0)).toBe(false);
    expect(cached(mmu, 3)).toBe(true); // global
    warm(mmu);
    expect(mmu.invpcid(3, 0)).toBe(WalkOutcome.OK);
    expect(cached(mmu, 2)).toBe(false);
    expect(cached(mmu, 3)).toBe(true);
    warm(mmu);
    expect(mmu.invpcid(2, 0)).toBe(WalkOutcome.OK);
    expect(cached(mmu, 3)).toBe(false);
  });

  it('INVPCID refuses a type above 3 or a PCID above 0xfff', () => {
    const mmu = setup();
    expect(mmu.invpcid(4, 0)).toBe(WalkOutcome.GENERAL_PROTECTION);
    expect(mmu.invpcid(1, 0x1000)).toBe(WalkOutcome.GENERAL_PROTECTION);
  });

  it('secondStageExit is the EPT exit record, filled by a refused access', () => {
    const mmu = setup();
    expect(mmu.secondStageExit).toBe(mmu.ept.exit);
    // An EPT that maps nothing refuses the guest's first paging-structure read (its PML4E).
    const host = hostMemory();
    const empty = new EptBuilder(host, { tableBase: EPT_TABLES, tableLimit: EPT_TABLES + 0x1000 });
    const far = new NestedMmu(host, {
      eptp: empty.eptp(),
      vpid: 1,
      guest: { cr0: CR0.PG | CR0.PE, cr4: CR4_BASE, efer: EFER.LME | EFER.LMA, cr3: 0x1000n },
    });
    expect(far.translate(hi, lo(0), 0)).toBe(WalkOutcome.SECOND_STAGE_FAULT);
    expect(far.secondStageExit.outcome).toBe(1);
    expect(far.secondStageExit.guestPhysical).toBe(0x1000 + Number((LINEAR >> 39n) & 0x1ffn) * 8);
  });
});
