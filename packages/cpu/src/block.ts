// Basic blocks: straight-line runs of decoded instructions ending at a control transfer,
// compiled into one JavaScript function with a direct call per instruction. Each call site
// then sees a single handler (monomorphic), which V8 can inline, instead of the one
// megamorphic dispatch of an instruction-at-a-time loop. The semantics are the loop's: RIP,
// the next RIP and the RFLAGS to restore on a fault are set before every instruction, the
// budget is counted per instruction, and the block stops early on a stop request or when a
// store invalidated cached code (self-modifying code).
import { branchSource, HELPERS, inlineSource, memorySource } from './codegen.js';
import type { Cpu } from './cpu.js';
import type { Handler, Instr } from './decoder/instr.js';
import { add, logicFlags, sub } from './exec/flags.js';
import { effectiveAddress, readMem, writeMem } from './exec/operands.js';
import { shiftValue } from './exec/shift.js';

/** A compiled block: runs up to `length` instructions starting at `start`. */
export interface Block {
  /** Linear address of the first instruction. */
  readonly start: number;
  /** The decoded instructions, in order. */
  readonly instructions: readonly Instr[];
  /** Executes the block on a CPU whose RIP is `start` and whose budget is at least 1. */
  readonly run: (cpu: Cpu) => void;
}

/** Most instructions per block; longer straight-line code continues in the next block. */
export const MAX_BLOCK_INSTRUCTIONS = 32;

/**
 * Compiles decoded instructions (at consecutive addresses from `start`) into a block.
 *
 * @param start - the linear address of the first instruction
 * @param instructions - the instructions; only the last may transfer control
 * @returns the block
 */
export function compileBlock(start: number, instructions: readonly Instr[]): Block {
  const handlers: Handler[] = [];
  const lines: string[] = ['const e = c.codeEpoch; const L = c.lo; const H = c.hi;'];
  let rip = start;
  const last = instructions.length - 1;
  instructions.forEach((ins, k) => {
    handlers.push(ins.exec);
    const next = rip + ins.length;
    const inline = k < last ? inlineSource(ins) : undefined;
    const memory = k < last && inline === undefined ? memorySource(ins, k, rip) : undefined;
    const branch = k === last ? branchSource(ins, rip) : undefined;
    if (memory !== undefined) {
      lines.push(memory.source);
      lines.push(
        memory.store
          ? `if (--c.remaining <= 0 || c.codeEpoch !== e) { c.ripValue = ${next}; return; }`
          : `if (--c.remaining <= 0) { c.ripValue = ${next}; return; }`,
      );
    } else if (inline !== undefined) {
      // Register-only and fault-free: RIP only needs to be right where the block can exit.
      lines.push(inline);
      lines.push(`if (--c.remaining <= 0) { c.ripValue = ${next}; return; }`);
    } else if (branch !== undefined) {
      lines.push(branch);
      lines.push('c.remaining--;');
    } else {
      lines.push(
        `c.ripValue = ${rip}; c.nextRip = ${next}; c.committedFlags = c.flags; h${k}(c, i${k});`,
      );
      lines.push('c.ripValue = c.nextRip;');
      lines.push(
        k < last
          ? 'if (--c.remaining <= 0 || c.pendingStop !== undefined || c.codeEpoch !== e) return;'
          : 'c.remaining--;',
      );
    }
    rip = next;
  });
  const names = [
    ...HELPERS,
    ...handlers.map((_, k) => `h${k}`),
    ...instructions.map((_, k) => `i${k}`),
  ];
  // The generated source contains only numbers and fixed identifiers: no guest-controlled
  // text reaches the compiler.
  const factory = new Function(...names, `return function block(c) {\n${lines.join('\n')}\n};`);
  const run = factory(
    add,
    sub,
    logicFlags,
    shiftValue,
    effectiveAddress,
    readMem,
    writeMem,
    ...handlers,
    ...instructions,
  ) as (cpu: Cpu) => void;
  return { start, instructions, run };
}
