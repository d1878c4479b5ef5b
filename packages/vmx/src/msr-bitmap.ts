// MSR bitmaps and the RDMSR/WRMSR exit rule, SDM Vol. 3C §25.6.9 ("MSR-Bitmap Address") and
// §26.1.3 ("Instructions That Cause VM Exits Conditionally": RDMSR, WRMSR).
import { VmxError } from './errors.js';

/** Size in bytes of the MSR-bitmap page. */
export const MSR_BITMAP_SIZE = 4096;

/**
 * Byte offsets of the four 1-KByte bitmaps in the MSR-bitmap page (SDM Vol. 3C §25.6.9).
 */
export const MsrBitmapOffset = {
  /** Read bitmap for low MSRs 0x00000000-0x00001fff. */
  READ_LOW: 0,
  /** Read bitmap for high MSRs 0xc0000000-0xc0001fff. */
  READ_HIGH: 1024,
  /** Write bitmap for low MSRs. */
  WRITE_LOW: 2048,
  /** Write bitmap for high MSRs. */
  WRITE_HIGH: 3072,
} as const;

/**
 * Whether RDMSR or WRMSR exits (SDM Vol. 3C §26.1.3). It exits if "use MSR bitmaps" is 0, or
 * ECX is outside 0x00000000-0x00001fff and 0xc0000000-0xc0001fff, or the bit for ECX in the
 * read (RDMSR) or write (WRMSR) bitmap of its range is 1 (bit n of a 1-KByte bitmap at byte
 * n >> 3, bit n & 7, for MSR range base + n).
 *
 * @param bitmap - the 4-KByte MSR-bitmap page
 * @param msr - ECX (guest-controlled: taken as an unsigned 32-bit value)
 * @param write - true for WRMSR, false for RDMSR
 * @param useMsrBitmaps - the "use MSR bitmaps" control
 * @returns true when the instruction causes a VM exit
 * @example
 * ```ts
 * const page = new Uint8Array(4096);
 * msrAccessCausesExit(page, 0xc000_0080, false, true); // false: EFER reads pass through
 * msrAccessCausesExit(page, 0x4000_0000, false, true); // true: outside both ranges
 * ```
 */
export function msrAccessCausesExit(
  bitmap: Uint8Array,
  msr: number,
  write: boolean,
  useMsrBitmaps: boolean,
): boolean {
  if (!useMsrBitmaps) return true;
  const ecx = msr >>> 0;
  let base: number;
  if (ecx <= 0x1fff) base = write ? MsrBitmapOffset.WRITE_LOW : MsrBitmapOffset.READ_LOW;
  else if (ecx >= 0xc000_0000 && ecx <= 0xc000_1fff) {
    base = write ? MsrBitmapOffset.WRITE_HIGH : MsrBitmapOffset.READ_HIGH;
  } else return true;
  const n = ecx & 0x1fff;
  return (((bitmap[base + (n >>> 3)] ?? 0xff) >>> (n & 7)) & 1) === 1;
}

/**
 * The MSR-bitmap page a VMM owns for one guest, with helpers to intercept and pass through
 * reads and writes. Everything starts passed through (bits 0); MSRs outside the two ranges
 * always exit and cannot be passed through.
 *
 * @example
 * ```ts
 * const msrs = new MsrBitmap();
 * msrs.intercept(0x6e0, 'write'); // IA32_TSC_DEADLINE writes exit
 * msrs.causesExit(0x6e0, true); // true
 * msrs.causesExit(0x6e0, false); // false
 * ```
 */
export class MsrBitmap {
  /** The 4-KByte page. */
  readonly page: Uint8Array;

  /**
   * @param page - the page to wrap (4096 bytes); a zeroed one by default
   * @throws {@link VmxError} `INVALID_BITMAP` for a page that is not 4096 bytes
   */
  constructor(page: Uint8Array = new Uint8Array(MSR_BITMAP_SIZE)) {
    if (page.length !== MSR_BITMAP_SIZE) {
      throw new VmxError('INVALID_BITMAP', 'the MSR bitmap is 4096 bytes');
    }
    this.page = page;
  }

  /**
   * Makes reads, writes or both of an MSR exit.
   *
   * @param msr - the MSR index, in one of the two ranges
   * @param access - 'read', 'write' or 'both' (default)
   * @throws {@link VmxError} `INVALID_VALUE` for an MSR outside both ranges
   */
  intercept(msr: number, access: 'read' | 'write' | 'both' = 'both'): void {
    this.set(msr, access, true);
  }

  /**
   * Lets reads, writes or both of an MSR execute without exiting.
   *
   * @param msr - the MSR index, in one of the two ranges
   * @param access - 'read', 'write' or 'both' (default)
   * @throws {@link VmxError} `INVALID_VALUE` for an MSR outside both ranges
   */
  passThrough(msr: number, access: 'read' | 'write' | 'both' = 'both'): void {
    this.set(msr, access, false);
  }

  /**
   * Whether RDMSR (`write` false) or WRMSR (`write` true) exits, with "use MSR bitmaps" = 1.
   *
   * @param msr - ECX
   * @param write - true for WRMSR
   * @returns true when the instruction causes a VM exit
   */
  causesExit(msr: number, write: boolean): boolean {
    return msrAccessCausesExit(this.page, msr, write, true);
  }

  private set(msr: number, access: 'read' | 'write' | 'both', value: boolean): void {
    let high: boolean;
    if (Number.isInteger(msr) && msr >= 0 && msr <= 0x1fff) high = false;
    else if (Number.isInteger(msr) && msr >= 0xc000_0000 && msr <= 0xc000_1fff) high = true;
    else throw new VmxError('INVALID_VALUE', `MSR ${msr} is outside the MSR-bitmap ranges`);
    const n = msr & 0x1fff;
    const bases: number[] = [];
    if (access !== 'write') bases.push(high ? MsrBitmapOffset.READ_HIGH : MsrBitmapOffset.READ_LOW);
    if (access !== 'read')
      bases.push(high ? MsrBitmapOffset.WRITE_HIGH : MsrBitmapOffset.WRITE_LOW);
    for (const base of bases) {
      const i = base + (n >>> 3);
      const byte = this.page[i] ?? 0;
      this.page[i] = value ? byte | (1 << (n & 7)) : byte & ~(1 << (n & 7));
    }
  }
}
