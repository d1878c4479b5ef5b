// NOP forms, ENDBR64, PAUSE, fences, UD2 and HLT (SDM Vol. 2 pages of each).
import { Vector } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';
import { CpuFault, undefinedOpcode } from '../fault.js';

/**
 * NOP (90h, 0F 1Fh /0) and ENDBR64 (a NOP while CET is disabled). The r/m operand of the
 * multi-byte NOP is never accessed.
 */
export function nop(_cpu: Cpu, _ins: Instr): void {}

/** PAUSE (F3 90h): a spin-loop hint; architecturally a NOP. */
export function pause(_cpu: Cpu, _ins: Instr): void {}

/**
 * LFENCE, MFENCE, SFENCE (0F AEh /5 /6 /7, mod = 3). The interpreter completes every load and
 * store in program order, so the ordering they ask for already holds.
 */
export function fence(_cpu: Cpu, _ins: Instr): void {}

/** UD2 (0F 0Bh): raises #UD by definition. */
export function ud2(_cpu: Cpu, _ins: Instr): void {
  throw undefinedOpcode();
}

/** HLT (F4h): privileged (#GP(0) at CPL > 0); stops `run` with RIP after the HLT. */
export function hlt(cpu: Cpu, _ins: Instr): void {
  if (cpu.cpl !== 0) throw new CpuFault(Vector.GP, 0);
  cpu.pendingStop = { kind: 'hlt' };
}
