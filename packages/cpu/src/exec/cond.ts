// Conditional instructions: Jcc, SETcc, CMOVcc (SDM Vol. 2 pages of each; condition codes
// per Vol. 1 Appendix B, Table B-1).
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';
import { relativeTarget } from './control.js';
import { condition } from './flags.js';
import { readRm, rmAddress, writeReg, writeRm } from './operands.js';

/** Jcc rel8/rel32 (70h-7Fh, 0F 80h-8Fh). */
export function jcc(cpu: Cpu, ins: Instr): void {
  const taken = condition(cpu.flags, ins.sub);
  if (taken) cpu.nextRip = relativeTarget(cpu, ins);
  // A retired outcome trains the predictor model (a #GP above means it did not retire).
  cpu.predictor.update(cpu.ripValue, taken);
}

/** SETcc r/m8 (0F 90h-9Fh). */
export function setcc(cpu: Cpu, ins: Instr): void {
  writeRm(cpu, ins, rmAddress(cpu, ins), 1, condition(cpu.flags, ins.sub) ? 1 : 0, 0);
}

/**
 * CMOVcc reg, r/m (0F 40h-4Fh). The source is read (and may fault) whatever the condition; with
 * a 32-bit operand the destination's upper half is cleared even when the condition is false
 * (SDM Vol. 2 CMOVcc, "In 64-bit mode...").
 */
export function cmovcc(cpu: Cpu, ins: Instr): void {
  const lo = readRm(cpu, ins, rmAddress(cpu, ins), ins.osize);
  const hi = cpu.xhi;
  if (condition(cpu.flags, ins.sub)) writeReg(cpu, ins.reg, ins.osize, ins.rex, lo, hi);
  else if (ins.osize === 4) cpu.hi[ins.reg] = 0;
}
