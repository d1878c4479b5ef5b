// Shifts and rotates: ROL, ROR, RCL, RCR, SHL/SAL, SHR, SAR (SDM Vol. 2 "RCL/RCR/ROL/ROR" and
// "SAL/SAR/SHL/SHR" pages), SHLD and SHRD (their pages). The count is masked to 5 bits (6 with
// a 64-bit operand); a masked count of 0 changes nothing, flags included.
import { RFLAGS } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';
import { MASK, szp } from './flags.js';
import { readReg, readRm, rmAddress, writeRm } from './operands.js';

const CF = RFLAGS.CF;
const OF = RFLAGS.OF;
const AF = RFLAGS.AF;
const STATUS_SHIFT = RFLAGS.CF | RFLAGS.PF | RFLAGS.AF | RFLAGS.ZF | RFLAGS.SF | RFLAGS.OF;

function count(cpu: Cpu, ins: Instr): number {
  const last = ins.operands[ins.operands.length - 1];
  const raw = last === 'one' ? 1 : last === 'CL' ? cpu.lo[1]! & 0xff : ins.imm;
  return raw & (ins.osize === 8 ? 0x3f : 0x1f);
}

function bit(lo: number, hi: number, k: number): number {
  if (k < 0 || k >= 64) return 0;
  return k < 32 ? (lo >>> k) & 1 : (hi >>> (k - 32)) & 1;
}

let outHi = 0;

function shl64(lo: number, hi: number, n: number): number {
  if (n === 0) {
    outHi = hi;
    return lo;
  }
  if (n < 32) {
    outHi = ((hi << n) | (lo >>> (32 - n))) >>> 0;
    return (lo << n) >>> 0;
  }
  outHi = n < 64 ? (lo << (n - 32)) >>> 0 : 0;
  return 0;
}

function shr64(lo: number, hi: number, n: number, arith: boolean): number {
  if (n === 0) {
    outHi = hi;
    return lo;
  }
  if (n < 32) {
    outHi = (arith ? hi >> n : hi >>> n) >>> 0;
    return ((lo >>> n) | (hi << (32 - n))) >>> 0;
  }
  outHi = arith ? (hi >> 31) >>> 0 : 0;
  return (arith ? hi >> (n - 32) : hi >>> (n - 32)) >>> 0;
}

/**
 * Group 2 (C0h, C1h, D0h-D3h): `sub` is ModRM.reg — 0 ROL, 1 ROR, 2 RCL, 3 RCR, 4 SHL,
 * 5 SHR, 6 SAL (an alias of SHL), 7 SAR.
 */
export function shiftGroup(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const la = rmAddress(cpu, ins);
  const vLo = readRm(cpu, ins, la, size);
  const vHi = size === 8 ? cpu.xhi : 0;
  const n = count(cpu, ins);
  if (n === 0) {
    zeroCountWrite(cpu, ins);
    return;
  }
  const op = ins.sub;
  if (op === 2 || op === 3) {
    rotateThroughCarry(cpu, ins, la, op === 2, vLo, vHi, n);
    return;
  }
  const lo = shiftValue(cpu, op, size, vLo, vHi, n);
  writeRm(cpu, ins, la, size, lo, cpu.rhi);
}

/**
 * ROL (0), ROR (1), SHL (4), SHR (5), SAL (6) or SAR (7) of the value vLo/vHi of `size` bytes
 * by a masked, non-zero count `n`: sets RFLAGS and returns the low half of the result (the
 * high half in `cpu.rhi`). Shared by the handler and the block compiler's inline code.
 */
export function shiftValue(
  cpu: Cpu,
  op: number,
  size: number,
  vLo: number,
  vHi: number,
  n: number,
): number {
  const bits = size * 8;
  let lo: number;
  let hi = 0;
  let flags = cpu.flags;
  if (op === 0 || op === 1) {
    // ROL/ROR: rotate by n mod size; CF is the bit rotated into the far end; OF is defined
    // for a count of 1 (ROL: MSB(result) XOR CF; ROR: XOR of the two most significant bits).
    const k = n % bits;
    if (size === 8) {
      const l1 = shl64(vLo, vHi, op === 0 ? k : (64 - k) % 64);
      const h1 = outHi;
      const l2 = shr64(vLo, vHi, op === 0 ? (64 - k) % 64 : k, false);
      const h2 = outHi;
      lo = k === 0 ? vLo : (l1 | l2) >>> 0;
      hi = k === 0 ? vHi : (h1 | h2) >>> 0;
    } else {
      const m = MASK[size]!;
      const l = op === 0 ? k : (bits - k) % bits;
      lo = l === 0 ? vLo : (((vLo << l) | (vLo >>> (bits - l))) & m) >>> 0;
    }
    const msb = bit(lo, hi, bits - 1);
    const cf = op === 0 ? lo & 1 : msb;
    const of = op === 0 ? msb ^ cf : msb ^ bit(lo, hi, bits - 2);
    flags = (flags & ~(CF | OF)) | cf | (of ? OF : 0);
  } else {
    let cf: number;
    let of: number;
    if (op === 4 || op === 6) {
      // SHL/SAL: CF = last bit shifted out; OF (count 1) = MSB(result) XOR CF.
      if (size === 8) {
        lo = shl64(vLo, vHi, n);
        hi = outHi;
      } else {
        lo = ((vLo << n) & MASK[size]!) >>> 0;
      }
      cf = bit(vLo, vHi, bits - n);
      of = bit(lo, hi, bits - 1) ^ cf;
    } else if (op === 5) {
      // SHR: CF = last bit shifted out; OF (count 1) = MSB of the original operand.
      if (size === 8) {
        lo = shr64(vLo, vHi, n, false);
        hi = outHi;
      } else {
        lo = n >= 32 ? 0 : vLo >>> n;
      }
      cf = bit(vLo, vHi, n - 1);
      of = bit(vLo, vHi, bits - 1);
    } else {
      // SAR: shifts copies of the sign in; CF = last bit shifted out; OF (count 1) = 0.
      if (size === 8) {
        lo = shr64(vLo, vHi, n, true);
        hi = outHi;
        cf = bit(vLo, vHi, n - 1);
      } else {
        const s = (vLo << (32 - bits)) >> (32 - bits);
        lo = ((s >> Math.min(n, 31)) & MASK[size]!) >>> 0;
        cf = (s >> Math.min(n - 1, 31)) & 1;
      }
      of = 0;
    }
    // AF is undefined for a non-zero count; vmkit clears it. OF is undefined for counts
    // above 1; vmkit keeps the count-1 formula.
    flags = (flags & ~STATUS_SHIFT) | cf | (of ? OF : 0) | szp(size, lo, hi);
    flags &= ~AF;
  }
  cpu.flags = flags;
  cpu.rhi = hi;
  return lo;
}

