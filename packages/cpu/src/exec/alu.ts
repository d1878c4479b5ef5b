// Integer arithmetic and logic: ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST, INC, DEC, NEG,
// NOT (SDM Vol. 2A/2B, the page of each instruction; flags per its "Flags Affected").
import { RFLAGS } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';
import { add, logicFlags, MASK, sub } from './flags.js';
import { readReg, readRm, rmAddress, writeReg, writeRm } from './operands.js';

/**
 * One ALU operation by its encoding index (the reg field of group 1, Table A-6): 0 ADD, 1 OR,
 * 2 ADC, 3 SBB, 4 AND, 5 SUB, 6 XOR, 7 CMP. Returns the low half; the high half is in cpu.rhi.
 */
function alu(
  cpu: Cpu,
  op: number,
  size: number,
  aLo: number,
  aHi: number,
  bLo: number,
  bHi: number,
): number {
  switch (op) {
    case 0:
      return add(cpu, size, aLo, aHi, bLo, bHi, 0);
    case 2:
      return add(cpu, size, aLo, aHi, bLo, bHi, cpu.flags & RFLAGS.CF);
    case 3:
      return sub(cpu, size, aLo, aHi, bLo, bHi, cpu.flags & RFLAGS.CF);
    case 5:
    case 7:
      return sub(cpu, size, aLo, aHi, bLo, bHi, 0);
    default: {
      let lo: number;
      let hi: number;
      if (op === 1) {
        lo = (aLo | bLo) >>> 0;
        hi = (aHi | bHi) >>> 0;
      } else if (op === 4) {
        lo = (aLo & bLo) >>> 0;
        hi = (aHi & bHi) >>> 0;
      } else {
        lo = (aLo ^ bLo) >>> 0;
        hi = (aHi ^ bHi) >>> 0;
      }
      if (size !== 8) hi = 0;
      cpu.rhi = hi;
      logicFlags(cpu, size, lo, hi);
      return lo;
    }
  }
}

/** `op r/m, reg` (00h, 01h, 08h...): the destination is the r/m operand. */
export function aluRmReg(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const la = rmAddress(cpu, ins);
  const aLo = readRm(cpu, ins, la, size);
  const aHi = cpu.xhi;
  const bLo = readReg(cpu, ins.reg, size, ins.rex);
  const r = alu(cpu, ins.sub, size, aLo, aHi, bLo, cpu.xhi);
  if (ins.sub !== 7) writeRm(cpu, ins, la, size, r, cpu.rhi);
}

/** `op reg, r/m` (02h, 03h...): the destination is the ModRM.reg register. */
export function aluRegRm(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const la = rmAddress(cpu, ins);
  const bLo = readRm(cpu, ins, la, size);
  const bHi = cpu.xhi;
  const aLo = readReg(cpu, ins.reg, size, ins.rex);
  const r = alu(cpu, ins.sub, size, aLo, cpu.xhi, bLo, bHi);
  if (ins.sub !== 7) writeReg(cpu, ins.reg, size, ins.rex, r, cpu.rhi);
}

/** `op AL/rAX, imm` (04h, 05h...). */
export function aluAccImm(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const aLo = readReg(cpu, 0, size, ins.rex);
  const r = alu(cpu, ins.sub, size, aLo, cpu.xhi, ins.imm, ins.immHi);
  if (ins.sub !== 7) writeReg(cpu, 0, size, ins.rex, r, cpu.rhi);
}

/** Group 1 `op r/m, imm` (80h, 81h, 83h). */
export function aluRmImm(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const la = rmAddress(cpu, ins);
  const aLo = readRm(cpu, ins, la, size);
  const r = alu(cpu, ins.sub, size, aLo, cpu.xhi, ins.imm, ins.immHi);
  if (ins.sub !== 7) writeRm(cpu, ins, la, size, r, cpu.rhi);
}

/** TEST r/m, reg (84h, 85h): AND that only sets flags. */
export function testRmReg(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const la = rmAddress(cpu, ins);
  const aLo = readRm(cpu, ins, la, size);
  const aHi = cpu.xhi;
  const bLo = readReg(cpu, ins.reg, size, ins.rex);
  alu(cpu, 4, size, aLo, aHi, bLo, cpu.xhi);
}

/** TEST AL/rAX, imm (A8h, A9h). */
export function testAccImm(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const aLo = readReg(cpu, 0, size, ins.rex);
  alu(cpu, 4, size, aLo, cpu.xhi, ins.imm, ins.immHi);
}

/** TEST r/m, imm (F6h/F7h /0). */
export function testRmImm(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const la = rmAddress(cpu, ins);
  const aLo = readRm(cpu, ins, la, size);
  alu(cpu, 4, size, aLo, cpu.xhi, ins.imm, ins.immHi);
}

/** INC (sub 0) and DEC (sub 1): like ADD/SUB 1 but CF is preserved (SDM Vol. 2 INC, DEC). */
export function incDec(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const la = rmAddress(cpu, ins);
  const aLo = readRm(cpu, ins, la, size);
  const cf = cpu.flags & RFLAGS.CF;
  const r =
    ins.sub === 0 ? add(cpu, size, aLo, cpu.xhi, 1, 0, 0) : sub(cpu, size, aLo, cpu.xhi, 1, 0, 0);
  cpu.flags = (cpu.flags & ~RFLAGS.CF) | cf;
  writeRm(cpu, ins, la, size, r, cpu.rhi);
}

/** NEG: 0 - operand; CF is set unless the operand is 0 (SDM Vol. 2 NEG). */
export function neg(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const la = rmAddress(cpu, ins);
  const aLo = readRm(cpu, ins, la, size);
  const r = sub(cpu, size, 0, 0, aLo, cpu.xhi, 0);
  writeRm(cpu, ins, la, size, r, cpu.rhi);
}

/** NOT: one's complement; no flags affected (SDM Vol. 2 NOT). */
export function not(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const la = rmAddress(cpu, ins);
  const aLo = readRm(cpu, ins, la, size);
  const hi = size === 8 ? ~cpu.xhi >>> 0 : 0;
  writeRm(cpu, ins, la, size, (~aLo & (size === 8 ? 0xffffffff : MASK[size]!)) >>> 0, hi);
}
