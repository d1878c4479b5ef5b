// Raw page-table writing for tests: entries are given as 64-bit (or 32-bit) values with the
// architectural bits spelled out here, independent of src/.
import { GuestPhysicalMemory } from '@vmkit/memory';

export const P = 1n;
export const RW = 2n;
export const US = 4n;
export const A = 0x20n;
export const D = 0x40n;
export const PS = 0x80n;
export const G = 0x100n;
export const XD = 1n << 63n;

export function memory(size = 2 ** 32): GuestPhysicalMemory {
  return new GuestPhysicalMemory({ ram: [{ base: 0, size }] });
}

/** Writes a 64-bit entry. */
export function put64(mem: GuestPhysicalMemory, address: number, value: bigint): void {
  mem.write64(address, value);
}

/** Writes a 32-bit entry (32-bit paging). */
export function put32(mem: GuestPhysicalMemory, address: number, value: number): void {
  mem.write32(address, value >>> 0);
}

/** Next free page for new tables, per memory, so that mappings never share a fresh table. */
const nextFree = new WeakMap<GuestPhysicalMemory, number>();

/**
 * Builds a 4- or 5-level mapping of `linear` to `frame` with the given leaf level and flags,
 * allocating tables from `next` upwards. Returns the CR3 value and the entry addresses by level.
 */
export function map(
  mem: GuestPhysicalMemory,
  opts: {
    levels: 4 | 5;
    root: number;
    linear: bigint;
    frame: bigint;
    leafLevel?: 1 | 2 | 3;
    upper?: bigint;
    leaf?: bigint;
  },
): number[] {
  const leafLevel = opts.leafLevel ?? 1;
  const upper = opts.upper ?? P | RW | US;
  const leaf = opts.leaf ?? P | RW | US;
  let table = opts.root;
  const levels: number = opts.levels;
  let nextTable = nextFree.get(mem) ?? opts.root + 0x1000;
  const addresses: number[] = [];
  for (let level = levels; level >= leafLevel; level--) {
    const shift = 12n + 9n * BigInt(level - 1);
    const index = Number((opts.linear >> shift) & 0x1ffn);
    const at = table + index * 8;
    addresses[level] = at;
    if (level === leafLevel) {
      put64(mem, at, leaf | opts.frame | (level > 1 ? PS : 0n));
    } else {
      const existing = mem.read64(at);
      // Reuse a present entry's table, unless it maps a page (PS at the PDE or PDPTE level).
      const reuse = (existing & 1n) !== 0n && !((level === 2 || level === 3) && existing & PS);
      const child = reuse ? Number(existing & 0x000f_ffff_ffff_f000n) : nextTable;
      if (!reuse) nextTable += 0x1000;
      put64(mem, at, upper | BigInt(child));
      table = child;
    }
  }
  nextFree.set(mem, nextTable);
  return addresses;
}
