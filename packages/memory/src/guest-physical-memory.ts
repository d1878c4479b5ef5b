import { DirtyBitmap } from './dirty-bitmap.js';
import { GuestMemoryError, hex } from './errors.js';
import {
  type AccessSize,
  type DirtyLog,
  type GuestMemory,
  MAX_PHYSICAL_ADDRESS_BITS,
  type MmioHandler,
  PAGE_SIZE,
  type RegionInfo,
} from './guest-memory.js';
import { SparsePages } from './sparse-pages.js';

const ADDRESS_LIMIT = 2 ** MAX_PHYSICAL_ADDRESS_BITS;
/** Bulk copies move at most this much through a bounce buffer at a time. */
const COPY_CHUNK = 64 * 1024;

/** A RAM region to create: page-aligned base and size. */
export interface RamRegionSpec {
  /** Unique name; defaults to `ram@<base in hex>`. */
  readonly name?: string;
  /** First guest-physical address; a multiple of 4 KiB. */
  readonly base: number;
  /** Length in bytes; a positive multiple of 4 KiB. */
  readonly size: number;
}

/** An MMIO range to route to a device handler. */
export interface MmioRegionSpec {
  /** Unique name; defaults to `mmio@<base in hex>`. */
  readonly name?: string;
  /** First guest-physical address. */
  readonly base: number;
  /** Length in bytes; positive. */
  readonly size: number;
  /** The device model that handles accesses to the range. */
  readonly handler: MmioHandler;
}

/** The layout of a {@link GuestPhysicalMemory}. */
export interface GuestPhysicalMemoryOptions {
  /** RAM regions; they may leave holes between them. */
  readonly ram: readonly RamRegionSpec[];
  /** MMIO ranges, which must not overlap RAM or each other. */
  readonly mmio?: readonly MmioRegionSpec[];
}

interface Region {
  readonly info: RegionInfo;
  readonly base: number;
  readonly end: number;
  readonly store: SparsePages | undefined;
  readonly handler: MmioHandler | undefined;
  dirty: DirtyBitmap | undefined;
}

/**
 * Guest-physical memory made of sparse RAM regions and MMIO ranges, with holes between them.
 *
 * RAM is allocated one 4 KiB page at a time on first write, so a 64 GiB guest costs only what it
 * touches; reads of untouched pages return zeros. Sized accesses to an MMIO range go to its
 * handler. Implements {@link GuestMemory} and {@link DirtyLog}.
 *
 * @example
 * ```ts
 * const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 64 * 2 ** 30 }] });
 * mem.write32(0x1000, 0xdeadbeef);
 * mem.read32(0x1000); // 0xdeadbeef
 * mem.materializedPages; // 1
 * ```
 */
export class GuestPhysicalMemory implements GuestMemory, DirtyLog {
  private sorted: Region[] = [];
  private last: Region | undefined;

  /** @param options - the RAM regions and MMIO ranges of the address space */
  constructor(options: GuestPhysicalMemoryOptions) {
    for (const spec of options.ram) this.addRam(spec);
    for (const spec of options.mmio ?? []) this.addMmio(spec);
  }

  /** Adds a RAM region. Throws `INVALID_REGION` or `OVERLAPPING_REGION`. */
  addRam(spec: RamRegionSpec): void {
    checkSpan(spec.base, spec.size);
    if (spec.base % PAGE_SIZE !== 0 || spec.size % PAGE_SIZE !== 0) {
      throw new GuestMemoryError(
        'INVALID_REGION',
        `RAM region at ${hex(spec.base)} size ${hex(spec.size)} is not 4 KiB aligned`,
        spec.base,
        spec.size,
      );
    }
    this.insert(spec.name ?? `ram@${hex(spec.base)}`, 'ram', spec.base, spec.size, undefined);
  }

  /** Adds an MMIO range (for example when a PCI BAR is programmed). */
  addMmio(spec: MmioRegionSpec): void {
    checkSpan(spec.base, spec.size);
    this.insert(spec.name ?? `mmio@${hex(spec.base)}`, 'mmio', spec.base, spec.size, spec.handler);
  }

