import { type GuestMemory, GuestMemoryError, type RegionInfo } from '@vmkit/memory';

/**
 * The guest-physical to host-physical map of a VM ("P2M"): the host-physical address of a
 * guest page frame, or a negative number for a frame with no RAM behind it (MMIO, a hole).
 */
export type P2m = (gfn: number) => number;

/**
 * Guest-physical memory seen through the P2M, for the guest page walks the shadow MMU does on
 * the guest's behalf. Every byte it writes (guest accessed/dirty flags, emulated page-table
 * writes) is reported to `onWrite`, so log-dirty mode sees the VMM's own writes too.
 */
export class GuestView implements GuestMemory {
  /**
   * @param host - host-physical memory
   * @param p2m - the guest-physical to host-physical map
   * @param onWrite - called with the guest frame of every write
   */
  constructor(
    private readonly host: GuestMemory,
    private readonly p2m: P2m,
    private readonly onWrite: (gfn: number) => void,
  ) {}

  /** @param gpa - guest-physical address @returns the host-physical address */
  hpa(gpa: number): number {
    const frame = this.p2m(Math.floor(gpa / 4096));
    if (!(frame >= 0))
      throw new GuestMemoryError('OUT_OF_RANGE', `gpa 0x${gpa.toString(16)} has no RAM`, gpa);
    return frame + (gpa % 4096);
  }

  /** @param gpa - address @returns the byte */
  read8(gpa: number): number {
    return this.host.read8(this.hpa(gpa));
  }
  /** @param gpa - address @returns the value */
  read16(gpa: number): number {
    return this.host.read16(this.hpa(gpa));
  }
  /** @param gpa - address (entries are 8-byte aligned, so never split) @returns the value */
  read32(gpa: number): number {
    return this.host.read32(this.hpa(gpa));
  }
  /** @param gpa - address @returns the value */
  read64(gpa: number): bigint {
    return this.host.read64(this.hpa(gpa));
  }
  /**
   * Writes a byte and reports the frame written.
   *
   * @param gpa - guest-physical address
   * @param value - the value
   */
  write8(gpa: number, value: number): void {
    this.host.write8(this.hpa(gpa), value);
    this.onWrite(Math.floor(gpa / 4096));
  }
  /**
   * Writes 16 bits and reports the frame written.
   *
   * @param gpa - guest-physical address
   * @param value - the value
   */
  write16(gpa: number, value: number): void {
    this.host.write16(this.hpa(gpa), value);
    this.onWrite(Math.floor(gpa / 4096));
  }
  /**
   * Writes 32 bits and reports the frame written.
   *
   * @param gpa - guest-physical address
   * @param value - the value
   */
  write32(gpa: number, value: number): void {
    this.host.write32(this.hpa(gpa), value);
    this.onWrite(Math.floor(gpa / 4096));
  }
  /**
   * Writes 64 bits and reports the frame written.
   *
   * @param gpa - guest-physical address
   * @param value - the value
   */
  write64(gpa: number, value: bigint): void {
    this.host.write64(this.hpa(gpa), value);
    this.onWrite(Math.floor(gpa / 4096));
  }
  /** Byte by byte through the P2M. @param gpa - address @param dest - buffer */
  readBytes(gpa: number, dest: Uint8Array): void {
    for (let i = 0; i < dest.length; i++) dest[i] = this.read8(gpa + i);
  }
  /** Byte by byte through the P2M. @param gpa - address @param src - buffer */
  writeBytes(gpa: number, src: Uint8Array): void {
    for (let i = 0; i < src.length; i++) this.write8(gpa + i, src[i]!);
  }
  /**
   * Fills bytes.
   *
   * @param gpa - guest-physical address
   * @param length - bytes
   * @param byte - the value
   */
  fill(gpa: number, length: number, byte: number): void {
    for (let i = 0; i < length; i++) this.write8(gpa + i, byte);
  }
  /**
   * Copies bytes.
   *
   * @param dest - destination guest-physical address
   * @param src - source guest-physical address
   * @param length - bytes
   */
  copy(dest: number, src: number, length: number): void {
    const tmp = new Uint8Array(length);
    this.readBytes(src, tmp);
    this.writeBytes(dest, tmp);
  }
  /** @param gpa - address @param length - bytes @returns whether RAM backs the range's first page */
  contains(gpa: number, length: number): boolean {
    return length > 0 && this.p2m(Math.floor(gpa / 4096)) >= 0;
  }
  /** @returns no regions (the P2M is a function) */
  regions(): readonly RegionInfo[] {
    return [];
  }
}
