// I/O bitmaps A and B and the I/O-instruction exit rule, SDM Vol. 3C §25.6.4 ("I/O-Bitmap
// Addresses") and §26.1.3 ("Instructions That Cause VM Exits Conditionally": IN, INS, OUT,
// OUTS).
import { VmxError } from './errors.js';

/** Size in bytes of each I/O bitmap (one bit per port of 0x0000-0x7fff or 0x8000-0xffff). */
export const IO_BITMAP_SIZE = 4096;

/**
 * Whether an I/O instruction exits (SDM Vol. 3C §26.1.3). With "use I/O bitmaps" = 0, it exits
 * exactly when "unconditional I/O exiting" is 1. With "use I/O bitmaps" = 1 (unconditional I/O
 * exiting is then ignored), it exits when the bit of any port it accesses (`port` up to
 * `port + size - 1`) is 1, bitmap A holding ports 0x0000-0x7fff and bitmap B ports
 * 0x8000-0xffff, bit n of a bitmap at byte n >> 3, bit n & 7; and it always exits when the
 * access wraps around the 16-bit port space (touches both 0xffff and 0x0000).
 *
 * @param bitmapA - I/O bitmap A (4096 bytes)
 * @param bitmapB - I/O bitmap B (4096 bytes)
 * @param port - the first port, 0..0xffff (guest-controlled: other values are reduced mod 2^16)
 * @param size - access size in bytes, 1, 2 or 4
 * @param useIoBitmaps - the "use I/O bitmaps" control
 * @param unconditionalIoExiting - the "unconditional I/O exiting" control
 * @returns true when the instruction causes a VM exit
 * @example
 * ```ts
 * const a = new Uint8Array(4096), b = new Uint8Array(4096);
 * a[0x3f8 >> 3] |= 1 << (0x3f8 & 7); // trap COM1 data
 * ioInstructionCausesExit(a, b, 0x3f8, 1, true, false); // true
 * ```
 */
export function ioInstructionCausesExit(
  bitmapA: Uint8Array,
  bitmapB: Uint8Array,
  port: number,
  size: number,
  useIoBitmaps: boolean,
  unconditionalIoExiting: boolean,
): boolean {
  if (!useIoBitmaps) return unconditionalIoExiting;
  const first = port & 0xffff;
  const last = first + size - 1;
  if (last > 0xffff) return true; // wraps around the 16-bit I/O-port space
  for (let p = first; p <= last; p++) {
    const bitmap = p < 0x8000 ? bitmapA : bitmapB;
    const n = p & 0x7fff;
    if ((((bitmap[n >>> 3] ?? 0xff) >>> (n & 7)) & 1) === 1) return true;
  }
  return false;
}

/**
 * The pair of I/O bitmaps a VMM owns for one guest, with helpers to trap and pass through
 * ports. All ports start passed through (bits 0).
 *
 * @example
 * ```ts
 * const io = new IoBitmaps();
 * io.trap(0x3f8, 8); // the whole COM1 block
 * io.causesExit(0x3fd, 1); // true
 * io.causesExit(0x80, 1); // false
 * ```
 */
export class IoBitmaps {
  /** I/O bitmap A: ports 0x0000-0x7fff. */
  readonly a: Uint8Array;
  /** I/O bitmap B: ports 0x8000-0xffff. */
  readonly b: Uint8Array;

  /**
   * @param a - bitmap A to wrap (4096 bytes); a zeroed one by default
   * @param b - bitmap B to wrap (4096 bytes); a zeroed one by default
   * @throws {@link VmxError} `INVALID_BITMAP` for a bitmap that is not 4096 bytes
   */
  constructor(
    a: Uint8Array = new Uint8Array(IO_BITMAP_SIZE),
    b: Uint8Array = new Uint8Array(IO_BITMAP_SIZE),
  ) {
    if (a.length !== IO_BITMAP_SIZE || b.length !== IO_BITMAP_SIZE) {
      throw new VmxError('INVALID_BITMAP', 'each I/O bitmap is 4096 bytes');
    }
    this.a = a;
    this.b = b;
  }

  /**
   * Makes accesses to `count` ports from `port` exit.
   *
   * @param port - the first port
   * @param count - how many ports (default 1)
   * @throws {@link VmxError} `INVALID_VALUE` for a range outside 0..0xffff
   */
  trap(port: number, count = 1): void {
    this.set(port, count, true);
  }

  /**
   * Lets accesses to `count` ports from `port` execute without exiting.
   *
   * @param port - the first port
   * @param count - how many ports (default 1)
   * @throws {@link VmxError} `INVALID_VALUE` for a range outside 0..0xffff
   */
  passThrough(port: number, count = 1): void {
    this.set(port, count, false);
  }

  /**
   * Whether an access exits, with "use I/O bitmaps" = 1 (see {@link ioInstructionCausesExit}).
   *
   * @param port - the first port
   * @param size - access size in bytes
   * @returns true when the access causes a VM exit
   */
  causesExit(port: number, size: number): boolean {
    return ioInstructionCausesExit(this.a, this.b, port, size, true, false);
  }

  private set(port: number, count: number, value: boolean): void {
    if (
      !Number.isInteger(port) ||
      !Number.isInteger(count) ||
      port < 0 ||
      count < 0 ||
      port + count > 0x1_0000
    ) {
      throw new VmxError('INVALID_VALUE', `port range ${port}+${count} is outside 0..0xffff`);
    }
    for (let p = port; p < port + count; p++) {
      const bitmap = p < 0x8000 ? this.a : this.b;
      const n = p & 0x7fff;
      const byte = bitmap[n >>> 3] ?? 0;
      bitmap[n >>> 3] = value ? byte | (1 << (n & 7)) : byte & ~(1 << (n & 7));
    }
  }
}