  /** Removes the named region; its contents are dropped. Throws `UNKNOWN_REGION`. */
  removeRegion(name: string): void {
    const region = this.byName(name);
    this.sorted = this.sorted.filter((r) => r !== region);
    this.last = undefined;
  }

  /** Number of 4 KiB RAM pages allocated so far, across all regions. */
  get materializedPages(): number {
    let n = 0;
    for (const r of this.sorted) n += r.store?.materializedPages ?? 0;
    return n;
  }

  regions(): readonly RegionInfo[] {
    return this.sorted.map((r) => r.info);
  }

  contains(gpa: number, length: number): boolean {
    if (!isAddress(gpa) || !Number.isSafeInteger(length) || length < 0) return false;
    return this.sorted.some((r) => gpa >= r.base && gpa + length <= r.end);
  }

  read8(gpa: number): number {
    const r = this.locate(gpa, 1);
    const off = gpa - r.base;
    if (r.store === undefined) return mmioRead(r, off, 1);
    const index = Math.floor(off / PAGE_SIZE);
    return r.store.pageForRead(index)[off - index * PAGE_SIZE]!;
  }

  read16(gpa: number): number {
    const r = this.locate(gpa, 2);
    const off = gpa - r.base;
    if (r.store === undefined) return mmioRead(r, off, 2);
    const index = Math.floor(off / PAGE_SIZE);
    const i = off - index * PAGE_SIZE;
    if (i > PAGE_SIZE - 2) return readSplit(r.store, off, 2);
    const p = r.store.pageForRead(index);
    return p[i]! | (p[i + 1]! << 8);
  }

  read32(gpa: number): number {
    const r = this.locate(gpa, 4);
    const off = gpa - r.base;
    if (r.store === undefined) return mmioRead(r, off, 4);
    const index = Math.floor(off / PAGE_SIZE);
    const i = off - index * PAGE_SIZE;
    if (i > PAGE_SIZE - 4) return readSplit(r.store, off, 4);
    const p = r.store.pageForRead(index);
    return (p[i]! | (p[i + 1]! << 8) | (p[i + 2]! << 16) | (p[i + 3]! << 24)) >>> 0;
  }

