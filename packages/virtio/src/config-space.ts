/**
 * A device-specific configuration space as little-endian bytes (virtio 1.2 §2.5): device models
 * lay out their struct with the setters and serve any 8/16/32-bit read from the bytes.
 */
export class ConfigSpace {
  /** The raw bytes. */
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  /** @param size - size of the configuration structure in bytes */
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  /** Reads `size` bytes at `offset` as a little-endian unsigned value. */
  read(offset: number, size: 1 | 2 | 4): number {
    if (size === 1) return this.view.getUint8(offset);
    if (size === 2) return this.view.getUint16(offset, true);
    return this.view.getUint32(offset, true);
  }

  /** Stores a u8. */
  set8(offset: number, value: number): void {
    this.view.setUint8(offset, value);
  }

  /** Stores a le16. */
  set16(offset: number, value: number): void {
    this.view.setUint16(offset, value, true);
  }

  /** Stores a le32. */
  set32(offset: number, value: number): void {
    this.view.setUint32(offset, value >>> 0, true);
  }

  /** Stores a le64 given as a number below 2^53. */
  set64(offset: number, value: number): void {
    this.view.setBigUint64(offset, BigInt(value), true);
  }
}
