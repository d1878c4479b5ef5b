import type { AccessSize, MmioHandler } from '@vmkit/memory';
import { PciError } from './errors.js';
import type { PciSegment } from './segment.js';

/** The bus range an ECAM window decodes. */
export interface EcamOptions {
  /** First bus number decoded (default 0). */
  readonly startBus?: number;
  /** Last bus number decoded (default 255). */
  readonly endBus?: number;
}

/**
 * The PCI Express Enhanced Configuration Access Mechanism as an MMIO handler (PCIe Base 4.0
 * §7.2.2, Table 7-1): within the window, address bits 27:20 select the bus (relative to the
 * start bus), 19:15 the device, 14:12 the function, 11:2 the DWORD and 1:0 the byte. Map it at
 * the MCFG base with `GuestPhysicalMemory.addMmio({ base, size: ecam.size, handler: ecam })`.
 *
 * A request that falls in one DWORD becomes one configuration request; an aligned QWORD
 * becomes two DWORD requests; any other access that crosses a DWORD boundary is not supported
 * by the Root Complex (§7.2.2.2) and reads all ones / is dropped. Absent functions read all
 * ones.
 *
 * @example
 * ```ts
 * const ecam = new Ecam(segment);
 * mem.addMmio({ name: 'ecam', base: 0xb000_0000, size: ecam.size, handler: ecam });
 * mem.read16(0xb000_0000 + (3 << 15)); // Vendor ID of 00:03.0
 * ```
 */
export class Ecam implements MmioHandler {
  /** Size of the window in bytes: 1 MiB per bus. */
  readonly size: number;
  private readonly segment: PciSegment;
  private readonly startBus: number;

  /**
   * @param segment - the segment whose functions the window reaches
   * @param options - decoded bus range
   */
  constructor(segment: PciSegment, options: EcamOptions = {}) {
    const start = options.startBus ?? 0;
    const end = options.endBus ?? 255;
    if (
      !Number.isInteger(start) ||
      !Number.isInteger(end) ||
      start < 0 ||
      end > 255 ||
      end < start
    ) {
      throw new PciError('INVALID_ADDRESS', `ECAM bus range ${start}-${end} is invalid`);
    }
    this.segment = segment;
    this.startBus = start;
    this.size = (end - start + 1) << 20;
  }

  /**
   * Handles a read of `size` bytes at `offset` in the window.
   *
   * @param offset - offset in the window
   * @param size - access width
   * @returns the value read, all ones where nothing answers
   */
  read(offset: number, size: AccessSize): bigint {
    if (size === 8 && (offset & 7) === 0) {
      return (BigInt(this.dword(offset + 4)) << 32n) | BigInt(this.dword(offset));
    }
    if (size === 8 || (offset & 3) + size > 4 || offset < 0 || offset + size > this.size) {
      return (1n << BigInt(8 * size)) - 1n;
    }
    const rid = ((this.startBus + (offset >>> 20)) << 8) | ((offset >>> 12) & 0xff);
    return BigInt(this.segment.configRead(rid, offset & 0xfff, size));
  }

  /**
   * Handles a write of `size` bytes at `offset` in the window.
   *
   * @param offset - offset in the window
   * @param size - access width
   * @param value - the value written
   */
  write(offset: number, size: AccessSize, value: bigint): void {
    if (size === 8 && (offset & 7) === 0) {
      this.write(offset, 4, value & 0xffff_ffffn);
      this.write(offset + 4, 4, (value >> 32n) & 0xffff_ffffn);
      return;
    }
    if (size === 8 || (offset & 3) + size > 4 || offset < 0 || offset + size > this.size) return;
    const rid = ((this.startBus + (offset >>> 20)) << 8) | ((offset >>> 12) & 0xff);
    this.segment.configWrite(rid, offset & 0xfff, size, Number(value & 0xffff_ffffn));
  }

  private dword(offset: number): number {
    return Number(this.read(offset, 4));
  }
}
