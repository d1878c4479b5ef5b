// The classes the CPU counts retired instructions in. They are the CPU's own (a cost model maps
// them onto its classes), chosen where instructions differ in cost on real cores by an order
// of magnitude or in kind: multiplies and divides (Intel Optimization Reference Manual,
// instruction latency tables), control transfers (which the branch predictor sees), string
// iterations and PAUSE (a spin-loop hint with a long, model-specific delay).
import type { Handler, Instr } from './decoder/instr.js';
import * as cond from './exec/cond.js';
import * as control from './exec/control.js';
import * as misc from './exec/misc.js';
import * as muldiv from './exec/muldiv.js';
import * as str from './exec/string.js';

/**
 * The classes of retired instructions, in the order of {@link Cpu.classCounts}:
 *
 * - `other`: everything not listed below.
 * - `multiply`: MUL and IMUL, all forms (F6/F7 /4 /5, 0F AF, 69, 6B).
 * - `divide`: DIV and IDIV (F6/F7 /6 /7), including those that raise #DE (which do not retire).
 * - `branch`: near control transfers: Jcc, JMP rel8/rel32, JMP r/m64 (indirect), CALL rel32,
 *   CALL r/m64 (indirect), RET and RET imm16, LOOP, LOOPE, LOOPNE, JRCXZ. Software interrupts,
 *   IRETQ, SYSCALL and SYSRET are `other`: they are events, not branches the predictor of
 *   {@link BranchPredictor} sees.
 * - `string`: MOVS, CMPS, STOS, LODS, SCAS (all sizes); with a REP prefix every iteration
 *   counts as one, as in {@link Cpu.instructions}, and a REP with RCX = 0 counts once.
 * - `pause`: PAUSE (F3 90).
 */
export const RETIRED_CLASSES = [
  'other',
  'multiply',
  'divide',
  'branch',
  'string',
  'pause',
] as const;

/** One of {@link RETIRED_CLASSES}. */
export type RetiredClass = (typeof RETIRED_CLASSES)[number];

/** Index of `other` in {@link RETIRED_CLASSES}. */
export const CLASS_OTHER = 0;
/** Index of `string` in {@link RETIRED_CLASSES}. */
export const CLASS_STRING = 4;

// By handler: each handler executes instructions of one class only (decoder/opcodes.ts).
const BY_HANDLER = new Map<Handler, number>([
  [muldiv.mul, 1],
  [muldiv.imul1, 1],
  [muldiv.imul2, 1],
  [muldiv.imul3, 1],
  [muldiv.div, 2],
  [muldiv.idiv, 2],
  [cond.jcc, 3],
  [control.jmpRel, 3],
  [control.jmpRm, 3],
  [control.callRel, 3],
  [control.callRm, 3],
  [control.ret, 3],
  [control.retImm, 3],
  [control.loop, 3],
  [control.jrcxz, 3],
  [str.movs, 4],
  [str.cmps, 4],
  [str.stos, 4],
  [str.lods, 4],
  [str.scas, 4],
  [misc.pause, 5],
]);

/**
 * The class of a decoded instruction, as an index into {@link RETIRED_CLASSES}.
 *
 * @param ins - the instruction
 * @returns its class index
 * @example
 * ```ts
 * const ins = decode((i) => [0x48, 0xf7, 0xf1][i]!); // div rcx
 * RETIRED_CLASSES[instructionClass(ins)]; // 'divide'
 * ```
 */
export function instructionClass(ins: Instr): number {
  return BY_HANDLER.get(ins.exec) ?? CLASS_OTHER;
}
