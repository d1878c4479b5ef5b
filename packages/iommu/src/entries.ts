import type { GuestMemory } from '@vmkit/memory';

/**
 * Reads a 64-bit little-endian table entry as two 32-bit halves (the bigint-free hot path
 * measured in @vmkit/memory's README). Returns false if the memory refused the read.
 *
 * @param mem - memory holding the table
 * @param address - entry address
 * @param out - receives [low, high]
 * @returns whether the read succeeded
 */
export function readEntry(mem: GuestMemory, address: number, out: Uint32Array): boolean {
  try {
    out[0] = mem.read32(address);
    out[1] = mem.read32(address + 4);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a 64-bit entry from two 32-bit halves.
 *
 * @param mem - memory holding the table
 * @param address - entry address
 * @param low - bits 31:0
 * @param high - bits 63:32
 */
export function writeEntry(mem: GuestMemory, address: number, low: number, high: number): void {
  mem.write32(address, low >>> 0);
  mem.write32(address + 4, high >>> 0);
}

/** Mask of bits `[hi:lo]` within one 32-bit half (0 <= lo <= hi <= 31). */
export function bits(hi: number, lo: number): number {
  if (hi < lo) return 0;
  return (hi === 31 ? 0xffff_ffff : 2 ** (hi + 1) - 1) - (2 ** lo - 1);
}

/** The page address held in bits (haw-1):12 of an entry given as halves. */
export function entryAddress(low: number, high: number, haw: number): number {
  return (high & bits(haw - 33, 0)) * 2 ** 32 + ((low & 0xffff_f000) >>> 0);
}

/** 2^32, for splitting addresses into halves. */
export const TWO_32 = 2 ** 32;
