import { type GuestMemory, GuestMemoryError, type RegionInfo } from '@vmkit/memory';
import type { DmaRemapping } from './dma-remapping.js';
import { DmaFaultError } from './errors.js';
import type { FaultReason } from './fault-reasons.js';

const PAGE = 4096;
const ADDRESS_LIMIT = 2 ** 52;

/** One page-sized piece of a request: where it goes in host memory. */
interface Piece {
  readonly iova: number;
  readonly hpa: number;
  readonly length: number;
}

/**
 * A device's view of memory through the IOMMU: a `GuestMemory` whose every access is a DMA
 * request of one requester ID, translated page by page by {@link DmaRemapping}. Device models
 * receive only this object, so they cannot reach memory their domain does not map: there is no
 * other path to the target memory in their hands.
 *
 * Atomicity: every page of an access (both ranges of a `copy`) is translated and checked first;
 * if any page faults, the fault is recorded, a {@link DmaFaultError} is thrown and nothing is
 * read or written. Addresses that are not integers in [0, 2^52) throw `INVALID_ADDRESS`.
 * `regions()` is empty: an I/O virtual address space has no static regions; use `contains`.
 */
export class DmaMemory implements GuestMemory {
  /** The requester ID every access carries. */
  readonly sourceId: number;
  private readonly unit: DmaRemapping;
  private readonly target: GuestMemory;

  /**
   * @param unit - the remapping unit
   * @param target - the memory translated addresses land in
   * @param sourceId - the device's requester ID
   */
  constructor(unit: DmaRemapping, target: GuestMemory, sourceId: number) {
    this.unit = unit;
    this.target = target;
    this.sourceId = sourceId;
  }

  read8(iova: number): number {
    return this.target.read8(this.one(iova, 1, false));
  }

  read16(iova: number): number {
    if ((iova & (PAGE - 1)) <= PAGE - 2) return this.target.read16(this.one(iova, 2, false));
    return this.readSplit(iova, 2);
  }

  read32(iova: number): number {
    if ((iova & (PAGE - 1)) <= PAGE - 4) return this.target.read32(this.one(iova, 4, false));
    return this.readSplit(iova, 4);
  }

  read64(iova: number): bigint {
    if ((iova & (PAGE - 1)) <= PAGE - 8) return this.target.read64(this.one(iova, 8, false));
    const b = new Uint8Array(8);
    this.readBytes(iova, b);
    return new DataView(b.buffer).getBigUint64(0, true);
  }

  write8(iova: number, value: number): void {
    this.target.write8(this.one(iova, 1, true), value);
  }

  write16(iova: number, value: number): void {
    if ((iova & (PAGE - 1)) <= PAGE - 2) return this.target.write16(this.one(iova, 2, true), value);
    this.writeSplit(iova, 2, value);
  }

  write32(iova: number, value: number): void {
    if ((iova & (PAGE - 1)) <= PAGE - 4) return this.target.write32(this.one(iova, 4, true), value);
    this.writeSplit(iova, 4, value);
  }

  write64(iova: number, value: bigint): void {
    if ((iova & (PAGE - 1)) <= PAGE - 8) return this.target.write64(this.one(iova, 8, true), value);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
    this.writeBytes(iova, b);
  }

  readBytes(iova: number, dest: Uint8Array): void {
    let at = 0;
    for (const p of this.plan(iova, dest.length, false)) {
      this.target.readBytes(p.hpa, dest.subarray(at, at + p.length));
      at += p.length;
    }
  }

  writeBytes(iova: number, src: Uint8Array): void {
    let at = 0;
    for (const p of this.plan(iova, src.length, true)) {
      this.target.writeBytes(p.hpa, src.subarray(at, at + p.length));
      at += p.length;
    }
  }

  fill(iova: number, length: number, byte: number): void {
    for (const p of this.plan(iova, length, true)) this.target.fill(p.hpa, p.length, byte);
  }

  copy(dest: number, src: number, length: number): void {
    // Translate both ranges completely before moving a byte; then move through a buffer,
    // which gives memmove semantics for overlapping ranges in either address space.
    this.plan(src, length, false);
    this.plan(dest, length, true);
    const buffer = new Uint8Array(length);
    this.readBytes(src, buffer);
    this.writeBytes(dest, buffer);
  }

  contains(iova: number, length: number): boolean {
    if (
      !isAddress(iova) ||
      !Number.isSafeInteger(length) ||
      length < 0 ||
      iova + length > ADDRESS_LIMIT
    )
      return false;
    for (let at = iova; at < iova + length; ) {
      const n = Math.min(PAGE - (at % PAGE), iova + length - at);
      const hpa = this.unit.probe(this.sourceId, at, false);
      if (hpa < 0 || !this.target.contains(hpa, n)) return false;
      at += n;
    }
    return true;
  }

  regions(): readonly RegionInfo[] {
    return [];
  }

  /** Translates a sized access that stays inside one page. */
  private one(iova: number, size: number, write: boolean): number {
    checkAddress(iova);
    return this.unit.translateOrThrow(this.sourceId, iova, write, size);
  }

  private readSplit(iova: number, size: number): number {
    const b = new Uint8Array(size);
    this.readBytes(iova, b);
    let v = 0;
    for (let k = size - 1; k >= 0; k--) v = v * 256 + b[k]!;
    return v;
  }

  private writeSplit(iova: number, size: number, value: number): void {
    const b = new Uint8Array(size);
    for (let k = 0; k < size; k++) b[k] = value >>> (8 * k);
    this.writeBytes(iova, b);
  }

  /**
   * Translates every page of `[iova, iova + length)` and checks the target holds each piece;
   * throws before anything is performed if one fails.
   */
  private plan(iova: number, length: number, write: boolean): Piece[] {
    checkAddress(iova);
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new GuestMemoryError(
        'INVALID_LENGTH',
        `length ${length} is not a non-negative integer`,
      );
    }
    if (iova + length > ADDRESS_LIMIT) {
      throw new GuestMemoryError('OUT_OF_RANGE', 'DMA runs past 2^52', iova, length);
    }
    const pieces: Piece[] = [];
    for (let at = iova; at < iova + length; ) {
      const n = Math.min(PAGE - (at % PAGE), iova + length - at);
      const r = this.unit.translate(this.sourceId, at, write);
      if (!r.ok)
        throw new DmaFaultError(r.reason as FaultReason, this.sourceId, iova, length, write);
      if (!this.target.contains(r.address, n)) {
        throw new GuestMemoryError(
          'OUT_OF_RANGE',
          `DMA at 0x${at.toString(16)} translates outside memory`,
          iova,
          length,
        );
      }
      const last = pieces.at(-1);
      if (
        last !== undefined &&
        last.hpa + last.length === r.address &&
        this.target.contains(last.hpa, last.length + n)
      ) {
        pieces[pieces.length - 1] = { iova: last.iova, hpa: last.hpa, length: last.length + n };
      } else {
        pieces.push({ iova: at, hpa: r.address, length: n });
      }
      at += n;
    }
    return pieces;
  }
}

function isAddress(a: number): boolean {
  return Number.isInteger(a) && a >= 0 && a < ADDRESS_LIMIT;
}

function checkAddress(a: number): void {
  if (!isAddress(a)) {
    throw new GuestMemoryError(
      'INVALID_ADDRESS',
      `I/O virtual address ${a} is not an integer in [0, 2^52)`,
    );
  }
}
