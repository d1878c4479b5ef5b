// Status-flag computation, SDM Vol. 1 §3.4.3.1 and Appendix A ("EFLAGS Cross-Reference").
import { RFLAGS } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';

/** CF, PF, AF, ZF, SF and OF: the status flags that arithmetic writes. */
export const STATUS = RFLAGS.CF | RFLAGS.PF | RFLAGS.AF | RFLAGS.ZF | RFLAGS.SF | RFLAGS.OF;

/** PF for each low byte: set when the byte has an even number of 1 bits (SDM Vol. 1 §3.4.3.1). */
export const PARITY = new Uint8Array(256);
for (let v = 0; v < 256; v++) {
  let ones = 0;
  for (let b = v; b !== 0; b >>= 1) ones += b & 1;
  PARITY[v] = (ones & 1) === 0 ? RFLAGS.PF : 0;
}

/** Operand mask for sizes 1, 2 and 4 (index by size). */
export const MASK = [0, 0xff, 0xffff, 0, 0xffffffff];
/** Sign bit for sizes 1, 2 and 4 (index by size). */
export const SIGN = [0, 0x80, 0x8000, 0, 0x80000000];

/**
 * ZF, SF and PF of a result (lo and, for 64-bit, hi). Returns the flag bits, not yet merged.
 */
export function szp(size: number, lo: number, hi: number): number {
  if (size === 8) {
    return (
      ((lo | hi) === 0 ? RFLAGS.ZF : 0) | (hi & 0x80000000 ? RFLAGS.SF : 0) | PARITY[lo & 0xff]!
    );
  }
  return (lo === 0 ? RFLAGS.ZF : 0) | (lo & SIGN[size]! ? RFLAGS.SF : 0) | PARITY[lo & 0xff]!;
}

/** Replaces the status flags selected by `mask` with `bits`. */
export function setFlags(cpu: Cpu, mask: number, bits: number): void {
  cpu.flags = (cpu.flags & ~mask) | bits;
}

/**
 * ADD/ADC: a + b + carry with CF, OF, AF, ZF, SF, PF as the ADD page of SDM Vol. 2 defines
 * them. Returns the low 32 bits; the high half (64-bit) goes to `cpu.rhi`.
 */
export function add(
  cpu: Cpu,
  size: number,
  aLo: number,
  aHi: number,
  bLo: number,
  bHi: number,
  carry: number,
): number {
  return size === 8 ? add64(cpu, aLo, aHi, bLo, bHi, carry) : addNarrow(cpu, size, aLo, bLo, carry);
}

/** {@link add} for 64-bit operands (split out so that compiled blocks call a small function). */
export function add64(
  cpu: Cpu,
  aLo: number,
  aHi: number,
  bLo: number,
  bHi: number,
  carry: number,
): number {
  const l = aLo + bLo + carry;
  const lo = l >>> 0;
  const h = aHi + bHi + (l > 0xffffffff ? 1 : 0);
  const hi = h >>> 0;
  cpu.rhi = hi;
  cpu.flags =
    (cpu.flags & ~STATUS) |
    (h > 0xffffffff ? RFLAGS.CF : 0) |
    ((aHi ^ hi) & (bHi ^ hi) & 0x80000000 ? RFLAGS.OF : 0) |
    ((aLo ^ bLo ^ lo) & RFLAGS.AF) |
    ((lo | hi) === 0 ? RFLAGS.ZF : 0) |
    (hi & 0x80000000 ? RFLAGS.SF : 0) |
    PARITY[lo & 0xff]!;
  return lo;
}

/** {@link add} for 8-, 16- and 32-bit operands. */
export function addNarrow(cpu: Cpu, size: number, aLo: number, bLo: number, carry: number): number {
  const r = aLo + bLo + carry;
  const res = (r & MASK[size]!) >>> 0;
  cpu.flags =
    (cpu.flags & ~STATUS) |
    (r > MASK[size]! ? RFLAGS.CF : 0) |
    ((aLo ^ res) & (bLo ^ res) & SIGN[size]! ? RFLAGS.OF : 0) |
    ((aLo ^ bLo ^ res) & RFLAGS.AF) |
    szp(size, res, 0);
  cpu.rhi = 0;
  return res;
}

