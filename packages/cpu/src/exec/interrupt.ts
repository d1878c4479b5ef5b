// INT n, INT3, IRETQ, CLI and STI in 64-bit mode (SDM Vol. 2 pages of each; delivery itself is
// system/deliver.ts).
import { BasicExitReason, InterruptionType } from '@vmkit/vmx';
import { RFLAGS, Vector } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';
import { CpuFault } from '../fault.js';
import type { Privilege } from '../memory.js';
import { linearPlus, sysRead64, toCanonical } from '../system/access.js';
import { deliver } from '../system/deliver.js';
import { attributes, isCode, isWritableData, readDescriptor } from '../system/descriptors.js';
import { exitInformation, VmExit } from '../vmx/vm-exit.js';
import { RSP, readRm, rmAddress } from './operands.js';
import { poppedRflags } from './stack.js';

function softwareInterrupt(cpu: Cpu, ins: Instr, vector: number): void {
  const nr = cpu.nonRoot;
  if (nr !== undefined) {
    // SDM Vol. 3C §26.2: INT3 (#BP, a software exception) exits when bit 3 of the exception
    // bitmap is 1, with the state before the instruction and its length (§28.2.4); INT n is
    // not governed by the bitmap and is delivered through the guest IDT.
    if (ins.exec === int3 && ((nr.exceptionBitmap >>> Vector.BP) & 1) === 1) {
      throw new VmExit(
        exitInformation({
          exitReason: BasicExitReason.EXCEPTION_OR_NMI,
          interruptionInfo:
            (Vector.BP | (InterruptionType.SOFTWARE_EXCEPTION << 8) | 0x8000_0000) >>> 0,
          instructionLength: ins.length,
        }),
      );
    }
    cpu.softwareEvent =
      (vector |
        ((ins.exec === int3
          ? InterruptionType.SOFTWARE_EXCEPTION
          : InterruptionType.SOFTWARE_INTERRUPT) <<
          8) |
        0x8000_0000) >>>
      0;
    cpu.softwareEventLength = ins.length;
    deliver(cpu, vector, undefined, 'software', cpu.nextRip);
    cpu.softwareEvent = 0;
    return;
  }
  // A software interrupt is a trap: when it is reported instead of delivered, RIP is after it.
  if (cpu.reportsException(vector, undefined, undefined)) {
    cpu.pendingStop = { kind: 'exception', vector, errorCode: undefined, address: undefined };
    return;
  }
  deliver(cpu, vector, undefined, 'software', cpu.nextRip);
}

/** INT imm8 (CDh): a software interrupt through the IDT, gate DPL checked against CPL. */
export function intN(cpu: Cpu, ins: Instr): void {
  softwareInterrupt(cpu, ins, ins.imm & 0xff);
}

/** INT3 (CCh): the breakpoint exception #BP, delivered as a software interrupt. */
export function int3(cpu: Cpu, ins: Instr): void {
  softwareInterrupt(cpu, ins, Vector.BP);
}

/**
 * IRETQ (REX.W CFh), the IA-32e-mode path of the IRET pseudo-code (SDM Vol. 2 IRET): pops
 * RIP, CS, RFLAGS, RSP and SS, checks the return code segment (a 64-bit code segment at the
 * same or a less privileged level) and, for a return to CPL 3, the stack segment; RFLAGS
 * bits change as POPF's rules allow at the old CPL. A return to a compatibility-mode segment
 * (L = 0) is not modelled and raises #GP(selector).
 */
