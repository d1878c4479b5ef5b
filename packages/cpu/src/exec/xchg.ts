// Exchanges: XCHG, CMPXCHG, CMPXCHG8B/CMPXCHG16B, XADD (SDM Vol. 2 pages of each). The
// interpreter runs one CPU at a time, so the LOCK prefix needs no extra work to be atomic.
import { RFLAGS, Vector } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';
import { CpuFault } from '../fault.js';
import { add, sub } from './flags.js';
import { readMem, readReg, readRm, rmAddress, writeMem, writeReg, writeRm } from './operands.js';

/** XCHG r/m, reg (86h, 87h). */
export function xchgRmReg(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const la = rmAddress(cpu, ins);
  const aLo = readRm(cpu, ins, la, size);
  const aHi = cpu.xhi;
  const bLo = readReg(cpu, ins.reg, size, ins.rex);
  writeRm(cpu, ins, la, size, bLo, cpu.xhi);
  writeReg(cpu, ins.reg, size, ins.rex, aLo, aHi);
}

/**
 * XCHG reg, rAX (90h+r). 90h without REX.B is NOP, not XCHG EAX, EAX (which would clear
 * RAX's upper half); the decoder routes it to NOP.
 */
export function xchgAcc(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const aLo = readReg(cpu, ins.reg, size, ins.rex);
  const aHi = cpu.xhi;
  const bLo = readReg(cpu, 0, size, ins.rex);
  writeReg(cpu, ins.reg, size, ins.rex, bLo, cpu.xhi);
  writeReg(cpu, 0, size, ins.rex, aLo, aHi);
}

/**
 * CMPXCHG r/m, reg (0F B0h, B1h): compares the accumulator with the destination (flags as
 * CMP); equal: destination = source; different: accumulator = destination. A memory
 * destination is always written (with its own value when different).
 */
export function cmpxchg(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const la = rmAddress(cpu, ins);
  const dLo = readRm(cpu, ins, la, size);
  const dHi = cpu.xhi;
  const aLo = readReg(cpu, 0, size, ins.rex);
  sub(cpu, size, aLo, cpu.xhi, dLo, dHi, 0);
  if (cpu.flags & RFLAGS.ZF) {
    const sLo = readReg(cpu, ins.reg, size, ins.rex);
    writeRm(cpu, ins, la, size, sLo, cpu.xhi);
  } else {
    if (ins.mod !== 3) writeMem(cpu, la, size, dLo, dHi);
    writeReg(cpu, 0, size, ins.rex, dLo, dHi);
  }
}

/**
 * CMPXCHG8B m64 / CMPXCHG16B m128 (0F C7h /1): compares EDX:EAX (RDX:RAX) with memory; equal:
 * ZF = 1 and ECX:EBX (RCX:RBX) is stored; different: ZF = 0 and memory is loaded into
 * EDX:EAX (RDX:RAX). The destination is written either way. CMPXCHG16B needs a 16-byte
 * aligned operand (#GP(0) otherwise). Other flags are unaffected.
 */
export function cmpxchg8b(cpu: Cpu, ins: Instr): void {
  const la = rmAddress(cpu, ins);
  let m0: number;
  let m0h = 0;
  let m1: number;
  let m1h = 0;
  if (ins.osize === 8) {
    if (la % 16 !== 0) throw new CpuFault(Vector.GP, 0);
    m0 = readMem(cpu, la, 8);
    m0h = cpu.xhi;
    m1 = readMem(cpu, la + 8, 8);
    m1h = cpu.xhi;
  } else {
    m0 = readMem(cpu, la, 8);
    m1 = cpu.xhi;
  }
  const wide = ins.osize === 8;
  const equal =
    m0 === cpu.lo[0] && m1 === cpu.lo[2] && (!wide || (m0h === cpu.hi[0] && m1h === cpu.hi[2]));
  // Both halves are written with one access each, and a 16-byte operand is aligned, so a
  // fault can only come before anything is stored.
  if (equal) {
    if (wide) {
      writeMem(cpu, la, 8, cpu.lo[3]!, cpu.hi[3]!);
      writeMem(cpu, la + 8, 8, cpu.lo[1]!, cpu.hi[1]!);
    } else {
      writeMem(cpu, la, 8, cpu.lo[3]!, cpu.lo[1]!);
    }
    cpu.flags |= RFLAGS.ZF;
  } else {
    if (wide) {
      writeMem(cpu, la, 8, m0, m0h);
      writeMem(cpu, la + 8, 8, m1, m1h);
    } else {
      writeMem(cpu, la, 8, m0, m1);
    }
    writeReg(cpu, 0, wide ? 8 : 4, true, m0, m0h);
    writeReg(cpu, 2, wide ? 8 : 4, true, m1, m1h);
    cpu.flags &= ~RFLAGS.ZF;
  }
}

/** XADD r/m, reg (0F C0h, C1h): temp = dest + src; src = dest; dest = temp (flags as ADD). */
export function xadd(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const la = rmAddress(cpu, ins);
  const dLo = readRm(cpu, ins, la, size);
  const dHi = cpu.xhi;
  const sLo = readReg(cpu, ins.reg, size, ins.rex);
  const r = add(cpu, size, dLo, dHi, sLo, cpu.xhi, 0);
  const rHi = cpu.rhi;
  if (ins.mod !== 3) {
    writeMem(cpu, la, size, r, rHi);
    writeReg(cpu, ins.reg, size, ins.rex, dLo, dHi);
  } else {
    writeReg(cpu, ins.reg, size, ins.rex, dLo, dHi);
    writeReg(cpu, ins.rm, size, ins.rex, r, rHi);
  }
}