  read64(gpa: number): bigint {
    const r = this.locate(gpa, 8);
    const off = gpa - r.base;
    if (r.store === undefined) return BigInt.asUintN(64, r.handler!.read(off, 8));
    const lo = readSplit(r.store, off, 4);
    const hi = readSplit(r.store, off + 4, 4);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  write8(gpa: number, value: number): void {
    const r = this.locate(gpa, 1);
    const off = gpa - r.base;
    if (r.store === undefined) return mmioWrite(r, off, 1, value);
    const index = Math.floor(off / PAGE_SIZE);
    r.dirty?.mark(index);
    r.store.pageForWrite(index)[off - index * PAGE_SIZE] = value;
  }

  write16(gpa: number, value: number): void {
    const r = this.locate(gpa, 2);
    const off = gpa - r.base;
    if (r.store === undefined) return mmioWrite(r, off, 2, value);
    const index = Math.floor(off / PAGE_SIZE);
    const i = off - index * PAGE_SIZE;
    if (i > PAGE_SIZE - 2) return writeSplit(r, off, 2, value);
    r.dirty?.mark(index);
    const p = r.store.pageForWrite(index);
    p[i] = value;
    p[i + 1] = value >>> 8;
  }

  write32(gpa: number, value: number): void {
    const r = this.locate(gpa, 4);
    const off = gpa - r.base;
    if (r.store === undefined) return mmioWrite(r, off, 4, value);
    const index = Math.floor(off / PAGE_SIZE);
    const i = off - index * PAGE_SIZE;
    if (i > PAGE_SIZE - 4) return writeSplit(r, off, 4, value);
    r.dirty?.mark(index);
    const p = r.store.pageForWrite(index);
    p[i] = value;
    p[i + 1] = value >>> 8;
    p[i + 2] = value >>> 16;
    p[i + 3] = value >>> 24;
  }

  write64(gpa: number, value: bigint): void {
    const r = this.locate(gpa, 8);
    const off = gpa - r.base;
    const v = BigInt.asUintN(64, value);
    if (r.store === undefined) return r.handler!.write(off, 8, v);
    writeSplit(r, off, 4, Number(v & 0xffff_ffffn));
    writeSplit(r, off + 4, 4, Number(v >> 32n));
  }

  readBytes(gpa: number, dest: Uint8Array): void {
    if (dest.length === 0) return checkAddress(gpa);
    const r = this.ramFor(gpa, dest.length);
    r.store!.read(gpa - r.base, dest);
  }

  writeBytes(gpa: number, src: Uint8Array): void {
    if (src.length === 0) return checkAddress(gpa);
    const r = this.ramFor(gpa, src.length);
    markDirty(r, gpa - r.base, src.length);
    r.store!.write(gpa - r.base, src);
  }

  fill(gpa: number, length: number, byte: number): void {
    checkLength(length);
    if (length === 0) return checkAddress(gpa);
    const r = this.ramFor(gpa, length);
    markDirty(r, gpa - r.base, length);
    r.store!.fill(gpa - r.base, length, byte & 0xff);
  }

  copy(dest: number, src: number, length: number): void {
    checkLength(length);
    if (length === 0) {
      checkAddress(src);
      return checkAddress(dest);
    }
    this.ramFor(src, length);
    this.ramFor(dest, length);
    const bounce = new Uint8Array(Math.min(length, COPY_CHUNK));
    // memmove: walk backwards when the destination overlaps the source from above.
    const backwards = dest > src && dest < src + length;
    for (let done = 0; done < length; done += bounce.length) {
      const n = Math.min(bounce.length, length - done);
      const at = backwards ? length - done - n : done;
      const chunk = bounce.subarray(0, n);
      this.readBytes(src + at, chunk);
      this.writeBytes(dest + at, chunk);
    }
  }

  startDirtyLog(region?: string): void {
    for (const r of this.ramRegions(region)) {
      r.dirty ??= new DirtyBitmap((r.end - r.base) / PAGE_SIZE);
    }
  }

  stopDirtyLog(region?: string): void {
    for (const r of this.ramRegions(region)) r.dirty = undefined;
  }

  harvestDirtyPages(region?: string): number[] {
    const pages: number[] = [];
    for (const r of this.ramRegions(region)) {
      for (const page of r.dirty?.harvest() ?? []) pages.push(r.base + page * PAGE_SIZE);
    }
    return pages;
  }

  /** Whether writes to the named RAM region are being logged. */
  isDirtyLogging(region: string): boolean {
    return this.byName(region).dirty !== undefined;
  }

  private insert(
    name: string,
    kind: 'ram' | 'mmio',
    base: number,
    size: number,
    handler: MmioHandler | undefined,
  ): void {
    if (this.sorted.some((r) => r.info.name === name)) {
      throw new GuestMemoryError('INVALID_REGION', `a region named "${name}" already exists`);
    }
    const clash = this.sorted.find((r) => base < r.end && r.base < base + size);
    if (clash !== undefined) {
      throw new GuestMemoryError(
        'OVERLAPPING_REGION',
        `region "${name}" [${hex(base)}, ${hex(base + size)}) overlaps "${clash.info.name}"`,
        base,
        size,
      );
    }
    const region: Region = {
      info: Object.freeze({ name, kind, base, size }),
      base,
      end: base + size,
      store: kind === 'ram' ? new SparsePages() : undefined,
      handler,
      dirty: undefined,
    };
    this.sorted = [...this.sorted, region].sort((a, b) => a.base - b.base);
  }

  private byName(name: string): Region {
    const region = this.sorted.find((r) => r.info.name === name);
    if (region === undefined) {
      throw new GuestMemoryError('UNKNOWN_REGION', `no region named "${name}"`);
    }
    return region;
  }

  private ramRegions(name: string | undefined): Region[] {
    if (name === undefined) return this.sorted.filter((r) => r.store !== undefined);
    const region = this.byName(name);
    if (region.store === undefined) {
      throw new GuestMemoryError('INVALID_REGION', `region "${name}" is MMIO; only RAM is logged`);
    }
    return [region];
  }

  /** The RAM region that holds all of `[gpa, gpa + length)`. */
  private ramFor(gpa: number, length: number): Region {
    const r = this.locate(gpa, length);
    if (r.store === undefined) {
      throw new GuestMemoryError(
        'MMIO_BULK_ACCESS',
        `bulk access at ${hex(gpa)} length ${length} hits MMIO region "${r.info.name}"`,
        gpa,
        length,
      );
    }
    return r;
  }

  /** The region holding all of `[gpa, gpa + size)`; the last hit is tried first. */
  private locate(gpa: number, size: number): Region {
    const hit = this.last;
    if (hit !== undefined && gpa >= hit.base && gpa + size <= hit.end && Number.isInteger(gpa)) {
      return hit;
    }
    checkAddress(gpa);
    checkLength(size);
    for (const r of this.sorted) {
      if (gpa < r.base || gpa >= r.end) continue;
      if (gpa + size > r.end) {
        throw new GuestMemoryError(
          'CROSSES_REGION',
          `access at ${hex(gpa)} size ${size} runs past the end of region "${r.info.name}"`,
          gpa,
          size,
        );
      }
      this.last = r;
      return r;
    }
    throw new GuestMemoryError(
      'OUT_OF_RANGE',
      `access at ${hex(gpa)} size ${size} is outside guest memory`,
      gpa,
      size,
    );
  }
}

function isAddress(gpa: number): boolean {
  return Number.isInteger(gpa) && gpa >= 0 && gpa < ADDRESS_LIMIT;
}

function checkAddress(gpa: number): void {
  if (!isAddress(gpa)) {
    throw new GuestMemoryError(
      'INVALID_ADDRESS',
      `guest-physical address ${gpa} is not an integer in [0, 2^52)`,
    );
  }
}

function checkLength(length: number): void {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new GuestMemoryError('INVALID_LENGTH', `length ${length} is not a non-negative integer`);
  }
}

