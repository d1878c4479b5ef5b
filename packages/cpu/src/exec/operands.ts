// Operand access: registers (SDM Vol. 1 §3.4.1.1), effective addresses (Vol. 1 §3.7.5,
// Vol. 2 §2.2.1) and canonical-address checks (Vol. 1 §3.3.7.1).
import { Vector } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import { type Instr, RIP_BASE, Seg } from '../decoder/instr.js';
import { CpuFault } from '../fault.js';

const TWO32 = 4294967296;
/** 2^47: the first non-canonical address with 4-level paging. */
export const CANONICAL_LIMIT = 2 ** 47;

/** RSP's register number. */
export const RSP = 4;
/** RBP's register number. */
export const RBP = 5;

/**
 * Reads a register of `size` bytes. Byte registers 4..7 are AH, CH, DH, BH without a REX
 * prefix and SPL, BPL, SIL, DIL with one (SDM Vol. 1 §3.7.2.1, Table 3-2). For size 8 the
 * high half goes to `cpu.xhi`.
 */
export function readReg(cpu: Cpu, r: number, size: number, rex: boolean): number {
  switch (size) {
    case 8:
      cpu.xhi = cpu.hi[r]!;
      return cpu.lo[r]!;
    case 4:
      return cpu.lo[r]!;
    case 2:
      return cpu.lo[r]! & 0xffff;
    default:
      if (!rex && r >= 4 && r < 8) return (cpu.lo[r - 4]! >>> 8) & 0xff;
      return cpu.lo[r]! & 0xff;
  }
}

/**
 * Writes a register: a 32-bit write zero-extends into bits 63:32, 8- and 16-bit writes leave
 * the other bits alone (SDM Vol. 1 §3.4.1.1).
 */
export function writeReg(
  cpu: Cpu,
  r: number,
  size: number,
  rex: boolean,
  lo: number,
  hi: number,
): void {
  switch (size) {
    case 8:
      cpu.lo[r] = lo;
      cpu.hi[r] = hi;
      return;
    case 4:
      cpu.lo[r] = lo;
      cpu.hi[r] = 0;
      return;
    case 2:
      cpu.lo[r] = (cpu.lo[r]! & 0xffff0000) | (lo & 0xffff);
      return;
    default:
      if (!rex && r >= 4 && r < 8) {
        cpu.lo[r - 4] = (cpu.lo[r - 4]! & 0xffff00ff) | ((lo & 0xff) << 8);
      } else {
        cpu.lo[r] = (cpu.lo[r]! & 0xffffff00) | (lo & 0xff);
      }
  }
}

/**
 * Turns a 64-bit address (hi:lo) into a linear address, raising #GP(0) — or #SS(0) for
 * stack references — when it is not canonical (SDM Vol. 1 §3.3.7.1; Vol. 3A §6.15).
 */
export function canonical(hi: number, lo: number, stack: boolean): number {
  const h = hi | 0;
  if (h > 0x7fff || h < -0x8000) throw new CpuFault(stack ? Vector.SS : Vector.GP, 0);
  return h * TWO32 + (lo >>> 0);
}

/**
 * The linear address of the instruction's memory operand: base + index * scale + disp
 * (mod 2^64, or mod 2^32 with a 67h prefix), plus the FS/GS base (SDM Vol. 1 §3.7.5,
 * Vol. 3A §3.4.4 for the FS/GS bases in 64-bit mode), checked for canonicality.
 */
