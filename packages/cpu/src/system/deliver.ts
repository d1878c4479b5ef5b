// Event delivery through the 64-bit IDT (SDM Vol. 3A §6.14 "Exception and Interrupt
// Handling in 64-bit Mode", with the checks of the INT n pseudo-code in Vol. 2 and the error
// codes of §6.13): read the 16-byte gate, check it and its code segment, pick the stack
// (IST, or TSS.RSPn on a privilege change, §6.14.4-6.14.5), push SS, RSP, RFLAGS, CS, RIP
// and the error code, then enter the handler.
import { RFLAGS, Vector } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import { CpuFault } from '../fault.js';
import type { Privilege } from '../memory.js';
import { halves, linearPlus, sysRead32, sysRead64, sysWrite64, toCanonical } from './access.js';
import { attributes, isCode, readDescriptor } from './descriptors.js';

/**
 * Where an event comes from, which decides the EXT bit of error codes raised while
 * delivering it and whether the gate's DPL is checked (SDM Vol. 3A §6.12.1.1, §6.13).
 * - `hardware`: an exception raised by the processor or an external interrupt (EXT = 1).
 * - `software`: INT n or INT3 (EXT = 0; #GP unless CPL <= gate DPL).
 */
export type EventSource = 'hardware' | 'software';

const GATE_INTERRUPT = 0xe;
const GATE_TRAP = 0xf;
const TSS_RSP0 = 4;
const TSS_IST1 = 36;

/**
 * Delivers `vector` through the IDT. Every check and read happens before any register
 * changes, so a fault thrown from here leaves the CPU as it was (the frame may be partly
 * written below the old stack, as on hardware).
 *
 * @param cpu - the CPU
 * @param vector - 0..255
 * @param errorCode - pushed when defined (exceptions with an error code, Table 6-1)
 * @param source - hardware or software (see {@link EventSource})
 * @param returnRip - the RIP pushed: the faulting instruction for faults, the next one for
 *   traps and INT n
 */
export function deliver(
  cpu: Cpu,
  vector: number,
  errorCode: number | undefined,
  source: EventSource,
  returnRip: number,
): void {
  const ext = source === 'hardware' ? 1 : 0;
  // §6.13: an error code naming an IDT entry has IDT = 1 (bit 1).
  const idtError = vector * 8 + 2 + ext;
  if (vector * 16 + 15 > cpu.idtrLimit) throw new CpuFault(Vector.GP, idtError);
  const gate = linearPlus(cpu.idtrBase, vector * 16);
  const w0 = sysRead32(cpu, gate, 0);
  const w1 = sysRead32(cpu, gate + 4, 0);
  const w2 = sysRead32(cpu, gate + 8, 0);
  const w3 = sysRead32(cpu, gate + 12, 0);
  // §6.14.1, Figure 6-8: only 64-bit interrupt and trap gates are valid in IA-32e mode, and
  // the type field of the upper eight bytes must be zero.
  const type = (w1 >>> 8) & 0x1f;
  if ((type !== GATE_INTERRUPT && type !== GATE_TRAP) || ((w3 >>> 8) & 0x1f) !== 0) {
    throw new CpuFault(Vector.GP, idtError);
  }
  const gateDpl = (w1 >>> 13) & 3;
  // §6.12.1.1: software interrupts need CPL <= gate DPL; exceptions and interrupts do not.
  if (source === 'software' && gateDpl < cpu.cpl) throw new CpuFault(Vector.GP, vector * 8 + 2);
  if ((w1 & 0x8000) === 0) throw new CpuFault(Vector.NP, idtError);

  const selector = w0 >>> 16;
  if ((selector & 0xfffc) === 0) throw new CpuFault(Vector.GP, ext);
  const [, high] = readDescriptor(cpu, selector, Vector.GP, ext);
  const code = attributes(high);
  const selError = (selector & 0xfffc) | ext;
  // The handler must be in a 64-bit code segment (L = 1, D = 0) at the same or a more
  // privileged level.
  if (!isCode(code) || !code.long || code.db || code.dpl > cpu.cpl) {
    throw new CpuFault(Vector.GP, selError);
  }
  if (!code.present) throw new CpuFault(Vector.NP, selError);
  const conforming = (code.type & 4) !== 0;
  const newCpl = (conforming ? cpu.cpl : code.dpl) as Privilege;
  if (newCpl !== 0 && newCpl !== 3) throw new CpuFault(Vector.GP, selError);
  const target = toCanonical((w0 & 0xffff) | (w1 & 0xffff0000), w2);
  if (target === undefined) throw new CpuFault(Vector.GP, ext);

  // §6.14.4-6.14.5: IST n always switches to TSS.ISTn; otherwise a privilege change switches
  // to TSS.RSPn of the new level.
  const ist = w1 & 7;
  const oldRspLo = cpu.lo[4]!;
  const oldRspHi = cpu.hi[4]!;
  let stack: number;
  if (ist !== 0 || newCpl < cpu.cpl) {
    const offset = ist !== 0 ? TSS_IST1 + 8 * (ist - 1) : TSS_RSP0 + 8 * newCpl;
    if (offset + 7 > cpu.trLimit) throw new CpuFault(Vector.TS, (cpu.trSelector & 0xfffc) | ext);
    const [lo, hi] = sysRead64(cpu, linearPlus(cpu.trBase, offset), 0, true);
    const la = toCanonical(lo, hi);
    if (la === undefined) throw new CpuFault(Vector.SS, ext);
    stack = la;
  } else {
    const la = toCanonical(oldRspLo, oldRspHi);
    if (la === undefined) throw new CpuFault(Vector.SS, ext);
    stack = la;
  }
  // §6.14.2: the new RSP is aligned down to 16 bytes before the frame is pushed.
  stack -= ((stack % 16) + 16) % 16;
  const words = errorCode === undefined ? 5 : 6;
  const top = linearPlus(stack, -8 * words, Vector.SS);
  const frame: number[] = [];
  if (errorCode !== undefined) frame.push(errorCode >>> 0, 0);
  const [ripLo, ripHi] = halves(returnRip);
  frame.push(ripLo, ripHi, cpu.cs, 0, cpu.flags >>> 0, 0, oldRspLo, oldRspHi, cpu.ss, 0);
  // Pushed in the processor's order, SS first (highest address), so a fault names the first
  // word that cannot be written.
  for (let k = words - 1; k >= 0; k--) {
    sysWrite64(cpu, top + 8 * k, frame[2 * k]!, frame[2 * k + 1]!, newCpl);
  }

  // Commit: nothing below can fault.
  const [topLo, topHi] = halves(top);
  cpu.lo[4] = topLo;
  cpu.hi[4] = topHi;
  // §6.14.4: on a privilege change SS becomes a null selector with RPL = the new CPL.
  if (newCpl !== cpu.cpl) cpu.ss = newCpl;
  cpu.cs = (selector & 0xfffc) | newCpl;
  cpu.cpl = newCpl;
  // §6.12.1.3: TF, NT, RF and VM are cleared; an interrupt gate also clears IF.
  let clear = RFLAGS.TF | RFLAGS.NT | RFLAGS.RF | RFLAGS.VM;
  if (type === GATE_INTERRUPT) clear |= RFLAGS.IF;
  cpu.flags = (cpu.flags & ~clear) >>> 0;
  cpu.ripValue = target;
  cpu.nextRip = target;
}
