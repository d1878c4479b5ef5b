// Flag instructions: LAHF, SAHF, CLC, STC, CMC, CLD, STD (SDM Vol. 2 pages of each).
// LAHF/SAHF are valid in 64-bit mode because CPUID.80000001H:ECX.LAHF-SAHF[bit 0] is
// reported (as on every x86-64 processor vmkit models).
import { RFLAGS } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';

const LOW_FLAGS = RFLAGS.SF | RFLAGS.ZF | RFLAGS.AF | RFLAGS.PF | RFLAGS.CF;

/** LAHF (9Fh): AH = SF:ZF:0:AF:0:PF:1:CF. */
export function lahf(cpu: Cpu, _ins: Instr): void {
  const ah = (cpu.flags & LOW_FLAGS) | RFLAGS.FIXED1;
  cpu.lo[0] = (cpu.lo[0]! & 0xffff00ff) | (ah << 8);
}

/** SAHF (9Eh): SF, ZF, AF, PF, CF = the matching bits of AH. */
export function sahf(cpu: Cpu, _ins: Instr): void {
  const ah = (cpu.lo[0]! >>> 8) & 0xff;
  cpu.flags = (cpu.flags & ~LOW_FLAGS) | (ah & LOW_FLAGS);
}

/** CLC (F8h). */
export function clc(cpu: Cpu, _ins: Instr): void {
  cpu.flags &= ~RFLAGS.CF;
}

/** STC (F9h). */
export function stc(cpu: Cpu, _ins: Instr): void {
  cpu.flags |= RFLAGS.CF;
}

/** CMC (F5h). */
export function cmc(cpu: Cpu, _ins: Instr): void {
  cpu.flags ^= RFLAGS.CF;
}

/** CLD (FCh). */
export function cld(cpu: Cpu, _ins: Instr): void {
  cpu.flags &= ~RFLAGS.DF;
}

/** STD (FDh). */
export function std(cpu: Cpu, _ins: Instr): void {
  cpu.flags |= RFLAGS.DF;
}
