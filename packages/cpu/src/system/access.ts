// Implicit system accesses: descriptor-table and TSS reads and the stack frame of event
// delivery. They are made with an explicit privilege (supervisor for the tables and the TSS,
// SDM Vol. 3A §4.6 "implicit supervisor-mode accesses"; the new CPL for the frame) instead of
// the CPL of the running code.
import { Vector } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import { CpuFault } from '../fault.js';
import type { Privilege } from '../memory.js';

const TWO32 = 4294967296;
const CANONICAL_LIMIT = 2 ** 47;

/** Adds a byte offset to a signed canonical linear address, failing with #GP(0) if it leaves it. */
export function linearPlus(base: number, offset: number, fault: number = Vector.GP): number {
  const la = base + offset;
  if (la >= CANONICAL_LIMIT || la < -CANONICAL_LIMIT) throw new CpuFault(fault, 0);
  return la;
}

/**
 * Reads an unsigned 32-bit value with the given privilege; a supervisor read of a system
 * structure is an implicit supervisor-mode access when the memory distinguishes them.
 */
export function sysRead32(cpu: Cpu, la: number, privilege: Privilege): number {
  const m = cpu.memory;
  if (privilege === 0 && m.readSystem32 !== undefined) return m.readSystem32(la) >>> 0;
  return m.read32(la, privilege) >>> 0;
}

/**
 * Reads a 64-bit value as [lo, hi] with the given privilege: an ordinary data read (IRETQ's
 * pops), or with `implicit` an implicit supervisor-mode read (the TSS).
 */
export function sysRead64(
  cpu: Cpu,
  la: number,
  privilege: Privilege,
  implicit = false,
): [number, number] {
  if (implicit) return [sysRead32(cpu, la, 0), sysRead32(cpu, la + 4, 0)];
  const lo = cpu.memory.read32(la, privilege) >>> 0;
  const hi = cpu.memory.read32(la + 4, privilege) >>> 0;
  return [lo, hi];
}

/** Writes a 64-bit value with the given privilege (the memory reports it to the code cache). */
export function sysWrite64(
  cpu: Cpu,
  la: number,
  lo: number,
  hi: number,
  privilege: Privilege,
): void {
  cpu.memory.write64(la, lo >>> 0, hi >>> 0, privilege);
}

/** Writes a 32-bit value with the given privilege (the memory reports it to the code cache). */
export function sysWrite32(cpu: Cpu, la: number, value: number, privilege: Privilege): void {
  const m = cpu.memory;
  if (privilege === 0 && m.writeSystem32 !== undefined) m.writeSystem32(la, value >>> 0);
  else m.write32(la, value >>> 0, privilege);
}

/** A signed canonical linear address from 64-bit halves, or undefined when not canonical. */
export function toCanonical(lo: number, hi: number): number | undefined {
  const h = hi | 0;
  if (h > 0x7fff || h < -0x8000) return undefined;
  return h * TWO32 + (lo >>> 0);
}

/** The 64-bit halves [lo, hi] of a signed canonical linear address. */
export function halves(la: number): [number, number] {
  return [la >>> 0, Math.floor(la / TWO32) >>> 0];
}