export function effectiveAddress(cpu: Cpu, ins: Instr): number {
  let lo: number;
  let hi: number;
  const base = ins.base;
  if (base === -2) {
    lo = ins.imm;
    hi = ins.immHi;
  } else {
    lo = ins.disp >>> 0;
    hi = ins.disp < 0 ? -1 : 0;
    if (base === RIP_BASE) {
      const next = cpu.ripLinear + ins.length;
      lo += next >>> 0;
      hi += Math.floor(next / TWO32);
    } else if (base >= 0) {
      lo += cpu.lo[base]!;
      hi += cpu.hi[base]!;
    }
    const index = ins.index;
    if (index >= 0) {
      const s = ins.scale;
      const ilo = cpu.lo[index]!;
      if (s === 0) {
        lo += ilo;
        hi += cpu.hi[index]!;
      } else {
        lo += (ilo << s) >>> 0;
        hi += (cpu.hi[index]! << s) | (ilo >>> (32 - s));
      }
    }
    hi += Math.floor(lo / TWO32);
    lo >>>= 0;
  }
  if (ins.asize === 4) {
    hi = 0;
  }
  if (ins.seg !== Seg.NONE) {
    const sLo = ins.seg === Seg.FS ? cpu.fsBaseLo : cpu.gsBaseLo;
    const sHi = ins.seg === Seg.FS ? cpu.fsBaseHi : cpu.gsBaseHi;
    lo += sLo;
    hi += sHi + Math.floor(lo / TWO32);
    lo >>>= 0;
  }
  // A reference through RSP or RBP is a stack-segment reference (SDM Vol. 1 §3.7.5:
  // default segment selection).
  return canonical(hi, lo, base === RSP || base === RBP);
}

/** Reads `size` bytes at a linear address; for size 8 the high half goes to `cpu.xhi`. */
export function readMem(cpu: Cpu, la: number, size: number): number {
  const m = cpu.memory;
  switch (size) {
    case 1:
      return m.read8(la, cpu.cpl);
    case 2:
      checkSpan(la, 2);
      return m.read16(la, cpu.cpl);
    case 4:
      checkSpan(la, 4);
      return m.read32(la, cpu.cpl);
    default: {
      checkSpan(la, 8);
      const lo = m.read32(la, cpu.cpl);
      cpu.xhi = m.read32(la + 4, cpu.cpl);
      return lo;
    }
  }
}

/**
 * Writes `size` bytes at a linear address. The memory reports the store's physical address to
 * the code cache, which drops the blocks holding a byte it writes, so modified code is decoded
 * afresh before it runs again (SDM Vol. 3A §11.6, self-modifying code).
 */
export function writeMem(cpu: Cpu, la: number, size: number, lo: number, hi: number): void {
  const m = cpu.memory;
  switch (size) {
    case 1:
      m.write8(la, lo & 0xff, cpu.cpl);
      return;
    case 2:
      checkSpan(la, 2);
      m.write16(la, lo & 0xffff, cpu.cpl);
      return;
    case 4:
      checkSpan(la, 4);
      m.write32(la, lo, cpu.cpl);
      return;
    default:
      checkSpan(la, 8);
      m.write64(la, lo, hi, cpu.cpl);
  }
}

// An access whose last byte leaves the canonical lower half is not canonical (SDM Vol. 1
// §3.3.7.1 applies to every byte referenced).
function checkSpan(la: number, size: number): void {
  if (la >= 0 && la + size > CANONICAL_LIMIT) throw new CpuFault(Vector.GP, 0);
}

/** Reads the r/m operand (register or memory at `la`) of `size` bytes. */
export function readRm(cpu: Cpu, ins: Instr, la: number, size: number): number {
  if (ins.mod === 3) return readReg(cpu, ins.rm, size, ins.rex);
  return readMem(cpu, la, size);
}

/** Writes the r/m operand (register or memory at `la`). */
export function writeRm(
  cpu: Cpu,
  ins: Instr,
  la: number,
  size: number,
  lo: number,
  hi: number,
): void {
  if (ins.mod === 3) writeReg(cpu, ins.rm, size, ins.rex, lo, hi);
  else writeMem(cpu, la, size, lo, hi);
}

/** The linear address of the r/m operand, or 0 when it is a register. */
export function rmAddress(cpu: Cpu, ins: Instr): number {
  return ins.mod === 3 ? 0 : effectiveAddress(cpu, ins);
}