/**
 * A masked count of 0 leaves the operand and the flags alone, but a 32-bit register
 * destination is still written, which clears bits 63:32 as every 32-bit register write does
 * in 64-bit mode (SDM Vol. 1 §3.4.1.1; observed on the host CPU by the differential test).
 */
function zeroCountWrite(cpu: Cpu, ins: Instr): void {
  if (ins.osize === 4 && ins.mod === 3) cpu.hi[ins.rm] = 0;
}

function toBig(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

// RCL/RCR rotate the (size + 1)-bit quantity CF:operand. The masked count is reduced mod 9
// for bytes and mod 17 for words (SDM Vol. 2 RCL/RCR, "tempCOUNT"). Only CF and OF change.
function rotateThroughCarry(
  cpu: Cpu,
  ins: Instr,
  la: number,
  left: boolean,
  vLo: number,
  vHi: number,
  n: number,
): void {
  const size = ins.osize;
  const bits = size * 8;
  const width = BigInt(bits + 1);
  const k = BigInt(size === 1 ? n % 9 : size === 2 ? n % 17 : n);
  const cfIn = BigInt(cpu.flags & CF);
  const v = toBig(vLo, vHi);
  const whole = (cfIn << BigInt(bits)) | v;
  const full = (1n << width) - 1n;
  const rot = left
    ? ((whole << k) | (whole >> (width - k))) & full
    : ((whole >> k) | (whole << (width - k))) & full;
  const r = rot & ((1n << BigInt(bits)) - 1n);
  const cf = Number(rot >> BigInt(bits));
  const msb = Number((r >> BigInt(bits - 1)) & 1n);
  // OF (count 1): RCL: MSB(result) XOR CF(after); RCR: MSB(original) XOR CF(before).
  const of = left ? msb ^ cf : Number((v >> BigInt(bits - 1)) & 1n) ^ Number(cfIn);
  writeRm(cpu, ins, la, size, Number(r & 0xffffffffn), Number(r >> 32n));
  cpu.flags = (cpu.flags & ~(CF | OF)) | cf | (of ? OF : 0);
}

/**
 * SHLD r/m, reg, imm8/CL (0F A4h, 0F A5h): shifts r/m left, filling from reg's high bits.
 * CF = last bit shifted out of r/m; OF (count 1) set when the sign changed; AF undefined
 * (cleared). A count above the operand size (16-bit only) leaves result and flags
 * undefined; vmkit then shifts the 48-bit concatenation dest:src:dest.
 */
export function shld(cpu: Cpu, ins: Instr): void {
  doubleShift(cpu, ins, true);
}

/** SHRD r/m, reg, imm8/CL (0F ACh, 0F ADh): the mirror image of {@link shld}. */
export function shrd(cpu: Cpu, ins: Instr): void {
  doubleShift(cpu, ins, false);
}

function doubleShift(cpu: Cpu, ins: Instr, left: boolean): void {
  const size = ins.osize;
  const bits = BigInt(size * 8);
  const la = rmAddress(cpu, ins);
  const dLo = readRm(cpu, ins, la, size);
  const d = toBig(dLo, size === 8 ? cpu.xhi : 0);
  const sLo = readReg(cpu, ins.reg, size, ins.rex);
  const s = toBig(sLo, size === 8 ? cpu.xhi : 0);
  const n = BigInt(count(cpu, ins));
  if (n === 0n) {
    zeroCountWrite(cpu, ins);
    return;
  }
  const m = (1n << bits) - 1n;
  let r: bigint;
  let cf: bigint;
  if (left) {
    const cat = (d << (2n * bits)) | (s << bits) | d;
    const width = 3n * bits;
    r = (cat >> (width - bits - n)) & m;
    cf = (cat >> (width - n)) & 1n;
  } else {
    const cat2 = (s << (2n * bits)) | (d << bits) | s;
    r = (cat2 >> (bits + n)) & m;
    cf = (cat2 >> (bits + n - 1n)) & 1n;
  }
  const lo = Number(r & 0xffffffffn);
  const hi = Number(r >> 32n);
  const signChanged = ((d ^ r) >> (bits - 1n)) & 1n;
  writeRm(cpu, ins, la, size, lo, hi);
  cpu.flags = (cpu.flags & ~STATUS_SHIFT) | Number(cf) | (signChanged ? OF : 0) | szp(size, lo, hi);
}
