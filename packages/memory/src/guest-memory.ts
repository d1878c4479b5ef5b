/**
 * Size in bytes of a page as the dirty log and sparse storage count it (the x86 4 KiB page).
 */
export const PAGE_SIZE = 4096;

/**
 * The highest guest-physical address width vmkit supports: MAXPHYADDR is at most 52 on
 * Intel 64 (SDM Vol. 3A §4.1.4), and 52-bit addresses are exact in a JavaScript number.
 */
export const MAX_PHYSICAL_ADDRESS_BITS = 52;

/** Width in bytes of one sized access. */
export type AccessSize = 1 | 2 | 4 | 8;

/** What backs a region of the guest-physical address space. */
export type RegionKind = 'ram' | 'mmio';

/** A region of the guest-physical address space, as reported by {@link GuestMemory.regions}. */
export interface RegionInfo {
  /** Unique name of the region. */
  readonly name: string;
  /** Whether the region is RAM or routed to an MMIO handler. */
  readonly kind: RegionKind;
  /** First guest-physical address of the region. */
  readonly base: number;
  /** Length in bytes. */
  readonly size: number;
}

/**
 * Guest-physical memory as every vmkit package sees it: the seam between the mechanisms
 * (page walkers, devices, DMA engines) and whatever backs the memory.
 *
 * Addresses are plain numbers (guest-physical, at most 52 bits). All multi-byte accesses are
 * little-endian. Values written by the sized writes are taken modulo 2^(8*size), as a store of
 * that width would. Every method throws {@link GuestMemoryError} for an access outside the
 * memory or across a region boundary; none wraps around or silently drops data.
 *
 * The interface asks little of an implementation. Hot paths that need a 64-bit value without
 * allocating a bigint (page walkers reading entries) read two 32-bit halves instead; the
 * package README has the measurement behind that advice.
 */
export interface GuestMemory {
  /** Reads one byte. */
  read8(gpa: number): number;
  /** Reads a 16-bit little-endian value. */
  read16(gpa: number): number;
  /** Reads an unsigned 32-bit little-endian value. */
  read32(gpa: number): number;
  /** Reads a 64-bit little-endian value. */
  read64(gpa: number): bigint;
  /** Writes one byte. */
  write8(gpa: number, value: number): void;
  /** Writes a 16-bit little-endian value. */
  write16(gpa: number, value: number): void;
  /** Writes a 32-bit little-endian value. */
  write32(gpa: number, value: number): void;
  /** Writes a 64-bit little-endian value. */
  write64(gpa: number, value: bigint): void;
  /** Copies `dest.length` bytes starting at `gpa` into `dest`. */
  readBytes(gpa: number, dest: Uint8Array): void;
  /** Copies all of `src` into guest memory starting at `gpa`. */
  writeBytes(gpa: number, src: Uint8Array): void;
  /** Sets `length` bytes starting at `gpa` to `byte`. */
  fill(gpa: number, length: number, byte: number): void;
  /** Copies `length` bytes from `src` to `dest` inside guest memory; the ranges may overlap. */
  copy(dest: number, src: number, length: number): void;
  /** Whether `[gpa, gpa + length)` lies inside a single region (RAM or MMIO). */
  contains(gpa: number, length: number): boolean;
  /** The regions, sorted by base address. */
  regions(): readonly RegionInfo[];
}

/**
 * A device model behind an MMIO range. Offsets are relative to the range's base; values are
 * bigints of `size` bytes so that one type serves 8- to 64-bit registers without ambiguity.
 */
export interface MmioHandler {
  /** Handles a read of `size` bytes at `offset`; returns the value read. */
  read(offset: number, size: AccessSize): bigint;
  /** Handles a write of `size` bytes of `value` at `offset`. */
  write(offset: number, size: AccessSize, value: bigint): void;
}

/**
 * Log-dirty tracking, the seam that live migration and HBFT replication read each epoch.
 */
export interface DirtyLog {
  /** Starts logging writes to the named region, or to every RAM region when no name is given. */
  startDirtyLog(region?: string): void;
  /** Stops logging and forgets pending dirty pages of the named region (or all). */
  stopDirtyLog(region?: string): void;
  /**
   * Returns the guest-physical base addresses of the pages written since logging began or
   * since the last harvest, in ascending order, and clears them in the same step.
   */
  harvestDirtyPages(region?: string): number[];
}
