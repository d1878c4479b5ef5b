// Port I/O: IN, OUT, INS and OUTS (SDM Vol. 2 IN, OUT, INS, OUTS; protection per Vol. 1 §19.5). The CPU does not
// model devices: it stops `run` with an `io` stop reason and the host performs the access.
import {
  AddressSize,
  BasicExitReason,
  encodeIoQualification,
  encodeStringIoInfo,
  ioInstructionCausesExit,
} from '@vmkit/vmx';
import { RFLAGS, Vector } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import { type Instr, Rep, Seg } from '../decoder/instr.js';
import { CpuFault, generalProtection } from '../fault.js';
import { linearPlus, sysRead32 } from '../system/access.js';
import { exitInformation, instructionExit, VmExit } from '../vmx/vm-exit.js';
import { CANONICAL_LIMIT, canonical, readMem, writeMem, writeReg } from './operands.js';

/**
 * I/O is allowed when CPL <= IOPL (SDM Vol. 1 §19.5.1). Otherwise the processor consults the
 * I/O permission bitmap of the TSS (§19.5.2): the 16-bit map base at TSS offset 66h, then the
 * two bytes holding the port's bits; any set bit, or any of those bytes beyond TR's limit
 * (so also a TSS too short to hold the map base), is #GP(0). The reads are implicit
 * supervisor-mode accesses.
 */
function checkPermission(cpu: Cpu, p: number, size: number): void {
  const iopl = (cpu.flags & RFLAGS.IOPL) >>> 12;
  if (cpu.cpl <= iopl) return;
  if (cpu.trLimit < 0x67) throw generalProtection();
  const mapBase = sysRead32(cpu, linearPlus(cpu.trBase, 0x64), 0) >>> 16;
  const at = mapBase + (p >>> 3);
  if (at + 1 > cpu.trLimit) throw generalProtection();
  // The two bytes at `at`, read as the dword(s) holding them.
  const aligned = at - (at % 4);
  let bits = sysRead32(cpu, linearPlus(cpu.trBase, aligned), 0) >>> (8 * (at - aligned));
  if (at - aligned === 3)
    bits |= (sysRead32(cpu, linearPlus(cpu.trBase, aligned + 4), 0) & 0xff) << 8;
  const mask = ((1 << size) - 1) << (p & 7);
  if ((bits & mask & 0xffff) !== 0) throw generalProtection();
}

function port(cpu: Cpu, ins: Instr): number {
  return ins.operands.includes('DX') ? cpu.lo[2]! & 0xffff : ins.imm;
}

/**
 * SDM Vol. 3C §26.1.3: IN and OUT exit by "unconditional I/O exiting" or, with "use I/O
 * bitmaps", by the bits of the ports accessed; the IOPL/TSS-bitmap #GP comes first (§26.1.1).
 * The qualification is that of §28.2.1 Table 28-5.
 */
function ioExit(cpu: Cpu, ins: Instr, p: number, size: number, isIn: boolean): void {
  const nr = cpu.nonRoot;
  if (nr === undefined) return;
  const bitmaps = nr.controls.ioBitmaps;
  const exits = nr.useIoBitmaps
    ? ioInstructionCausesExit(bitmaps!.a, bitmaps!.b, p, size, true, false)
    : nr.unconditionalIoExiting;
  if (!exits) return;
  const qualification = encodeIoQualification({
    size: size as 1 | 2 | 4,
    in: isIn,
    string: false,
    rep: false,
    immediate: !ins.operands.includes('DX'),
    port: p,
  });
  throw instructionExit(BasicExitReason.IO_INSTRUCTION, ins.length, BigInt(qualification));
}

/** IN AL/AX/EAX, imm8 or DX (E4h, E5h, ECh, EDh): stops with the port for the host to read. */
export function inPort(cpu: Cpu, ins: Instr): void {
  const p = port(cpu, ins);
  checkPermission(cpu, p, ins.osize);
  ioExit(cpu, ins, p, ins.osize, true);
  cpu.pendingStop = {
    kind: 'io',
    direction: 'in',
    port: p,
    size: ins.osize as 1 | 2 | 4,
  };
  cpu.pendingIn = ins.osize;
}

/** OUT imm8 or DX, AL/AX/EAX (E6h, E7h, EEh, EFh): stops with the port and value written. */
export function outPort(cpu: Cpu, ins: Instr): void {
  const p = port(cpu, ins);
  const size = ins.osize as 1 | 2 | 4;
  checkPermission(cpu, p, size);
  ioExit(cpu, ins, p, size, false);
  const value = size === 4 ? cpu.lo[0]! : cpu.lo[0]! & (size === 2 ? 0xffff : 0xff);
  cpu.pendingStop = { kind: 'io', direction: 'out', port: p, size, value };
}

