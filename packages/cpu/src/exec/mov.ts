// Data movement: MOV, MOVZX, MOVSX, MOVSXD, LEA (SDM Vol. 2 pages MOV, MOVZX, MOVSX/MOVSXD,
// LEA). None affects flags.
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';
import {
  effectiveAddress,
  readMem,
  readReg,
  readRm,
  rmAddress,
  writeMem,
  writeReg,
  writeRm,
} from './operands.js';

/** MOV r/m, reg (88h, 89h). */
export function movRmReg(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const la = rmAddress(cpu, ins);
  const lo = readReg(cpu, ins.reg, size, ins.rex);
  writeRm(cpu, ins, la, size, lo, cpu.xhi);
}

/** MOV reg, r/m (8Ah, 8Bh). */
export function movRegRm(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const lo = readRm(cpu, ins, rmAddress(cpu, ins), size);
  writeReg(cpu, ins.reg, size, ins.rex, lo, cpu.xhi);
}

/** MOV reg, imm (B0h+r, B8h+r; with REX.W a full 64-bit immediate). */
export function movRegImm(cpu: Cpu, ins: Instr): void {
  writeReg(cpu, ins.reg, ins.osize, ins.rex, ins.imm, ins.immHi);
}

/** MOV r/m, imm (C6h /0, C7h /0; imm32 sign-extended for 64-bit). */
export function movRmImm(cpu: Cpu, ins: Instr): void {
  writeRm(cpu, ins, rmAddress(cpu, ins), ins.osize, ins.imm, ins.immHi);
}

/** MOV AL/rAX, moffs (A0h, A1h). */
export function movAccMoffs(cpu: Cpu, ins: Instr): void {
  const lo = readMem(cpu, effectiveAddress(cpu, ins), ins.osize);
  writeReg(cpu, 0, ins.osize, ins.rex, lo, cpu.xhi);
}

/** MOV moffs, AL/rAX (A2h, A3h). */
export function movMoffsAcc(cpu: Cpu, ins: Instr): void {
  const la = effectiveAddress(cpu, ins);
  const lo = readReg(cpu, 0, ins.osize, ins.rex);
  writeMem(cpu, la, ins.osize, lo, cpu.xhi);
}

/** MOVZX reg, r/m8 or r/m16 (0F B6h, 0F B7h); `sub` is the source size. */
export function movzx(cpu: Cpu, ins: Instr): void {
  const v = readRm(cpu, ins, rmAddress(cpu, ins), ins.sub);
  writeReg(cpu, ins.reg, ins.osize, ins.rex, v, 0);
}

/** MOVSX reg, r/m8 or r/m16 (0F BEh, 0F BFh); `sub` is the source size. */
export function movsx(cpu: Cpu, ins: Instr): void {
  const v = readRm(cpu, ins, rmAddress(cpu, ins), ins.sub);
  const s = ins.sub === 1 ? (v << 24) >> 24 : (v << 16) >> 16;
  writeReg(cpu, ins.reg, ins.osize, ins.rex, s >>> 0, s < 0 ? 0xffffffff : 0);
}

/** MOVSXD r64, r/m32 (REX.W 63h). */
export function movsxd(cpu: Cpu, ins: Instr): void {
  const v = readRm(cpu, ins, rmAddress(cpu, ins), 4);
  writeReg(cpu, ins.reg, 8, ins.rex, v, v & 0x80000000 ? 0xffffffff : 0);
}

/**
 * LEA reg, m (8Dh): the effective address without segment base or canonical check, truncated
 * to the operand size (SDM Vol. 2 LEA, Table 3-54 "address size vs operand size").
 */
export function lea(cpu: Cpu, ins: Instr): void {
  const lo = leaAddress(cpu, ins);
  writeReg(cpu, ins.reg, ins.osize, ins.rex, lo, cpu.rhi);
}

const TWO32 = 4294967296;

function leaAddress(cpu: Cpu, ins: Instr): number {
  let lo = ins.disp >>> 0;
  let hi = ins.disp < 0 ? -1 : 0;
  const base = ins.base;
  if (base === 16) {
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
  cpu.rhi = ins.asize === 4 ? 0 : hi >>> 0;
  return lo >>> 0;
}
