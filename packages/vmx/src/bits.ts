// Internal helpers for fixed bit layouts of 32-bit VMCS fields (not exported from the package).
import { VmxError } from './errors.js';

/**
 * Checks that a raw field value is a non-negative safe integer (number) or a bigint in
 * [0, 2^64), and returns its low 32 bits. Every layout this package decodes defines bits 31:0
 * only (bits 63:32 of the natural-width exit qualification are "not currently defined"), so the
 * low half is all that matters.
 */
export function low32(value: number | bigint, what: string): number {
  if (typeof value === 'bigint') {
    if (value < 0n || value >= 1n << 64n) {
      throw new VmxError('INVALID_VALUE', `${what} ${value} is not in [0, 2^64)`);
    }
    return Number(value & 0xffff_ffffn);
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new VmxError('INVALID_VALUE', `${what} ${value} is not a non-negative safe integer`);
  }
  return value >>> 0;
}

/** Checks that `value` is an integer that fits in `width` bits and returns it. */
export function fit(value: number, width: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** width) {
    throw new VmxError('INVALID_FIELD', `${field} ${value} does not fit in ${width} bits`, field);
  }
  return value;
}

/** Checks a boolean field (so a stray 0/1 number is caught at the API edge). */
export function flag(value: boolean, field: string): number {
  if (typeof value !== 'boolean') {
    throw new VmxError('INVALID_FIELD', `${field} must be a boolean`, field);
  }
  return value ? 1 : 0;
}