/** Completes an IN: writes the value the host read into AL, AX or EAX (EAX zero-extends). */
export function completeIn(cpu: Cpu, size: number, value: number): void {
  writeReg(cpu, 0, size, false, value >>> 0, 0);
}

// ---- INS and OUTS (SDM Vol. 2 "INS/INSB/INSW/INSD", "OUTS/OUTSB/OUTSW/OUTSD", "REP/REPE/...").

const RCX = 1;
const RDX = 2;
const RSI = 6;
const RDI = 7;
const TWO32 = 4294967296;
/** VM-exit instruction information "segment register" encodings (SDM Vol. 3C Table 28-8). */
const DS = 3;

/**
 * An INS element waiting for `Cpu.completeIn`: its destination (already translated
 * for the write, so the port is never read for an element whose store would fault) and what
 * completing it changes.
 */
export interface PendingIns {
  /** Linear address of the element (ES:RDI). */
  readonly linear: number;
  /** Element size in bytes. */
  readonly size: 1 | 2 | 4;
  /** Address size in bytes (8, or 4 with 67h). */
  readonly asize: 4 | 8;
  /** Whether a REP prefix repeats the instruction. */
  readonly rep: boolean;
  /** The instruction's length (RIP moves past it after the last element). */
  readonly length: number;
}

/** Whether the REP counter (RCX, or ECX with a 32-bit address size) is zero. */
function countIsZero(cpu: Cpu, asize: number): boolean {
  return asize === 4 ? cpu.lo[RCX] === 0 : (cpu.lo[RCX]! | cpu.hi[RCX]!) === 0;
}

/**
 * Adds `delta` to a pointer or counter register at the address size: 64-bit arithmetic, or
 * 32-bit arithmetic whose result zero-extends into the 64-bit register (SDM Vol. 1 §3.4.1.1;
 * the host CPU shows the same for `67 rep stosb`).
 */
function addAt(cpu: Cpu, r: number, delta: number, asize: number): void {
  const l = cpu.lo[r]! + delta;
  cpu.hi[r] = asize === 4 ? 0 : (cpu.hi[r]! + Math.floor(l / TWO32)) >>> 0;
  cpu.lo[r] = l >>> 0;
}

/** The element step: +size, or -size with RFLAGS.DF (SDM Vol. 1 §3.4.3.2). */
function step(cpu: Cpu, size: number): number {
  return cpu.flags & RFLAGS.DF ? -size : size;
}

/**
 * The linear address of a string operand as two halves before the canonical check: segment
 * base (FS/GS for an OUTS override, else 0 in 64-bit mode) plus RSI or RDI at the address
 * size (SDM Vol. 1 §3.3.7).
 */
function operandAddress(cpu: Cpu, ins: Instr, r: number, source: boolean): [number, number] {
  let lo = cpu.lo[r]!;
  let hi = ins.asize === 4 ? 0 : cpu.hi[r]!;
  if (source && ins.seg !== Seg.NONE) {
    const l = lo + (ins.seg === Seg.FS ? cpu.fsBaseLo : cpu.gsBaseLo);
    hi = (hi + (ins.seg === Seg.FS ? cpu.fsBaseHi : cpu.gsBaseHi) + Math.floor(l / TWO32)) >>> 0;
    lo = l >>> 0;
  }
  return [hi, lo];
}

/** An access that runs past the top of the lower canonical half is #GP(0) (SDM Vol. 1 §3.3.7.1). */
function checkEnd(la: number, size: number): void {
  if (la >= 0 && la + size > CANONICAL_LIMIT) throw new CpuFault(Vector.GP, 0);
}

/**
 * SDM Vol. 3C §26.1.3: INS and OUTS exit like IN and OUT (the port is DX). The exit reports
 * Table 28-5's qualification with the string and REP bits, the guest-linear address of the
 * memory operand (§28.2.1: for INS/OUTS, the linear address of the first element, computed
 * but not translated or checked: faults of the memory access come after the exit, §26.1.1),
 * and the instruction information of Table 28-8 (address size; segment register of OUTS),
 * which this processor always provides (it reports IA32_VMX_BASIC[54] = 1).
 */
