// Sign extension of the accumulator and byte swap: CBW/CWDE/CDQE, CWD/CDQ/CQO, BSWAP (SDM
// Vol. 2 pages of each). No flags are affected.
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';
import { writeReg } from './operands.js';

/** CBW (66 98h), CWDE (98h), CDQE (REX.W 98h): sign-extend the low half of rAX into rAX. */
export function cbw(cpu: Cpu, ins: Instr): void {
  const a = cpu.lo[0]!;
  if (ins.osize === 2) writeReg(cpu, 0, 2, false, ((a << 24) >> 24) & 0xffff, 0);
  else if (ins.osize === 4) writeReg(cpu, 0, 4, false, ((a << 16) >> 16) >>> 0, 0);
  else writeReg(cpu, 0, 8, false, a, a & 0x80000000 ? 0xffffffff : 0);
}

/** CWD (66 99h), CDQ (99h), CQO (REX.W 99h): fill rDX with the sign of rAX. */
export function cwd(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const negative =
    size === 2
      ? (cpu.lo[0]! & 0x8000) !== 0
      : size === 4
        ? (cpu.lo[0]! & 0x80000000) !== 0
        : (cpu.hi[0]! & 0x80000000) !== 0;
  const fill = negative ? 0xffffffff : 0;
  writeReg(cpu, 2, size, false, fill, fill);
}

function swap32(v: number): number {
  return ((v >>> 24) | ((v >>> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24)) >>> 0;
}

/**
 * BSWAP r32/r64 (0F C8h+r). The 16-bit form is undefined in the SDM and decodes to #UD in
 * vmkit.
 */
export function bswap(cpu: Cpu, ins: Instr): void {
  const r = ins.reg;
  if (ins.osize === 8) writeReg(cpu, r, 8, true, swap32(cpu.hi[r]!), swap32(cpu.lo[r]!));
  else writeReg(cpu, r, 4, true, swap32(cpu.lo[r]!), 0);
}
