// String instructions MOVS, CMPS, STOS, LODS, SCAS with REP/REPE/REPNE (SDM Vol. 2 pages of
// each and "REP/REPE/REPZ/REPNE/REPNZ"). 64-bit address size: RSI, RDI and RCX in full. The
// source may take an FS/GS override; the destination is always ES (base 0 in 64-bit mode).
//
// A repeated instruction runs one iteration per budget unit and is interruptible: when the
// budget runs out or an iteration faults, RCX/RSI/RDI (and the flags of CMPS/SCAS) reflect the
// completed iterations and RIP stays on the instruction, so running again resumes it
// (SDM Vol. 2 REP: "... the instruction can be resumed").
//
// REP MOVS and REP STOS, the forms a core runs as fast strings (SDM Vol. 1 §7.3.9.3), also
// count their starts, elements and bytes (Cpu.fastStrings), for a cost model that prices them
// by what they move. A resumption after the budget ran out is not a start (`fastStringResume`).
import { RFLAGS } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import { type Instr, Rep, Seg } from '../decoder/instr.js';
import { sub } from './flags.js';
import { canonical, readMem, readReg, writeMem, writeReg } from './operands.js';

const RSI = 6;
const RDI = 7;
const RCX = 1;
const TWO32 = 4294967296;

function addTo(cpu: Cpu, r: number, delta: number): void {
  const l = cpu.lo[r]! + delta;
  cpu.hi[r] = (cpu.hi[r]! + Math.floor(l / TWO32)) >>> 0;
  cpu.lo[r] = l >>> 0;
}

function sourceAddress(cpu: Cpu, ins: Instr): number {
  let lo = cpu.lo[RSI]!;
  let hi = cpu.hi[RSI]!;
  if (ins.seg !== Seg.NONE) {
    const l = lo + (ins.seg === Seg.FS ? cpu.fsBaseLo : cpu.gsBaseLo);
    hi = hi + (ins.seg === Seg.FS ? cpu.fsBaseHi : cpu.gsBaseHi) + Math.floor(l / TWO32);
    lo = l >>> 0;
  }
  return canonical(hi, lo, false);
}

function destinationAddress(cpu: Cpu): number {
  return canonical(cpu.hi[RDI]!, cpu.lo[RDI]!, false);
}

function step(cpu: Cpu, ins: Instr): number {
  return cpu.flags & RFLAGS.DF ? -ins.osize : ins.osize;
}

type Iteration = (cpu: Cpu, ins: Instr, delta: number) => void;

function movsOnce(cpu: Cpu, ins: Instr, delta: number): void {
  const lo = readMem(cpu, sourceAddress(cpu, ins), ins.osize);
  writeMem(cpu, destinationAddress(cpu), ins.osize, lo, cpu.xhi);
  addTo(cpu, RSI, delta);
  addTo(cpu, RDI, delta);
}

function stosOnce(cpu: Cpu, ins: Instr, delta: number): void {
  const lo = readReg(cpu, 0, ins.osize, true);
  writeMem(cpu, destinationAddress(cpu), ins.osize, lo, cpu.xhi);
  addTo(cpu, RDI, delta);
}

function lodsOnce(cpu: Cpu, ins: Instr, delta: number): void {
  const lo = readMem(cpu, sourceAddress(cpu, ins), ins.osize);
  writeReg(cpu, 0, ins.osize, true, lo, cpu.xhi);
  addTo(cpu, RSI, delta);
}

function cmpsOnce(cpu: Cpu, ins: Instr, delta: number): void {
  const aLo = readMem(cpu, sourceAddress(cpu, ins), ins.osize);
  const aHi = cpu.xhi;
  const bLo = readMem(cpu, destinationAddress(cpu), ins.osize);
  sub(cpu, ins.osize, aLo, aHi, bLo, cpu.xhi, 0);
  addTo(cpu, RSI, delta);
  addTo(cpu, RDI, delta);
}

function scasOnce(cpu: Cpu, ins: Instr, delta: number): void {
  const bLo = readMem(cpu, destinationAddress(cpu), ins.osize);
  const bHi = cpu.xhi;
  const aLo = readReg(cpu, 0, ins.osize, true);
  sub(cpu, ins.osize, aLo, cpu.xhi, bLo, bHi, 0);
  addTo(cpu, RDI, delta);
}

/**
 * Runs a string instruction once, or repeated while RCX != 0 (and, for CMPS/SCAS, while ZF
 * matches the prefix: REPE stops on ZF = 0, REPNE on ZF = 1). F2h on MOVS/STOS/LODS repeats
 * like F3h, as processors do.
 */
function run(cpu: Cpu, ins: Instr, once: Iteration, compares: boolean, fast: boolean): void {
  const delta = step(cpu, ins);
  if (ins.rep === Rep.NONE) {
    once(cpu, ins, delta);
    return;
  }
  if (fast && (cpu.lo[RCX]! | cpu.hi[RCX]!) !== 0) {
    // A start unless this runs on after the budget stopped it (Cpu.fastStrings).
    if (cpu.fastStringResume !== cpu.ripLinear) cpu.fastStringStarts++;
    cpu.fastStringResume = Number.NaN;
  }
  let done = 0;
  try {
    while ((cpu.lo[RCX]! | cpu.hi[RCX]!) !== 0) {
      if (done > 0 && cpu.remaining <= 0) {
        // Budget spent: resume here next time.
        cpu.nextRip = cpu.ripLinear;
        if (fast) cpu.fastStringResume = cpu.ripLinear;
        break;
      }
      once(cpu, ins, delta);
      addTo(cpu, RCX, -1);
      cpu.committedFlags = cpu.flags;
      // Every completed iteration is counted here, so a fault in a later one keeps the count.
      cpu.remaining--;
      done++;
      if (compares) {
        const zf = (cpu.flags & RFLAGS.ZF) !== 0;
        if (ins.rep === Rep.REPE ? !zf : zf) break;
      }
    }
  } finally {
    // The completed elements, also when a later one faults or exits (Cpu.fastStrings).
    if (fast) {
      cpu.fastStringElements += done;
      cpu.fastStringBytes += done * ins.osize;
    }
  }
  // The run loop counts the instruction once more when it retires.
  if (done > 0) cpu.remaining++;
}

/** MOVS (A4h, A5h). */
export function movs(cpu: Cpu, ins: Instr): void {
  run(cpu, ins, movsOnce, false, true);
}

/** STOS (AAh, ABh). */
export function stos(cpu: Cpu, ins: Instr): void {
  run(cpu, ins, stosOnce, false, true);
}

/** LODS (ACh, ADh). */
export function lods(cpu: Cpu, ins: Instr): void {
  run(cpu, ins, lodsOnce, false, false);
}

/** CMPS (A6h, A7h): compares [RSI] with [RDI] (flags of [RSI] - [RDI]). */
export function cmps(cpu: Cpu, ins: Instr): void {
  run(cpu, ins, cmpsOnce, true, false);
}

/** SCAS (AEh, AFh): compares rAX with [RDI] (flags of rAX - [RDI]). */
export function scas(cpu: Cpu, ins: Instr): void {
  run(cpu, ins, scasOnce, true, false);
}