function stringIoExit(cpu: Cpu, ins: Instr, p: number, size: number, isIn: boolean): void {
  const nr = cpu.nonRoot;
  if (nr === undefined) return;
  const bitmaps = nr.controls.ioBitmaps;
  const exits = nr.useIoBitmaps
    ? ioInstructionCausesExit(bitmaps!.a, bitmaps!.b, p, size, true, false)
    : nr.unconditionalIoExiting;
  if (!exits) return;
  const [hi, lo] = operandAddress(cpu, ins, isIn ? RDI : RSI, !isIn);
  const qualification = encodeIoQualification({
    size: size as 1 | 2 | 4,
    in: isIn,
    string: true,
    rep: ins.rep !== Rep.NONE,
    immediate: false,
    port: p,
  });
  const segment = isIn ? 0 : ins.seg === Seg.NONE ? DS : ins.seg;
  throw new VmExit(
    exitInformation({
      exitReason: BasicExitReason.IO_INSTRUCTION,
      exitQualification: BigInt(qualification),
      guestLinearAddress: (BigInt(hi) << 32n) | BigInt(lo),
      instructionLength: ins.length,
      instructionInformation: encodeStringIoInfo({
        addressSize: ins.asize === 4 ? AddressSize.BITS_32 : AddressSize.BITS_64,
        segment,
      }),
    }),
  );
}

/**
 * What INS and OUTS check before their element, in this order: the I/O permission (#GP), the
 * VM exit in non-root mode, a zero REP count (nothing happens), then the memory operand's
 * address (ES:RDI for INS, DS:RSI or an override for OUTS), canonical and not wrapping.
 * Returns undefined when a REP count of zero ends the instruction.
 */
function stringIoElement(
  cpu: Cpu,
  ins: Instr,
  input: boolean,
): { p: number; size: 1 | 2 | 4; rep: boolean; la: number } | undefined {
  const p = cpu.lo[RDX]! & 0xffff;
  const size = ins.osize as 1 | 2 | 4;
  checkPermission(cpu, p, size);
  stringIoExit(cpu, ins, p, size, input);
  const rep = ins.rep !== Rep.NONE;
  if (rep && countIsZero(cpu, ins.asize)) return undefined;
  const [hi, lo] = operandAddress(cpu, ins, input ? RDI : RSI, !input);
  const la = canonical(hi, lo, false);
  checkEnd(la, size);
  return { p, size, rep, la };
}

/**
 * OUTS (6Eh, 6Fh): one element from DS:RSI (or an FS/GS override) to port DX per `run` stop.
 * The element is read before any register changes, so a fault leaves the state of the
 * completed elements (SDM Vol. 2 REP: the instruction can be resumed); with REP and elements
 * left RIP stays on the instruction, and each element counts as one retired instruction, as
 * for the other repeated string instructions. A REP count of zero does nothing.
 */
export function outs(cpu: Cpu, ins: Instr): void {
  const element = stringIoElement(cpu, ins, false);
  if (element === undefined) return;
  const { p, size, rep, la } = element;
  const value = readMem(cpu, la, size) >>> 0;
  addAt(cpu, RSI, step(cpu, size), ins.asize);
  if (rep) {
    addAt(cpu, RCX, -1, ins.asize);
    if (!countIsZero(cpu, ins.asize)) cpu.nextRip = cpu.ripLinear;
  }
  cpu.pendingStop = { kind: 'io', direction: 'out', port: p, size, value };
}

/**
 * INS (6Ch, 6Dh): one element from port DX to ES:RDI per `run` stop. The destination is
 * translated for the write first (faults, A/D flags) through `CpuMemory.checkWrite`, so an
 * element whose store would fault never reads the port: a device loses no data to a fault
 * (the SDM does not order the port read and the store; vmkit orders them this way, and the
 * VMM's emulation does the same). The store and the register updates happen when the host
 * completes the read ({@link completeStringIn}); RIP stays on the instruction until then.
 */
export function ins(cpu: Cpu, instr: Instr): void {
  const element = stringIoElement(cpu, instr, true);
  if (element === undefined) return;
  const { p, size, rep, la } = element;
  cpu.memory.checkWrite?.(la, size, cpu.cpl);
  cpu.pendingIns = { linear: la, size, asize: instr.asize, rep, length: instr.length };
  cpu.nextRip = cpu.ripLinear;
  cpu.pendingStop = { kind: 'io', direction: 'in', port: p, size };
  cpu.pendingIn = size;
}

/**
 * Completes a pending INS element: stores `value` at its destination, then moves RDI (and
 * counts RCX down under REP); after the last element RIP moves past the instruction. A store
 * that still faults (a device region refusing it, or translations the host changed since the
 * check) throws, leaving the registers as before the element.
 */
export function completeStringIn(cpu: Cpu, pending: PendingIns, value: number): void {
  writeMem(cpu, pending.linear, pending.size, value, 0);
  addAt(cpu, RDI, step(cpu, pending.size), pending.asize);
  if (pending.rep) addAt(cpu, RCX, -1, pending.asize);
  if (!pending.rep || countIsZero(cpu, pending.asize)) cpu.ripValue += pending.length;
}
