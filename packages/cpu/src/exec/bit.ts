// Bit test and scan: BT, BTS, BTR, BTC (SDM Vol. 2 pages of each), BSF, BSR, TZCNT, LZCNT,
// POPCNT (their pages).
import { RFLAGS } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';
import { generalProtection } from '../fault.js';
import { readMem, readReg, readRm, rmAddress, writeMem, writeReg, writeRm } from './operands.js';

const CF = RFLAGS.CF;
const ZF = RFLAGS.ZF;

/**
 * Applies BT (0), BTS (1), BTR (2) or BTC (3) to bit `b` of the value lo/hi. CF receives the
 * old bit; OF, SF, AF and PF are undefined (vmkit leaves them) and ZF is unaffected.
 * Returns the new low half; the new high half goes to `cpu.rhi`.
 */
function apply(cpu: Cpu, op: number, lo: number, hi: number, b: number): number {
  const inHi = b >= 32;
  const mask = 1 << (b & 31);
  const word = inHi ? hi : lo;
  cpu.flags = (cpu.flags & ~CF) | ((word & mask) !== 0 ? CF : 0);
  let w = word;
  if (op === 1) w = word | mask;
  else if (op === 2) w = word & ~mask;
  else if (op === 3) w = word ^ mask;
  w >>>= 0;
  cpu.rhi = inHi ? w : hi;
  return inHi ? lo : w;
}

/**
 * BT* r/m, reg (0F A3h, ABh, B3h, BBh). With a memory operand the register is a signed bit
 * offset that may address any bit relative to the operand (SDM Vol. 2 BT, "bit base").
 */
export function btRmReg(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const bits = size * 8;
  const offLo = readReg(cpu, ins.reg, size, ins.rex);
  const offHi = cpu.xhi;
  if (ins.mod === 3) {
    const lo = readReg(cpu, ins.rm, size, ins.rex);
    const r = apply(cpu, ins.sub, lo, size === 8 ? cpu.xhi : 0, offLo & (bits - 1));
    if (ins.sub !== 0) writeReg(cpu, ins.rm, size, ins.rex, r, cpu.rhi);
    return;
  }
  // Signed bit offset of the operand size; the byte displacement is floor(offset / bits) units.
  let offset: number;
  if (size === 8) offset = (offHi | 0) * 4294967296 + offLo;
  else if (size === 4) offset = offLo | 0;
  else offset = (offLo << 16) >> 16;
  const unit = Math.floor(offset / bits);
  const la = rmAddress(cpu, ins) + unit * size;
  // The displaced address must itself be canonical (SDM Vol. 1 §3.3.7.1).
  if (la < -(2 ** 47) || la + size > 2 ** 47) throw generalProtection();
  const lo = readMem(cpu, la, size);
  const r = apply(cpu, ins.sub, lo, size === 8 ? cpu.xhi : 0, offset - unit * bits);
  if (ins.sub !== 0) writeMem(cpu, la, size, r, cpu.rhi);
}

/** BT* r/m, imm8 (0F BAh /4../7): the offset is taken modulo the operand size. */
export function btRmImm(cpu: Cpu, ins: Instr): void {
  const size = ins.osize;
  const la = rmAddress(cpu, ins);
  const lo = readRm(cpu, ins, la, size);
  const r = apply(cpu, ins.sub, lo, size === 8 ? cpu.xhi : 0, ins.imm & (size * 8 - 1));
  if (ins.sub !== 0) writeRm(cpu, ins, la, size, r, cpu.rhi);
}

function readSource(cpu: Cpu, ins: Instr): number {
  return readRm(cpu, ins, rmAddress(cpu, ins), ins.osize);
}

function tz(lo: number, hi: number, size: number): number {
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  if (size === 8 && hi !== 0) return 63 - Math.clz32(hi & -hi);
  return size * 8;
}

function lz(lo: number, hi: number, size: number): number {
  if (size === 8) return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
  return Math.clz32(lo) - (32 - size * 8);
}

/**
 * BSF reg, r/m (0F BCh): index of the lowest set bit; ZF = (source == 0). With a zero source
 * the destination is undefined: vmkit leaves it unchanged, as AMD documents. CF, OF, SF, AF
 * and PF are undefined (unchanged).
 */
export function bsf(cpu: Cpu, ins: Instr): void {
  const lo = readSource(cpu, ins);
  const hi = ins.osize === 8 ? cpu.xhi : 0;
  if ((lo | hi) === 0) {
    cpu.flags |= ZF;
    return;
  }
  cpu.flags &= ~ZF;
  writeReg(cpu, ins.reg, ins.osize, ins.rex, tz(lo, hi, ins.osize), 0);
}

/** BSR reg, r/m (0F BDh): index of the highest set bit; otherwise as {@link bsf}. */
export function bsr(cpu: Cpu, ins: Instr): void {
  const lo = readSource(cpu, ins);
  const hi = ins.osize === 8 ? cpu.xhi : 0;
  if ((lo | hi) === 0) {
    cpu.flags |= ZF;
    return;
  }
  cpu.flags &= ~ZF;
  writeReg(cpu, ins.reg, ins.osize, ins.rex, ins.osize * 8 - 1 - lz(lo, hi, ins.osize), 0);
}

/** TZCNT reg, r/m (F3 0F BCh): CF = (source == 0), ZF = (result == 0). */
export function tzcnt(cpu: Cpu, ins: Instr): void {
  const lo = readSource(cpu, ins);
  const hi = ins.osize === 8 ? cpu.xhi : 0;
  const n = tz(lo, hi, ins.osize);
  writeReg(cpu, ins.reg, ins.osize, ins.rex, n, 0);
  cpu.flags = (cpu.flags & ~(CF | ZF)) | ((lo | hi) === 0 ? CF : 0) | (n === 0 ? ZF : 0);
}

/** LZCNT reg, r/m (F3 0F BDh): CF = (source == 0), ZF = (result == 0). */
export function lzcnt(cpu: Cpu, ins: Instr): void {
  const lo = readSource(cpu, ins);
  const hi = ins.osize === 8 ? cpu.xhi : 0;
  const n = lz(lo, hi, ins.osize);
  writeReg(cpu, ins.reg, ins.osize, ins.rex, n, 0);
  cpu.flags = (cpu.flags & ~(CF | ZF)) | ((lo | hi) === 0 ? CF : 0) | (n === 0 ? ZF : 0);
}

function ones(v: number): number {
  let x = v - ((v >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** POPCNT reg, r/m (F3 0F B8h): ZF = (source == 0); OF, SF, AF, CF, PF cleared. */
export function popcnt(cpu: Cpu, ins: Instr): void {
  const lo = readSource(cpu, ins);
  const hi = ins.osize === 8 ? cpu.xhi : 0;
  writeReg(cpu, ins.reg, ins.osize, ins.rex, ones(lo) + ones(hi), 0);
  cpu.flags =
    (cpu.flags & ~(CF | ZF | RFLAGS.OF | RFLAGS.SF | RFLAGS.AF | RFLAGS.PF)) |
    ((lo | hi) === 0 ? ZF : 0);
}
