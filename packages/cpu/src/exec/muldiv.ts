// Multiply and divide: MUL, IMUL (one, two and three operands), DIV, IDIV (SDM Vol. 2 pages
// of each). Products are computed in 32-bit words; 64-bit and 128/64-bit divisions go through
// bigint (rare in compiled code).
import { RFLAGS, Vector } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';
import { CpuFault } from '../fault.js';
import { readReg, readRm, rmAddress, writeReg } from './operands.js';

const CF_OF = RFLAGS.CF | RFLAGS.OF;
const RAX = 0;
const RDX = 2;

function setCfOf(cpu: Cpu, overflow: boolean): void {
  // SF, ZF, AF and PF are undefined after MUL/IMUL (SDM Vol. 2 MUL, IMUL "Flags Affected");
  // vmkit leaves them unchanged.
  cpu.flags = (cpu.flags & ~CF_OF) | (overflow ? CF_OF : 0);
}

function big(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function signed64(lo: number, hi: number): bigint {
  return BigInt.asIntN(64, big(lo, hi));
}

let mulHi = 0;
/** Unsigned 32 x 32 -> 64 multiply; returns the low half, the high half in `mulHi`. */
function mulu32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  mulHi = (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + Math.floor(mid / 65536)) >>> 0;
  return (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
}

// The 128-bit product of two 64-bit values as four 32-bit words (w0 lowest), without bigint:
// the interpreter's hot 64-bit IMUL forms must not allocate.
const W = new Uint32Array(4);
const TWO32 = 4294967296;

function mul64(aLo: number, aHi: number, bLo: number, bHi: number, signed: boolean): void {
  const l0 = mulu32(aLo, bLo);
  const h0 = mulHi;
  const l1 = mulu32(aLo, bHi);
  const h1 = mulHi;
  const l2 = mulu32(aHi, bLo);
  const h2 = mulHi;
  const l3 = mulu32(aHi, bHi);
  const h3 = mulHi;
  const mid1 = h0 + l1 + l2;
  const c1 = Math.floor(mid1 / TWO32);
  const mid2 = h1 + h2 + l3 + c1;
  const c2 = Math.floor(mid2 / TWO32);
  let w2 = mid2 >>> 0;
  let w3 = (h3 + c2) >>> 0;
  if (signed) {
    // Two's-complement correction of the high half: subtract b if a < 0 and a if b < 0.
    if (aHi & 0x80000000) {
      const t = w2 - bLo;
      w3 = (w3 - bHi - (t < 0 ? 1 : 0)) >>> 0;
      w2 = t >>> 0;
    }
    if (bHi & 0x80000000) {
      const t = w2 - aLo;
      w3 = (w3 - aHi - (t < 0 ? 1 : 0)) >>> 0;
      w2 = t >>> 0;
    }
  }
  W[0] = l0;
  W[1] = mid1;
  W[2] = w2;
  W[3] = w3;
}

/** MUL r/m (F6h/F7h /4): unsigned rDX:rAX = rAX * r/m; CF = OF = (high half != 0). */
export function mul(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const src = readRm(cpu, ins, rmAddress(cpu, ins), size);
  const srcHi = cpu.xhi;
  switch (size) {
    case 1: {
      const p = (cpu.lo[RAX]! & 0xff) * src;
      writeReg(cpu, RAX, 2, false, p, 0);
      setCfOf(cpu, p > 0xff);
      return;
    }
    case 2: {
      const p = (cpu.lo[RAX]! & 0xffff) * src;
      writeReg(cpu, RAX, 2, false, p & 0xffff, 0);
      writeReg(cpu, RDX, 2, false, p >>> 16, 0);
      setCfOf(cpu, p > 0xffff);
      return;
    }
    case 4: {
      const lo = mulu32(cpu.lo[RAX]!, src);
      const hi = mulHi;
      writeReg(cpu, RAX, 4, false, lo, 0);
      writeReg(cpu, RDX, 4, false, hi, 0);
      setCfOf(cpu, hi !== 0);
      return;
    }
    default: {
      mul64(cpu.lo[RAX]!, cpu.hi[RAX]!, src, srcHi, false);
      storeProduct(cpu);
      setCfOf(cpu, (W[2]! | W[3]!) !== 0);
    }
  }
}

function storeProduct(cpu: Cpu): void {
  cpu.lo[RAX] = W[0]!;
  cpu.hi[RAX] = W[1]!;
  cpu.lo[RDX] = W[2]!;
  cpu.hi[RDX] = W[3]!;
}

/** Whether the high half W[3]:W[2] is the sign extension of the low half W[1]:W[0]. */
function fitsSigned(): boolean {
  const ext = W[1]! & 0x80000000 ? 0xffffffff : 0;
  return W[2] === ext && W[3] === ext;
}

/** IMUL r/m (F6h/F7h /5): signed rDX:rAX = rAX * r/m; CF = OF = (result != sext(low half)). */
export function imul1(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const src = readRm(cpu, ins, rmAddress(cpu, ins), size);
  const srcHi = cpu.xhi;
  switch (size) {
    case 1: {
      const p = ((cpu.lo[RAX]! << 24) >> 24) * ((src << 24) >> 24);
      writeReg(cpu, RAX, 2, false, p & 0xffff, 0);
      setCfOf(cpu, p !== (p << 24) >> 24);
      return;
    }
    case 2: {
      const p = ((cpu.lo[RAX]! << 16) >> 16) * ((src << 16) >> 16);
      writeReg(cpu, RAX, 2, false, p & 0xffff, 0);
      writeReg(cpu, RDX, 2, false, (p >> 16) & 0xffff, 0);
      setCfOf(cpu, p !== (p << 16) >> 16);
      return;
    }
    case 4: {
      const a = cpu.lo[RAX]!;
      const lo = mulu32(a, src);
      // Signed high half from the unsigned one: subtract b when a < 0 and a when b < 0.
      let hi = mulHi;
      if (a & 0x80000000) hi -= src;
      if (src & 0x80000000) hi -= a;
      hi >>>= 0;
      writeReg(cpu, RAX, 4, false, lo, 0);
      writeReg(cpu, RDX, 4, false, hi, 0);
      setCfOf(cpu, hi !== (lo & 0x80000000 ? 0xffffffff : 0));
      return;
    }
    default: {
      mul64(cpu.lo[RAX]!, cpu.hi[RAX]!, src, srcHi, true);
      storeProduct(cpu);
      setCfOf(cpu, !fitsSigned());
    }
  }
}

/** Truncating signed multiply shared by the two- and three-operand IMUL forms. */
function imulTrunc(cpu: Cpu, ins: Instr, aLo: number, aHi: number, bLo: number, bHi: number): void {
  const size = ins.osize;
  switch (size) {
    case 2: {
      const p = ((aLo << 16) >> 16) * ((bLo << 16) >> 16);
      writeReg(cpu, ins.reg, 2, ins.rex, p & 0xffff, 0);
      setCfOf(cpu, p !== (p << 16) >> 16);
      return;
    }
    case 4: {
      // The double product is exact whenever |p| < 2^53, and any larger |p| overflows anyway.
      const p = (aLo | 0) * (bLo | 0);
      writeReg(cpu, ins.reg, 4, ins.rex, Math.imul(aLo, bLo) >>> 0, 0);
      setCfOf(cpu, p > 0x7fffffff || p < -0x80000000);
      return;
    }
    default: {
      mul64(aLo, aHi, bLo, bHi, true);
      writeReg(cpu, ins.reg, 8, ins.rex, W[0]!, W[1]!);
      setCfOf(cpu, !fitsSigned());
    }
  }
}

/** IMUL reg, r/m (0F AFh). */
export function imul2(cpu: Cpu, ins: Instr): void {
  const b = readRm(cpu, ins, rmAddress(cpu, ins), ins.osize);
  const bHi = cpu.xhi;
  const a = readReg(cpu, ins.reg, ins.osize, ins.rex);
  imulTrunc(cpu, ins, a, cpu.xhi, b, bHi);
}

/** IMUL reg, r/m, imm (69h, 6Bh). */
export function imul3(cpu: Cpu, ins: Instr): void {
  const a = readRm(cpu, ins, rmAddress(cpu, ins), ins.osize);
  imulTrunc(cpu, ins, a, cpu.xhi, ins.imm, ins.immHi);
}

function divideError(): CpuFault {
  return new CpuFault(Vector.DE);
}

// DIV and IDIV leave CF, OF, SF, ZF, AF and PF undefined (SDM Vol. 2 DIV, IDIV); vmkit leaves
// them unchanged.

/** DIV r/m (F6h/F7h /6): unsigned; #DE on a zero divisor or a quotient too large. */
export function div(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const d = readRm(cpu, ins, rmAddress(cpu, ins), size);
  const dHi = cpu.xhi;
  switch (size) {
    case 1: {
      if (d === 0) throw divideError();
      const n = cpu.lo[RAX]! & 0xffff;
      const q = Math.floor(n / d);
      if (q > 0xff) throw divideError();
      writeReg(cpu, RAX, 2, false, ((n % d) << 8) | q, 0);
      return;
    }
    case 2: {
      if (d === 0) throw divideError();
      const n = (cpu.lo[RDX]! & 0xffff) * 65536 + (cpu.lo[RAX]! & 0xffff);
      const q = Math.floor(n / d);
      if (q > 0xffff) throw divideError();
      writeReg(cpu, RAX, 2, false, q, 0);
      writeReg(cpu, RDX, 2, false, n % d, 0);
      return;
    }
    case 4: {
      if (d === 0) throw divideError();
      const n = big(cpu.lo[RAX]!, cpu.lo[RDX]!);
      const q = n / BigInt(d);
      if (q > 0xffffffffn) throw divideError();
      writeReg(cpu, RAX, 4, false, Number(q), 0);
      writeReg(cpu, RDX, 4, false, Number(n % BigInt(d)), 0);
      return;
    }
    default: {
      const dv = big(d, dHi);
      if (dv === 0n) throw divideError();
      const n = (big(cpu.lo[RDX]!, cpu.hi[RDX]!) << 64n) | big(cpu.lo[RAX]!, cpu.hi[RAX]!);
      const q = n / dv;
      if (q > 0xffffffffffffffffn) throw divideError();
      const r = n % dv;
      cpu.lo[RAX] = Number(q & 0xffffffffn);
      cpu.hi[RAX] = Number(q >> 32n);
      cpu.lo[RDX] = Number(r & 0xffffffffn);
      cpu.hi[RDX] = Number(r >> 32n);
    }
  }
}

/**
 * IDIV r/m (F6h/F7h /7): signed, quotient truncated toward zero, remainder with the sign of
 * the dividend; #DE on a zero divisor or a quotient outside the destination's range.
 */
export function idiv(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const d = readRm(cpu, ins, rmAddress(cpu, ins), size);
  const dHi = cpu.xhi;
  switch (size) {
    case 1: {
      const dv = (d << 24) >> 24;
      if (dv === 0) throw divideError();
      const n = ((cpu.lo[RAX]! & 0xffff) << 16) >> 16;
      const q = Math.trunc(n / dv);
      if (q > 127 || q < -128) throw divideError();
      writeReg(cpu, RAX, 2, false, (((n % dv) & 0xff) << 8) | (q & 0xff), 0);
      return;
    }
    case 2: {
      const dv = (d << 16) >> 16;
      if (dv === 0) throw divideError();
      const n = (cpu.lo[RDX]! << 16) | (cpu.lo[RAX]! & 0xffff);
      const q = Math.trunc(n / dv);
      if (q > 32767 || q < -32768) throw divideError();
      writeReg(cpu, RAX, 2, false, q & 0xffff, 0);
      writeReg(cpu, RDX, 2, false, (n % dv) & 0xffff, 0);
      return;
    }
    case 4: {
      const dv = BigInt(d | 0);
      if (dv === 0n) throw divideError();
      const n = signed64(cpu.lo[RAX]!, cpu.lo[RDX]!);
      const q = n / dv;
      if (q > 0x7fffffffn || q < -0x80000000n) throw divideError();
      writeReg(cpu, RAX, 4, false, Number(BigInt.asUintN(32, q)), 0);
      writeReg(cpu, RDX, 4, false, Number(BigInt.asUintN(32, n % dv)), 0);
      return;
    }
    default: {
      const dv = signed64(d, dHi);
      if (dv === 0n) throw divideError();
      const n = BigInt.asIntN(
        128,
        (big(cpu.lo[RDX]!, cpu.hi[RDX]!) << 64n) | big(cpu.lo[RAX]!, cpu.hi[RAX]!),
      );
      const q = n / dv;
      if (q > 0x7fffffffffffffffn || q < -0x8000000000000000n) throw divideError();
      const qu = BigInt.asUintN(64, q);
      const r = BigInt.asUintN(64, n % dv);
      cpu.lo[RAX] = Number(qu & 0xffffffffn);
      cpu.hi[RAX] = Number(qu >> 32n);
      cpu.lo[RDX] = Number(r & 0xffffffffn);
      cpu.hi[RDX] = Number(r >> 32n);
    }
  }
}
