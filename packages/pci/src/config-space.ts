import { hex, PciError } from './errors.js';

/** Width in bytes of one configuration access: PCI configuration cycles carry byte enables within one DWORD. */
export type ConfigAccessSize = 1 | 2 | 4;

/**
 * One register (or field group) of a configuration space, as {@link ConfigSpace.define} takes it.
 * Masks use the attribute names of PCIe Base 4.0 §7.4 (RO, RW, RW1C); bits in neither mask are
 * read-only. Reserved bits are simply bits whose value is 0 and which no mask makes writable
 * (PCI Local Bus 3.0 §6.1: reserved registers read 0, writes to them are discarded).
 */
export interface RegisterSpec {
  /** Offset of the register's first byte in configuration space. */
  readonly offset: number;
  /** Width in bytes. */
  readonly size: ConfigAccessSize;
  /** Value after reset (default 0). */
  readonly value?: number;
  /** Bits software may set and clear (RW). */
  readonly writable?: number;
  /** Bits that a write of 1 clears and a write of 0 leaves alone (RW1C). */
  readonly writeOneToClear?: number;
}

/**
 * Called after a configuration write that touched `[offset, offset + size)` of a watched range.
 *
 * @param offset - the offset the access started at
 * @param size - the width of the access
 * @param written - the raw value software wrote (before any masking)
 */
export type ConfigWriteHook = (offset: number, size: ConfigAccessSize, written: number) => void;

interface Watch {
  readonly start: number;
  readonly end: number;
  readonly hook: ConfigWriteHook;
}

/**
 * The byte-addressed configuration space of one PCI function (256 bytes for conventional PCI,
 * 4096 for PCI Express, PCIe Base 4.0 §7.2.2), with per-bit attributes.
 *
 * Every byte has a value and two masks: RW (software-writable) and RW1C (write 1 to clear).
 * A software write {@link write} merges through the masks and then runs the hooks watching the
 * bytes it touched; the device model updates its status bits through {@link set}, which ignores
 * the masks ("hardware writes"). Bytes no register defines read as 0 and ignore writes, which is
 * what the spec asks of reserved and unimplemented registers. Guest accesses never throw: an
 * access outside the space reads as 0 and is dropped on write.
 *
 * @example
 * ```ts
 * const cs = new ConfigSpace(256);
 * cs.define({ offset: 0x04, size: 2, writable: 0x0007 }); // Command: three RW enables
 * cs.define({ offset: 0x06, size: 2, value: 0x0010, writeOneToClear: 0xf900 }); // Status
 * cs.write(0x04, 4, 0xffff_ffff);
 * cs.read(0x04, 2); // 0x0007
 * cs.read(0x06, 2); // 0x0010 (the W1C bits were 0; the RO bit kept its value)
 * ```
 */
export class ConfigSpace {
  /** Size of the space in bytes: 256 or 4096. */
  readonly size: number;
  private readonly bytes: Uint8Array;
  private readonly rw: Uint8Array;
  private readonly w1c: Uint8Array;
  private readonly defined: Uint8Array;
  private readonly resetValues: Uint8Array;
  /** Watches indexed by DWORD number, so a write consults only the hooks of its DWORD. */
  private readonly watches: (Watch[] | undefined)[];

  /** @param size - 256 (PCI) or 4096 (PCI Express) */
  constructor(size: 256 | 4096) {
    if (size !== 256 && size !== 4096) {
      throw new PciError('INVALID_OFFSET', `configuration space size ${size} is not 256 or 4096`);
    }
    this.size = size;
    this.bytes = new Uint8Array(size);
    this.rw = new Uint8Array(size);
    this.w1c = new Uint8Array(size);
    this.defined = new Uint8Array(size);
    this.resetValues = new Uint8Array(size);
    this.watches = new Array(size / 4).fill(undefined);
  }

  /**
   * Defines a register: its reset value and bit attributes. Registers may not overlap.
   *
   * @param spec - offset, size, reset value, RW and RW1C masks
   */
  define(spec: RegisterSpec): void {
    const { offset, size } = spec;
    this.checkRange(offset, size);
    const writable = (spec.writable ?? 0) >>> 0;
    const clear = (spec.writeOneToClear ?? 0) >>> 0;
    const limit = size === 4 ? 0xffff_ffff : (1 << (8 * size)) - 1;
    if ((writable & clear) !== 0 || (writable | clear) > limit || (spec.value ?? 0) >>> 0 > limit) {
      throw new PciError(
        'INVALID_REGISTER',
        `register at ${hex(offset)}: masks overlap or exceed ${size} bytes`,
      );
    }
    for (let k = 0; k < size; k++) {
      if (this.defined[offset + k]) {
        throw new PciError('INVALID_REGISTER', `register at ${hex(offset)} overlaps another`);
      }
    }
    for (let k = 0; k < size; k++) {
      this.defined[offset + k] = 1;
      this.rw[offset + k] = writable >>> (8 * k);
      this.w1c[offset + k] = clear >>> (8 * k);
    }
    this.set(offset, size, spec.value ?? 0);
    this.resetValues.set(this.bytes.subarray(offset, offset + size), offset);
  }

  /**
   * Returns every register to the value it was defined with, as a conventional reset or a
   * Function Level Reset does (PCIe Base 4.0 §6.6). Hooks do not run.
   */
  reset(): void {
    this.bytes.set(this.resetValues);
  }

  /**
   * Makes the current value of a register its reset value too: for values the device decides
   * after definition, such as a capability's Next pointer.
   *
   * @param offset - byte offset
   * @param size - width
   * @param value - the new current and reset value
   */
  setResetValue(offset: number, size: ConfigAccessSize, value: number): void {
    this.set(offset, size, value);
    this.resetValues.set(this.bytes.subarray(offset, offset + size), offset);
  }

