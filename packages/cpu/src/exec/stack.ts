// Stack operations in 64-bit mode: PUSH, POP, PUSHFQ, POPFQ, ENTER, LEAVE (SDM Vol. 2 pages
// of each; the stack-address size is 64 bits, SDM Vol. 1 §6.2.5).
import { RFLAGS } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';
import {
  canonical,
  effectiveAddress,
  RBP,
  RSP,
  readMem,
  readRm,
  rmAddress,
  writeMem,
  writeReg,
} from './operands.js';

const TWO32 = 4294967296;

/** RSP + delta as hi/lo; returns lo, hi in `stackHi`. */
let stackHi = 0;
function rspPlus(cpu: Cpu, delta: number): number {
  const l = cpu.lo[RSP]! + delta;
  stackHi = (cpu.hi[RSP]! + Math.floor(l / TWO32)) >>> 0;
  return l >>> 0;
}

/**
 * Pushes a 64-bit value: the store goes to RSP - 8 first, and RSP changes only once the store
 * has succeeded (a fault leaves RSP as it was).
 */
export function push64(cpu: Cpu, lo: number, hi: number): void {
  const nlo = rspPlus(cpu, -8);
  const nhi = stackHi;
  writeMem(cpu, canonical(nhi, nlo, true), 8, lo, hi);
  cpu.lo[RSP] = nlo;
  cpu.hi[RSP] = nhi;
}

/** Reads the 64-bit value at RSP without moving RSP; high half in `cpu.xhi`. */
export function peek64(cpu: Cpu): number {
  return readMem(cpu, canonical(cpu.hi[RSP]!, cpu.lo[RSP]!, true), 8);
}

/** Adds `delta` bytes to RSP. */
export function adjustRsp(cpu: Cpu, delta: number): void {
  const lo = rspPlus(cpu, delta);
  cpu.lo[RSP] = lo;
  cpu.hi[RSP] = stackHi;
}

/** PUSH r64 (50h+r). */
export function pushReg(cpu: Cpu, ins: Instr): void {
  push64(cpu, cpu.lo[ins.reg]!, cpu.hi[ins.reg]!);
}

/** POP r64 (58h+r): RSP is incremented before the register is written (POP RSP loads RSP). */
export function popReg(cpu: Cpu, ins: Instr): void {
  const lo = peek64(cpu);
  const hi = cpu.xhi;
  adjustRsp(cpu, 8);
  writeReg(cpu, ins.reg, 8, true, lo, hi);
}

/** PUSH r/m64 (FFh /6): the operand is read with RSP's value before the push. */
export function pushRm(cpu: Cpu, ins: Instr): void {
  const lo = readRm(cpu, ins, rmAddress(cpu, ins), 8);
  push64(cpu, lo, cpu.xhi);
}

/**
 * POP r/m64 (8Fh /0). An address based on RSP is computed with RSP's value after the pop
 * (SDM Vol. 2 POP: "If the destination operand uses ESP/RSP as base, the address is
 * computed after the increment"). A fault leaves RSP unchanged.
 */
export function popRm(cpu: Cpu, ins: Instr): void {
  const lo = peek64(cpu);
  const hi = cpu.xhi;
  if (ins.mod === 3) {
    adjustRsp(cpu, 8);
    writeReg(cpu, ins.rm, 8, true, lo, hi);
    return;
  }
  const oldLo = cpu.lo[RSP]!;
  const oldHi = cpu.hi[RSP]!;
  adjustRsp(cpu, 8);
  try {
    writeMem(cpu, effectiveAddress(cpu, ins), 8, lo, hi);
  } catch (e) {
    cpu.lo[RSP] = oldLo;
    cpu.hi[RSP] = oldHi;
    throw e;
  }
}

/** PUSH imm (68h, 6Ah): the immediate sign-extended to 64 bits. */
export function pushImm(cpu: Cpu, ins: Instr): void {
  push64(cpu, ins.imm, ins.immHi);
}

/** PUSHFQ (9Ch): pushes RFLAGS with VM and RF cleared in the image (SDM Vol. 2 PUSHF). */
export function pushf(cpu: Cpu, _ins: Instr): void {
  push64(cpu, (cpu.flags & ~(RFLAGS.VM | RFLAGS.RF)) >>> 0, 0);
}

