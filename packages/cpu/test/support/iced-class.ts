// The classification oracle: the class of an instruction from iced-x86's decoding of its bytes
// (its Mnemonic and FlowControl tables), written from the class definitions in the CPU's
// documentation without looking at how the CPU classifies (by handler).
import { Decoder, DecoderOptions, FlowControl, type Instruction, Mnemonic } from 'iced-x86';

const MULTIPLY = new Set([Mnemonic.Mul, Mnemonic.Imul]);
const DIVIDE = new Set([Mnemonic.Div, Mnemonic.Idiv]);
const STRING = new Set([
  Mnemonic.Movsb,
  Mnemonic.Movsw,
  Mnemonic.Movsd,
  Mnemonic.Movsq,
  Mnemonic.Cmpsb,
  Mnemonic.Cmpsw,
  Mnemonic.Cmpsd,
  Mnemonic.Cmpsq,
  Mnemonic.Stosb,
  Mnemonic.Stosw,
  Mnemonic.Stosd,
  Mnemonic.Stosq,
  Mnemonic.Lodsb,
  Mnemonic.Lodsw,
  Mnemonic.Lodsd,
  Mnemonic.Lodsq,
  Mnemonic.Scasb,
  Mnemonic.Scasw,
  Mnemonic.Scasd,
  Mnemonic.Scasq,
]);
const TRANSFERS = new Set([
  FlowControl.UnconditionalBranch,
  FlowControl.IndirectBranch,
  FlowControl.ConditionalBranch,
  FlowControl.Call,
  FlowControl.IndirectCall,
  FlowControl.Return,
]);
// Control transfers iced lists that the CPU's `branch` class leaves out on purpose: system
// transfers (they change privilege or leave the guest), not near branches.
const SYSTEM_TRANSFERS = new Set([
  Mnemonic.Iretq,
  Mnemonic.Syscall,
  Mnemonic.Sysretq,
  Mnemonic.Vmcall,
]);

/** The class name iced-x86's decoding implies. */
export function icedClass(i: Instruction): string {
  if (MULTIPLY.has(i.mnemonic)) return 'multiply';
  if (DIVIDE.has(i.mnemonic)) return 'divide';
  if (STRING.has(i.mnemonic)) return 'string';
  if (i.mnemonic === Mnemonic.Pause) return 'pause';
  if (TRANSFERS.has(i.flowControl) && !SYSTEM_TRANSFERS.has(i.mnemonic)) return 'branch';
  return 'other';
}

/** Whether iced-x86 calls the instruction a conditional branch. */
export function icedConditional(i: Instruction): boolean {
  return i.flowControl === FlowControl.ConditionalBranch;
}

/**
 * Decodes one instruction from `bytes` at `ip` with iced-x86 and hands it to `use` (the
 * decoder's objects are freed afterwards).
 */
export function withIced<T>(bytes: Uint8Array, ip: bigint, use: (i: Instruction) => T): T {
  const d = new Decoder(64, bytes, DecoderOptions.None);
  d.ip = ip;
  const i = d.decode();
  try {
    return use(i);
  } finally {
    i.free();
    d.free();
  }
}
