// SYSCALL and SYSRET in 64-bit mode (SDM Vol. 2 pages of each): fast transfers between
// CPL 3 and CPL 0 with selectors from IA32_STAR and no descriptor-table reads.
import { EFER, RFLAGS, Vector } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';
import { CpuFault, undefinedOpcode } from '../fault.js';
import { toCanonical } from '../system/access.js';

const RCX = 1;
const R11 = 11;

/**
 * SYSCALL (0F 05): RCX = next RIP, R11 = RFLAGS, RIP = IA32_LSTAR, RFLAGS &= ~IA32_FMASK (and
 * RF cleared), CS = STAR[47:32], SS = STAR[47:32] + 8, CPL 0. #UD when EFER.SCE = 0.
 */
export function syscall(cpu: Cpu, _ins: Instr): void {
  if ((cpu.efer & EFER.SCE) === 0) throw undefinedOpcode();
  const next = cpu.nextRip;
  cpu.lo[RCX] = next >>> 0;
  cpu.hi[RCX] = Math.floor(next / 4294967296) >>> 0;
  cpu.lo[R11] = (cpu.flags & ~RFLAGS.RF) >>> 0;
  cpu.hi[R11] = 0;
  cpu.flags = ((cpu.flags & ~cpu.sfmask & ~RFLAGS.RF) | RFLAGS.FIXED1) >>> 0;
  const sel = Number((cpu.star >> 32n) & 0xffffn);
  cpu.cs = sel & 0xfffc;
  cpu.ss = (sel + 8) & 0xfffc;
  cpu.cpl = 0;
  cpu.nextRip = Number(BigInt.asIntN(64, cpu.lstar));
}

/**
 * SYSRETQ (REX.W 0F 07): RIP = RCX, RFLAGS = R11 (reserved bits fixed, RF and VM clear),
 * CS = STAR[63:48] + 16 with RPL 3, SS = STAR[63:48] + 8 with RPL 3, CPL 3. #UD when
 * EFER.SCE = 0, #GP(0) at CPL > 0 or for a non-canonical RCX (Intel behaviour). The 32-bit
 * form (no REX.W, a return to compatibility mode) is not implemented.
 */
export function sysret(cpu: Cpu, _ins: Instr): void {
  if ((cpu.efer & EFER.SCE) === 0) throw undefinedOpcode();
  if (cpu.cpl !== 0) throw new CpuFault(Vector.GP, 0);
  const target = toCanonical(cpu.lo[RCX]!, cpu.hi[RCX]!);
  if (target === undefined) throw new CpuFault(Vector.GP, 0);
  // 3C7FD7h: the RFLAGS bits SYSRET loads from R11 (everything but reserved bits, RF, VM).
  cpu.flags = ((cpu.lo[R11]! & 0x3c7fd7) | RFLAGS.FIXED1) >>> 0;
  const sel = Number((cpu.star >> 48n) & 0xffffn);
  cpu.cs = ((sel + 16) & 0xfffc) | 3;
  cpu.ss = ((sel + 8) & 0xfffc) | 3;
  cpu.cpl = 3;
  cpu.nextRip = target;
}