  /** Whether any register covers the byte at `offset`. */
  isDefined(offset: number): boolean {
    return this.defined[offset] === 1;
  }

  /**
   * Changes which bits of a defined register software may write (RW), e.g. a BAR whose size
   * is decided at run time. Bits not in `writable` become read-only; RW1C bits are unchanged.
   *
   * @param offset - the register's offset
   * @param size - its width
   * @param writable - the new RW mask
   */
  setWritable(offset: number, size: ConfigAccessSize, writable: number): void {
    this.checkRange(offset, size);
    for (let k = 0; k < size; k++)
      this.rw[offset + k] = (writable >>> (8 * k)) & ~this.w1c[offset + k]!;
  }

  /**
   * Runs `hook` after every software write that touches `[offset, offset + length)`.
   *
   * @param offset - first byte watched
   * @param length - number of bytes watched
   * @param hook - called with the access's offset, size and raw written value
   */
  onWrite(offset: number, length: number, hook: ConfigWriteHook): void {
    this.checkRange(offset, length);
    const watch = { start: offset, end: offset + length, hook };
    for (let dw = offset >>> 2; dw <= (offset + length - 1) >>> 2; dw++) {
      const list = this.watches[dw];
      if (list === undefined) this.watches[dw] = [watch];
      else list.push(watch);
    }
  }

  /**
   * A software (guest) read. Never throws: bytes outside the space read as 0.
   *
   * @param offset - byte offset
   * @param size - 1, 2 or 4
   * @returns the little-endian value
   */
  read(offset: number, size: ConfigAccessSize): number {
    const b = this.bytes;
    if (!this.inRange(offset, size)) return 0;
    if (size === 1) return b[offset]!;
    if (size === 2) return b[offset]! | (b[offset + 1]! << 8);
    return (
      (b[offset]! | (b[offset + 1]! << 8) | (b[offset + 2]! << 16) | (b[offset + 3]! << 24)) >>> 0
    );
  }

  /**
   * A software (guest) write: RW bits take the written value, RW1C bits written as 1 clear,
   * every other bit keeps its value; then the hooks watching the touched bytes run. Never throws:
   * a write outside the space is dropped.
   *
   * @param offset - byte offset
   * @param size - 1, 2 or 4
   * @param value - the value written (taken modulo 2^(8*size))
   */
  write(offset: number, size: ConfigAccessSize, value: number): void {
    if (!this.inRange(offset, size)) return;
    const b = this.bytes;
    for (let k = 0; k < size; k++) {
      const i = offset + k;
      const v = (value >>> (8 * k)) & 0xff;
      const rw = this.rw[i]!;
      b[i] = ((b[i]! & ~rw) | (v & rw)) & ~(v & this.w1c[i]!);
    }
    const first = this.watches[offset >>> 2];
    const last = this.watches[(offset + size - 1) >>> 2];
    if (first === undefined && last === undefined) return;
    const seen = new Set<Watch>();
    for (const list of first === last ? [first] : [first, last]) {
      for (const w of list ?? []) {
        if (seen.has(w) || w.end <= offset || w.start >= offset + size) continue;
        seen.add(w);
        w.hook(offset, size, value >>> 0);
      }
    }
  }

  /**
   * A device-side ("hardware") update that ignores the masks: status bits, pending bits, values
   * decided by the device. Throws `INVALID_OFFSET` for a range outside the space.
   *
   * @param offset - byte offset
   * @param size - 1, 2 or 4
   * @param value - the new value
   */
  set(offset: number, size: ConfigAccessSize, value: number): void {
    this.checkRange(offset, size);
    for (let k = 0; k < size; k++) this.bytes[offset + k] = value >>> (8 * k);
  }

  /**
   * Sets or clears the bits of `mask` in a register as the device (ignoring the masks).
   *
   * @param offset - byte offset of the register
   * @param size - its width
   * @param mask - the bits to change
   * @param on - set them (true) or clear them (false)
   */
  setBits(offset: number, size: ConfigAccessSize, mask: number, on: boolean): void {
    const v = this.read(offset, size);
    this.set(offset, size, on ? v | mask : v & ~mask);
  }

  /**
   * The RW mask of a register, for tests and introspection.
   *
   * @param offset - byte offset
   * @param size - 1, 2 or 4
   * @returns the mask of software-writable bits
   */
  writableMask(offset: number, size: ConfigAccessSize): number {
    return this.maskOf(this.rw, offset, size);
  }

  /**
   * The RW1C mask of a register, for tests and introspection.
   *
   * @param offset - byte offset
   * @param size - 1, 2 or 4
   * @returns the mask of write-1-to-clear bits
   */
  writeOneToClearMask(offset: number, size: ConfigAccessSize): number {
    return this.maskOf(this.w1c, offset, size);
  }

  private maskOf(masks: Uint8Array, offset: number, size: ConfigAccessSize): number {
    this.checkRange(offset, size);
    let m = 0;
    for (let k = size - 1; k >= 0; k--) m = m * 256 + masks[offset + k]!;
    return m;
  }

  private inRange(offset: number, size: number): boolean {
    return Number.isInteger(offset) && offset >= 0 && offset + size <= this.size;
  }

  private checkRange(offset: number, length: number): void {
    if (!Number.isInteger(length) || length <= 0 || !this.inRange(offset, length)) {
      throw new PciError(
        'INVALID_OFFSET',
        `range ${offset}+${length} is outside the ${this.size}-byte configuration space`,
      );
    }
  }
}