/** SUB/SBB/CMP/NEG: a - b - borrow with the flags of the SUB page of SDM Vol. 2. */
export function sub(
  cpu: Cpu,
  size: number,
  aLo: number,
  aHi: number,
  bLo: number,
  bHi: number,
  borrow: number,
): number {
  return size === 8
    ? sub64(cpu, aLo, aHi, bLo, bHi, borrow)
    : subNarrow(cpu, size, aLo, bLo, borrow);
}

/** {@link sub} for 64-bit operands. */
export function sub64(
  cpu: Cpu,
  aLo: number,
  aHi: number,
  bLo: number,
  bHi: number,
  borrow: number,
): number {
  const l = aLo - bLo - borrow;
  const lo = l >>> 0;
  const h = aHi - bHi - (l < 0 ? 1 : 0);
  const hi = h >>> 0;
  cpu.rhi = hi;
  cpu.flags =
    (cpu.flags & ~STATUS) |
    (h < 0 ? RFLAGS.CF : 0) |
    ((aHi ^ bHi) & (aHi ^ hi) & 0x80000000 ? RFLAGS.OF : 0) |
    ((aLo ^ bLo ^ lo) & RFLAGS.AF) |
    ((lo | hi) === 0 ? RFLAGS.ZF : 0) |
    (hi & 0x80000000 ? RFLAGS.SF : 0) |
    PARITY[lo & 0xff]!;
  return lo;
}

/** {@link sub} for 8-, 16- and 32-bit operands. */
export function subNarrow(
  cpu: Cpu,
  size: number,
  aLo: number,
  bLo: number,
  borrow: number,
): number {
  const r = aLo - bLo - borrow;
  const res = (r & MASK[size]!) >>> 0;
  cpu.flags =
    (cpu.flags & ~STATUS) |
    (r < 0 ? RFLAGS.CF : 0) |
    ((aLo ^ bLo) & (aLo ^ res) & SIGN[size]! ? RFLAGS.OF : 0) |
    ((aLo ^ bLo ^ res) & RFLAGS.AF) |
    szp(size, res, 0);
  cpu.rhi = 0;
  return res;
}

/**
 * AND/OR/XOR/TEST: OF and CF cleared, SF/ZF/PF from the result (SDM Vol. 2 AND page). AF is
 * "undefined"; vmkit clears it, as the processors we compared against do.
 */
export function logicFlags(cpu: Cpu, size: number, lo: number, hi: number): void {
  cpu.flags = (cpu.flags & ~STATUS) | szp(size, lo, hi);
}

/** Evaluates condition code `cc` (0..15, the tttn encoding of SDM Vol. 2 Table B-1). */
export function condition(flags: number, cc: number): boolean {
  let r: boolean;
  switch (cc >> 1) {
    case 0:
      r = (flags & RFLAGS.OF) !== 0;
      break;
    case 1:
      r = (flags & RFLAGS.CF) !== 0;
      break;
    case 2:
      r = (flags & RFLAGS.ZF) !== 0;
      break;
    case 3:
      r = (flags & (RFLAGS.CF | RFLAGS.ZF)) !== 0;
      break;
    case 4:
      r = (flags & RFLAGS.SF) !== 0;
      break;
    case 5:
      r = (flags & RFLAGS.PF) !== 0;
      break;
    case 6:
      r = ((flags & RFLAGS.SF) !== 0) !== ((flags & RFLAGS.OF) !== 0);
      break;
    default:
      r = (flags & RFLAGS.ZF) !== 0 || ((flags & RFLAGS.SF) !== 0) !== ((flags & RFLAGS.OF) !== 0);
  }
  return (cc & 1) === 0 ? r : !r;
}
