// The exception bitmap and the page-fault error-code mask/match, SDM Vol. 3C §25.6.3
// ("Exception Bitmap") and §26.2 ("Other Causes of VM Exits", exceptions).
import { Vector } from '@vmkit/x86';

/**
 * Whether an exception causes a VM exit (SDM Vol. 3C §25.6.3, §26.2). For a vector other than
 * #PF, the exit happens when the vector's bit in the exception bitmap is 1. For #PF the bitmap
 * bit and the error code decide together: if `(pfec & pfecMask) === pfecMatch`, the #PF exits
 * when bit 14 is 1; otherwise it exits when bit 14 is 0. So bit 14 = 1 with mask = match = 0
 * makes every #PF exit, and bit 14 = 1 with mask = 0, match = 0xffffffff (never equal) makes
 * none exit (as does bit 14 = 0 with mask = match = 0).
 * NMIs (vector 2) are governed by "NMI exiting", not by this bitmap; external interrupts never.
 *
 * @param bitmap - the 32-bit exception bitmap
 * @param vector - the exception vector, 0..31
 * @param pfec - the page-fault error code (used only for vector 14)
 * @param pfecMask - the page-fault error-code mask field
 * @param pfecMatch - the page-fault error-code match field
 * @returns true when the exception causes a VM exit
 * @example
 * ```ts
 * // shadow paging: exit on every #PF
 * exceptionCausesExit(1 << 14, 14, 0b10, 0, 0); // true
 * // exit only on write faults to present pages (P = 1, W/R = 1)
 * exceptionCausesExit(1 << 14, 14, 0b01, 0b11, 0b11); // false
 * ```
 */
export function exceptionCausesExit(
  bitmap: number,
  vector: number,
  pfec: number,
  pfecMask: number,
  pfecMatch: number,
): boolean {
  if (vector < 0 || vector > 31 || !Number.isInteger(vector)) return false;
  const bit = ((bitmap >>> vector) & 1) === 1;
  if (vector !== Vector.PF) return bit;
  // SDM Vol. 3C §26.2: "If the two are equal, ... bit 14 ... 1: exit; otherwise bit 14 ... 0".
  return ((pfec & pfecMask) >>> 0 === pfecMatch >>> 0) === bit;
}
