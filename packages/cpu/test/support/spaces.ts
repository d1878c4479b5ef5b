// Address spaces for the physical-code-cache tests: 4-level page tables written into guest
// memory from the SDM's entry formats (Vol. 3A §4.5, Tables 4-15 to 4-20), one 4 KiB PTE per
// mapped page, with tables allocated from a bump pointer. Several spaces over one memory map
// the same linear address to different frames, or one frame at several linear addresses.
import { GuestPhysicalMemory } from '@vmkit/memory';
import { Mmu } from '@vmkit/paging';
import { EFER, PTE, PTE_HI } from '@vmkit/x86';
import { CodeCache, Cpu, type CpuOptions, MmuMemory } from '../../src/index.js';

/** Flags of a mapping: writable, user, execute-disable. */
export interface MapFlags {
  readonly write?: boolean;
  readonly user?: boolean;
  readonly nx?: boolean;
}

/** Guest memory with a table allocator, and address spaces built in it. */
export class Spaces {
  readonly mem: GuestPhysicalMemory;
  private next: number;

  /**
   * @param size - RAM bytes from 0
   * @param tables - where page tables are allocated from (upwards)
   */
  constructor(size = 4 << 20, tables = 0x30_0000) {
    this.mem = new GuestPhysicalMemory({ ram: [{ base: 0, size }] });
    this.next = tables;
  }

  private table(): number {
    const at = this.next;
    this.next += 0x1000;
    return at;
  }

  /** A new, empty address space: the physical address of its PML4 (a CR3 value). */
  space(): number {
    return this.table();
  }

  /** The physical address of the PTE mapping `linear` in `pml4`, creating tables on the way. */
  pte(pml4: number, linear: number): number {
    let table = pml4;
    for (const shift of [39, 30, 21]) {
      const at = table + 8 * (Math.floor(linear / 2 ** shift) % 512);
      let entry = this.mem.read32(at);
      if ((entry & PTE.P) === 0) {
        entry = this.table() | PTE.P | PTE.RW | PTE.US;
        this.mem.write32(at, entry);
        this.mem.write32(at + 4, 0);
      }
      table = entry & ~0xfff;
    }
    return table + 8 * (Math.floor(linear / 4096) % 512);
  }

  /** Maps the 4 KiB page of `linear` to `frame` in `pml4`. */
  map(pml4: number, linear: number, frame: number, flags: MapFlags = {}): void {
    const at = this.pte(pml4, linear);
    this.mem.write32(at, pteLow(frame, flags));
    this.mem.write32(at + 4, flags.nx === true ? PTE_HI.XD : 0);
  }

  /** Identity-maps `[from, to)` page by page in `pml4`. */
  identity(pml4: number, from: number, to: number, flags: MapFlags = {}): void {
    for (let page = from; page < to; page += 0x1000) this.map(pml4, page, page, flags);
  }

  /** A CPU over these spaces with CR3 = `pml4` and EFER.NXE set (its own MmuMemory and Mmu). */
  cpu(pml4: number, options: Partial<CpuOptions> = {}): Cpu {
    const mmu = new Mmu(this.mem, { features: { maxPhyAddr: 36 } });
    let cpu: Cpu | undefined;
    const memory = new MmuMemory(mmu, this.mem, { rflags: () => cpu!.flags });
    cpu = new Cpu({ ...options, memory });
    cpu.cr3 = BigInt(pml4);
    cpu.efer |= EFER.NXE;
    cpu.syncPaging();
    cpu.setReg('rsp', 0x8_0000n);
    return cpu;
  }
}

/** The low half of a PTE mapping `frame` (P set). */
export function pteLow(frame: number, flags: MapFlags = {}): number {
  return (
    (frame | PTE.P | (flags.write === false ? 0 : PTE.RW) | (flags.user === true ? PTE.US : 0)) >>>
    0
  );
}

/** A code cache to share between CPUs (the default size). */
export function sharedCache(): CodeCache {
  return new CodeCache(16384);
}
