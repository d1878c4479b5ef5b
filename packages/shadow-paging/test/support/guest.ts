// A guest for tests: 16 MiB of guest RAM at host 256 MiB (gfn -> host frame by offset), shadow
// tables in host [16 MiB, 48 MiB). Entries are written as raw bigints.
import { GuestPhysicalMemory } from '@vmkit/memory';
import { CR0, CR4, EFER } from '@vmkit/x86';

export const RAM_BASE = 0x1000_0000;
export const RAM_PAGES = 4096;
export const p2m = (gfn: number): number =>
  gfn >= 0 && gfn < RAM_PAGES ? RAM_BASE + gfn * 4096 : -1;

export function host(): GuestPhysicalMemory {
  return new GuestPhysicalMemory({
    ram: [
      { base: 0x100_0000, size: 0x200_0000 },
      { base: RAM_BASE, size: RAM_PAGES * 4096 },
    ],
  });
}

export const SHADOW = { base: 0x100_0000, limit: 0x300_0000 };

export const GUEST_REGS = {
  features: { maxPhyAddr: 40 },
  cr0: CR0.PG | CR0.PE | CR0.WP,
  cr4: CR4.PAE,
  efer: EFER.LME | EFER.LMA | EFER.NXE,
  cr3: 0x1000n,
};

export function put(mem: GuestPhysicalMemory, gpa: number, v: bigint): void {
  mem.write32(RAM_BASE + gpa, Number(v & 0xffff_ffffn));
  mem.write32(RAM_BASE + gpa + 4, Number(v >> 32n));
}

export function get(mem: GuestPhysicalMemory, gpa: number): bigint {
  return (BigInt(mem.read32(RAM_BASE + gpa + 4)) << 32n) | BigInt(mem.read32(RAM_BASE + gpa));
}