export function iretq(cpu: Cpu, _ins: Instr): void {
  if ((cpu.flags & RFLAGS.NT) !== 0) throw new CpuFault(Vector.GP, 0);
  const rsp = toCanonical(cpu.lo[RSP]!, cpu.hi[RSP]!);
  if (rsp === undefined) throw new CpuFault(Vector.SS, 0);
  const word = (k: number) => sysRead64(cpu, linearPlus(rsp, 8 * k, Vector.SS), cpu.cpl);
  const [ripLo, ripHi] = word(0);
  const cs = word(1)[0] & 0xffff;
  const flags = word(2)[0];
  const [rspLo, rspHi] = word(3);
  const ss = word(4)[0] & 0xffff;

  if ((cs & 0xfffc) === 0) throw new CpuFault(Vector.GP, 0);
  const rpl = cs & 3;
  const csError = cs & 0xfffc;
  if (rpl < cpu.cpl || (rpl !== 0 && rpl !== 3)) throw new CpuFault(Vector.GP, csError);
  const code = attributes(readDescriptor(cpu, cs)[1]);
  const conforming = (code.type & 4) !== 0;
  if (!isCode(code) || (conforming ? code.dpl > rpl : code.dpl !== rpl)) {
    throw new CpuFault(Vector.GP, csError);
  }
  if (!code.present) throw new CpuFault(Vector.NP, csError);
  if (!code.long || code.db) throw new CpuFault(Vector.GP, csError);
  // A null SS is allowed only for a return to CPL < 3 in 64-bit mode.
  if ((ss & 0xfffc) === 0) {
    if (rpl === 3) throw new CpuFault(Vector.GP, 0);
  } else {
    const ssError = ss & 0xfffc;
    if ((ss & 3) !== rpl) throw new CpuFault(Vector.GP, ssError);
    const data = attributes(readDescriptor(cpu, ss)[1]);
    if (!isWritableData(data) || data.dpl !== rpl) throw new CpuFault(Vector.GP, ssError);
    if (!data.present) throw new CpuFault(Vector.SS, ssError);
  }
  const target = toCanonical(ripLo, ripHi);
  if (target === undefined) throw new CpuFault(Vector.GP, 0);

  // RFLAGS: as POPF at the old CPL; VM, VIF and VIP stay clear in 64-bit mode. RF (which
  // only suppresses instruction breakpoints, not modelled) is cleared.
  cpu.flags = poppedRflags(cpu, flags);
  cpu.lo[RSP] = rspLo;
  cpu.hi[RSP] = rspHi;
  cpu.cs = cs;
  cpu.ss = ss;
  cpu.cpl = rpl as Privilege;
  cpu.nextRip = target;
}

function checkIopl(cpu: Cpu): void {
  // SDM Vol. 2 CLI/STI: in 64-bit mode (no VME/PVI) CPL > IOPL is #GP(0).
  if (cpu.cpl > (cpu.flags & RFLAGS.IOPL) >>> 12) throw new CpuFault(Vector.GP, 0);
}

/** CLI (FAh): clears RFLAGS.IF when CPL <= IOPL. */
export function cli(cpu: Cpu, _ins: Instr): void {
  checkIopl(cpu);
  cpu.flags = (cpu.flags & ~RFLAGS.IF) >>> 0;
}

/**
 * STI (FBh): sets RFLAGS.IF when CPL <= IOPL. If IF was clear, external interrupts stay
 * blocked until the next instruction completes (the STI interrupt shadow, SDM Vol. 2 STI).
 */
export function sti(cpu: Cpu, _ins: Instr): void {
  checkIopl(cpu);
  if ((cpu.flags & RFLAGS.IF) === 0) cpu.interruptShadow = true;
  cpu.flags = (cpu.flags | RFLAGS.IF) >>> 0;
}

/**
 * MOV SS, r/m16 (8Eh /2) in 64-bit mode (SDM Vol. 2 MOV, "IF SS is loaded"): a null selector
 * is allowed below CPL 3; otherwise RPL and the descriptor's DPL must equal CPL and the
 * descriptor must be a writable data segment (#GP(selector)), present (#SS(selector)). Like
 * STI, it blocks external interrupts until the next instruction completes (SDM Vol. 3A
 * §6.8.3), so that a following MOV RSP completes the stack switch.
 */
export function movSs(cpu: Cpu, ins: Instr): void {
  const selector = readRm(cpu, ins, rmAddress(cpu, ins), 2);
  if ((selector & 0xfffc) === 0) {
    if (cpu.cpl === 3) throw new CpuFault(Vector.GP, 0);
  } else {
    const error = selector & 0xfffc;
    if ((selector & 3) !== cpu.cpl) throw new CpuFault(Vector.GP, error);
    const data = attributes(readDescriptor(cpu, selector)[1]);
    if (!isWritableData(data) || data.dpl !== cpu.cpl) throw new CpuFault(Vector.GP, error);
    if (!data.present) throw new CpuFault(Vector.SS, error);
  }
  cpu.ss = selector;
  cpu.interruptShadow = true;
}