function checkSpan(base: number, size: number): void {
  if (!isAddress(base) || !Number.isSafeInteger(size) || size <= 0 || base + size > ADDRESS_LIMIT) {
    throw new GuestMemoryError(
      'INVALID_REGION',
      `region base ${base} size ${size} does not fit a 52-bit physical address space`,
      base,
      size,
    );
  }
}

function mmioRead(r: Region, off: number, size: AccessSize): number {
  return Number(BigInt.asUintN(size * 8, r.handler!.read(off, size)));
}

function mmioWrite(r: Region, off: number, size: AccessSize, value: number): void {
  r.handler!.write(off, size, BigInt.asUintN(size * 8, BigInt(value >>> 0)));
}

/** Little-endian read of up to 4 bytes that may straddle a page boundary. */
function readSplit(store: SparsePages, off: number, size: number): number {
  let v = 0;
  for (let k = size - 1; k >= 0; k--) {
    const at = off + k;
    const index = Math.floor(at / PAGE_SIZE);
    v = v * 256 + store.pageForRead(index)[at - index * PAGE_SIZE]!;
  }
  return v;
}

/** Little-endian write of up to 4 bytes that may straddle a page boundary. */
function writeSplit(r: Region, off: number, size: number, value: number): void {
  markDirty(r, off, size);
  for (let k = 0; k < size; k++) {
    const at = off + k;
    const index = Math.floor(at / PAGE_SIZE);
    r.store!.pageForWrite(index)[at - index * PAGE_SIZE] = value >>> (8 * k);
  }
}

function markDirty(r: Region, off: number, length: number): void {
  if (r.dirty === undefined) return;
  const first = Math.floor(off / PAGE_SIZE);
  r.dirty.markRange(first, Math.floor((off + length - 1) / PAGE_SIZE) - first + 1);
}
