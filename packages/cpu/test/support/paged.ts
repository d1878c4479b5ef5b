// The system of system.ts behind 4-level paging: page tables built in guest memory from the
// SDM's entry formats (Vol. 3A §4.5, Tables 4-15 to 4-20), an Mmu from @vmkit/paging and the
// CPU's MmuMemory. The first MiB is mapped 4 KiB page by page, identity, supervisor and
// writable, except the user code and user stack pages, which are user pages.
import type { GuestPhysicalMemory } from '@vmkit/memory';
import { Mmu } from '@vmkit/paging';
import { PTE } from '@vmkit/x86';
import type { Cpu } from '../../src/index.js';
import { MmuMemory } from '../../src/index.js';
import { type System, system, USER_CODE, USER_STACK } from './system.js';

export const PML4 = 0x90000;
export const PDPT = 0x91000;
export const PD = 0x92000;
export const PT = 0x93000;

/** Address of the PTE mapping linear `la` (< 2 MiB) in the table at `pt`. */
export function pteOf(la: number, pt = PT): number {
  return pt + 8 * (la >>> 12);
}

/** Writes a 4-level chain PML4 -> PDPT -> PD -> PT at the given tables, mapping [0, 1 MiB). */
export function buildTables(
  mem: GuestPhysicalMemory,
  pml4 = PML4,
  pdpt = PDPT,
  pd = PD,
  pt = PT,
): void {
  const up = PTE.P | PTE.RW | PTE.US;
  mem.write32(pml4, pdpt | up);
  mem.write32(pdpt, pd | up);
  mem.write32(pd, pt | up);
  for (let page = 0; page < 256; page++) {
    const la = page * 4096;
    const user = la === USER_CODE || la === USER_STACK - 4096;
    mem.write32(pteOf(la, pt), la | PTE.P | PTE.RW | (user ? PTE.US : 0));
    mem.write32(pteOf(la, pt) + 4, 0);
  }
}

export interface PagedSystem extends System {
  mmu: Mmu;
}

/** A system whose CPU translates through 4-level paging with CR3 = PML4. */
export function paged(code: number[], cpl: 0 | 3 = 0, efer?: number): PagedSystem {
  let mmu: Mmu | undefined;
  let cpuRef: Cpu | undefined;
  const s = system(code, cpl, {}, (mem) => {
    buildTables(mem);
    mmu = new Mmu(mem, { features: { maxPhyAddr: 36 } });
    return new MmuMemory(mmu, mem, { rflags: () => cpuRef!.flags });
  });
  cpuRef = s.cpu;
  s.cpu.cr3 = BigInt(PML4);
  if (efer !== undefined) s.cpu.efer = efer;
  s.cpu.syncPaging();
  return { ...s, mmu: mmu! };
}
