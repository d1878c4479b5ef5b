// Port I/O: IN and OUT (SDM Vol. 2 IN, OUT; protection per Vol. 1 §19.5). The CPU does not
// model devices: it stops `run` with an `io` stop reason and the host performs the access.
import { BasicExitReason, encodeIoQualification, ioInstructionCausesExit } from '@vmkit/vmx';
import { RFLAGS } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';
import { generalProtection } from '../fault.js';
import { linearPlus, sysRead32 } from '../system/access.js';
import { instructionExit } from '../vmx/vm-exit.js';
import { writeReg } from './operands.js';

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
