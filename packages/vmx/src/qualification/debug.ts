// Exit qualification for debug exceptions (#DB that exits through the exception bitmap),
// SDM Vol. 3C §28.2.1, Table 28-1 "Exit Qualification for Debug Exceptions".
import { fit, flag, low32 } from '../bits.js';

/**
 * The exit qualification of a VM exit caused by a debug exception (SDM Vol. 3C §28.2.1,
 * Table 28-1). It reports what DR6 would have received; bits 10:4, 12, 15 and 63:17 are 0.
 * Unlike DR6, BLD and RTM are set (not cleared) to report their condition.
 */
export interface DebugQualification {
  /** Bits 3:0 B3..B0: breakpoint condition n was met (even if its DR7 enable bit is clear). */
  readonly breakpoints: number;
  /** Bit 11 BLD: a bus lock was asserted (OS bus-lock detection). */
  readonly busLockDetected: boolean;
  /** Bit 13 BD: debug register access detected. */
  readonly debugRegisterAccess: boolean;
  /** Bit 14 BS: single step (single instruction or branch). */
  readonly singleStep: boolean;
  /** Bit 16 RTM: the debug exception occurred inside an RTM region. */
  readonly rtm: boolean;
}

/**
 * Encodes a debug-exception exit qualification.
 *
 * @param q - the fields (`breakpoints` is a 4-bit mask)
 * @returns the qualification
 * @throws {@link VmxError} `INVALID_FIELD` when `breakpoints` does not fit in 4 bits
 * @example
 * ```ts
 * encodeDebugQualification({ breakpoints: 0, busLockDetected: false,
 *   debugRegisterAccess: false, singleStep: true, rtm: false }); // 0x4000
 * ```
 */
export function encodeDebugQualification(q: DebugQualification): number {
  return (
    fit(q.breakpoints, 4, 'breakpoints') |
    (flag(q.busLockDetected, 'busLockDetected') << 11) |
    (flag(q.debugRegisterAccess, 'debugRegisterAccess') << 13) |
    (flag(q.singleStep, 'singleStep') << 14) |
    (flag(q.rtm, 'rtm') << 16)
  );
}

/**
 * Decodes a debug-exception exit qualification. Reserved bits are ignored.
 *
 * @param value - the qualification (a number, or the natural-width field as a bigint)
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` for a negative or non-integer value
 * @example
 * ```ts
 * decodeDebugQualification(0x4001).breakpoints; // 1 (B0)
 * ```
 */
export function decodeDebugQualification(value: number | bigint): DebugQualification {
  const v = low32(value, 'debug-exception qualification');
  return {
    breakpoints: v & 0xf,
    busLockDetected: ((v >>> 11) & 1) === 1,
    debugRegisterAccess: ((v >>> 13) & 1) === 1,
    singleStep: ((v >>> 14) & 1) === 1,
    rtm: ((v >>> 16) & 1) === 1,
  };
}
