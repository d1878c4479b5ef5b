// Near control transfer in 64-bit mode: CALL, RET, JMP (rel and indirect), LOOP/LOOPcc,
// JRCXZ (SDM Vol. 2 pages of each). A non-canonical target raises #GP(0) on the branch. The
// conditional ones (LOOPcc, JRCXZ) report their retired outcome to the predictor model.
import { RFLAGS } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';
import { generalProtection } from '../fault.js';
import { canonical, readRm, rmAddress } from './operands.js';
import { adjustRsp, peek64, push64 } from './stack.js';

const LIMIT = 2 ** 47;
const TWO32 = 4294967296;

/** Checks that a relative target is canonical and returns it. */
export function relativeTarget(cpu: Cpu, ins: Instr): number {
  const t = cpu.nextRip + ins.imm;
  if (t >= LIMIT || t < -LIMIT) throw generalProtection();
  return t;
}

/** JMP rel8/rel32 (EBh, E9h). */
export function jmpRel(cpu: Cpu, ins: Instr): void {
  cpu.nextRip = relativeTarget(cpu, ins);
}

/** JMP r/m64 (FFh /4). */
export function jmpRm(cpu: Cpu, ins: Instr): void {
  const lo = readRm(cpu, ins, rmAddress(cpu, ins), 8);
  cpu.nextRip = canonical(cpu.xhi, lo, false);
}

function pushReturn(cpu: Cpu): void {
  const r = cpu.nextRip;
  push64(cpu, r >>> 0, Math.floor(r / TWO32) >>> 0);
}

/** CALL rel32 (E8h): pushes the return address, then branches. */
export function callRel(cpu: Cpu, ins: Instr): void {
  const t = relativeTarget(cpu, ins);
  pushReturn(cpu);
  cpu.nextRip = t;
}

/** CALL r/m64 (FFh /2). */
export function callRm(cpu: Cpu, ins: Instr): void {
  const lo = readRm(cpu, ins, rmAddress(cpu, ins), 8);
  const t = canonical(cpu.xhi, lo, false);
  pushReturn(cpu);
  cpu.nextRip = t;
}

/** RET (C3h). */
export function ret(cpu: Cpu, _ins: Instr): void {
  const lo = peek64(cpu);
  const t = canonical(cpu.xhi, lo, false);
  adjustRsp(cpu, 8);
  cpu.nextRip = t;
}

/** RET imm16 (C2h): also releases imm16 bytes of stack. */
export function retImm(cpu: Cpu, ins: Instr): void {
  const lo = peek64(cpu);
  const t = canonical(cpu.xhi, lo, false);
  adjustRsp(cpu, 8 + ins.imm);
  cpu.nextRip = t;
}

/**
 * LOOP (sub 2), LOOPE (1), LOOPNE (0) (E2h, E1h, E0h): decrement RCX without touching the
 * flags, branch if RCX != 0 (and ZF = 1 / ZF = 0 for LOOPE / LOOPNE).
 */
export function loop(cpu: Cpu, ins: Instr): void {
  const t = cpu.nextRip + ins.imm;
  const l = cpu.lo[1]! - 1;
  const lo = l >>> 0;
  const hi = (cpu.hi[1]! + (l < 0 ? -1 : 0)) >>> 0;
  const zf = (cpu.flags & RFLAGS.ZF) !== 0;
  const take = (lo | hi) !== 0 && (ins.sub === 2 || (ins.sub === 1 ? zf : !zf));
  if (take && (t >= LIMIT || t < -LIMIT)) throw generalProtection();
  cpu.lo[1] = lo;
  cpu.hi[1] = hi;
  if (take) cpu.nextRip = t;
  cpu.predictor.update(cpu.ripValue, take);
}

/** JRCXZ rel8 (E3h): branch if RCX = 0. */
export function jrcxz(cpu: Cpu, ins: Instr): void {
  const take = (cpu.lo[1]! | cpu.hi[1]!) === 0;
  if (take) cpu.nextRip = relativeTarget(cpu, ins);
  cpu.predictor.update(cpu.ripValue, take);
}
