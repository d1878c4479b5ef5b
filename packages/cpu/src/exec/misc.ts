// NOP forms, ENDBR64, PAUSE, fences, UD2 and HLT (SDM Vol. 2 pages of each).
import { BasicExitReason, pauseAction } from '@vmkit/vmx';
import { Vector } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';
import { CpuFault, undefinedOpcode } from '../fault.js';
import { instructionExit } from '../vmx/vm-exit.js';

/**
 * NOP (90h, 0F 1Fh /0) and ENDBR64 (a NOP while CET is disabled). The r/m operand of the
 * multi-byte NOP is never accessed.
 */
export function nop(_cpu: Cpu, _ins: Instr): void {}

/**
 * PAUSE (F3 90h): a spin-loop hint; architecturally a NOP. In non-root operation it exits
 * with "PAUSE exiting", or, at CPL 0 with "PAUSE-loop exiting", by the PLE rule over the TSC
 * (SDM Vol. 3C §26.1.3, via `pauseAction` and `PauseLoopDetector` of `@vmkit/vmx`).
 */
export function pause(cpu: Cpu, ins: Instr): void {
  const nr = cpu.nonRoot;
  if (nr === undefined) return;
  const action = pauseAction(cpu.cpl, nr.pauseExiting, nr.pauseLoopExiting);
  if (action === 'EXIT' || (action === 'PAUSE_LOOP_CHECK' && nr.ple.pause(cpu.sourceTsc))) {
    throw instructionExit(BasicExitReason.PAUSE, ins.length);
  }
}

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
export function hlt(cpu: Cpu, ins: Instr): void {
  if (cpu.cpl !== 0) throw new CpuFault(Vector.GP, 0);
  // SDM Vol. 3C §26.1.3: HLT exits when "HLT exiting" is 1 (after the CPL check, §26.1.1).
  if (cpu.nonRoot?.hltExiting === true) throw instructionExit(BasicExitReason.HLT, ins.length);
  cpu.pendingStop = { kind: 'hlt' };
}

/**
 * VMCALL (0F 01 C1): outside VMX operation it is #UD; in VMX non-root operation it causes a
 * VM exit unconditionally (SDM Vol. 3C §26.1.2), basic reason 18.
 */
export function vmcall(cpu: Cpu, ins: Instr): void {
  if (cpu.nonRoot === undefined) throw undefinedOpcode();
  throw instructionExit(BasicExitReason.VMCALL, ins.length);
}