/**
 * POPFQ (9Dh), SDM Vol. 2 POPF: at CPL 0 every writable flag may change except VM, VIF
 * and VIP; IOPL only at CPL 0; IF only when CPL <= IOPL; RF is cleared.
 */
export function popf(cpu: Cpu, _ins: Instr): void {
  const v = peek64(cpu);
  adjustRsp(cpu, 8);
  cpu.flags = poppedRflags(cpu, v);
}

/**
 * RFLAGS after loading `value` as POPF does in 64-bit mode at the current CPL (also IRETQ's
 * rule, at the CPL before the return): VM, VIF and VIP stay clear, IOPL changes only at CPL 0,
 * IF only when CPL <= IOPL, and RF is cleared (SDM Vol. 2B POPF, Table 4-16).
 */
export function poppedRflags(cpu: Cpu, value: number): number {
  let writable =
    RFLAGS.CF |
    RFLAGS.PF |
    RFLAGS.AF |
    RFLAGS.ZF |
    RFLAGS.SF |
    RFLAGS.TF |
    RFLAGS.DF |
    RFLAGS.OF |
    RFLAGS.NT |
    RFLAGS.AC |
    RFLAGS.ID;
  const iopl = (cpu.flags & RFLAGS.IOPL) >>> 12;
  if (cpu.cpl === 0) writable |= RFLAGS.IOPL;
  if (cpu.cpl <= iopl) writable |= RFLAGS.IF;
  return ((cpu.flags & ~writable & ~RFLAGS.RF) | (value & writable) | RFLAGS.FIXED1) >>> 0;
}

/**
 * ENTER imm16, imm8 (C8h), 64-bit operand size (SDM Vol. 2 ENTER): push RBP, copy
 * `level - 1` frame pointers from the enclosing frame, push the new frame pointer, set RBP,
 * then reserve imm16 bytes. The nesting level is taken modulo 32.
 */
export function enter(cpu: Cpu, ins: Instr): void {
  const level = ins.imm2 & 31;
  const saveLo = cpu.lo[RSP]!;
  const saveHi = cpu.hi[RSP]!;
  try {
    push64(cpu, cpu.lo[RBP]!, cpu.hi[RBP]!);
    const frameLo = cpu.lo[RSP]!;
    const frameHi = cpu.hi[RSP]!;
    if (level > 0) {
      let bLo = cpu.lo[RBP]!;
      let bHi = cpu.hi[RBP]!;
      for (let i = 1; i < level; i++) {
        const l = bLo - 8;
        bHi = (bHi + Math.floor(l / TWO32)) >>> 0;
        bLo = l >>> 0;
        const vLo = readMem(cpu, canonical(bHi, bLo, true), 8);
        push64(cpu, vLo, cpu.xhi);
      }
      push64(cpu, frameLo, frameHi);
    }
    // The final RSP must be canonical before anything commits (SDM ENTER: #SS(0)).
    const l = cpu.lo[RSP]! - ins.imm;
    const nHi = (cpu.hi[RSP]! + Math.floor(l / TWO32)) >>> 0;
    canonical(nHi, l >>> 0, true);
    cpu.lo[RBP] = frameLo;
    cpu.hi[RBP] = frameHi;
    cpu.lo[RSP] = l >>> 0;
    cpu.hi[RSP] = nHi;
  } catch (e) {
    cpu.lo[RSP] = saveLo;
    cpu.hi[RSP] = saveHi;
    throw e;
  }
}

/** LEAVE (C9h): RSP = RBP, then pop RBP. */
export function leave(cpu: Cpu, _ins: Instr): void {
  const lo = readMem(cpu, canonical(cpu.hi[RBP]!, cpu.lo[RBP]!, true), 8);
  const hi = cpu.xhi;
  const l = cpu.lo[RBP]! + 8;
  cpu.hi[RSP] = (cpu.hi[RBP]! + Math.floor(l / TWO32)) >>> 0;
  cpu.lo[RSP] = l >>> 0;
  cpu.lo[RBP] = lo;
  cpu.hi[RBP] = hi;
}
