// Basic blocks: straight-line runs of decoded instructions ending at a control transfer,
// compiled into one JavaScript function: inline code for the common forms (codegen.ts) and a
// direct call of the handler for the rest, so each call site sees a single handler
// (monomorphic) instead of the megamorphic dispatch of an instruction-at-a-time loop. The
// semantics are those of executing one instruction at a time: RIP and the RFLAGS to restore
// are right before every instruction that can fault, the budget counts every instruction,
// and the block stops early on a stop request or when a store invalidated cached code
// (self-modifying code).

import { Vector } from '@vmkit/x86';
import type { BranchPredictor } from './branch-predictor.js';
import { PAGE } from './code-cache.js';
import {
  branchSource,
  conditionalExit,
  flagEffect,
  HELPERS,
  inlineSource,
  memorySource,
  resultOnlySource,
} from './codegen.js';
import { canonicalSum } from './codegen-address.js';
import type { Cpu } from './cpu.js';
import { decode } from './decoder/decode.js';
import type { Handler, Instr } from './decoder/instr.js';
import * as cond from './exec/cond.js';
import * as control from './exec/control.js';
import { add64, addNarrow, logicFlags, sub64, subNarrow } from './exec/flags.js';
import * as interrupt from './exec/interrupt.js';
import * as misc from './exec/misc.js';
import * as msr from './exec/msr.js';
import { effectiveAddress, readMem, writeMem } from './exec/operands.js';
import { shiftValue } from './exec/shift.js';
import * as stack from './exec/stack.js';
import * as str from './exec/string.js';
import * as syscall from './exec/syscall.js';
import * as system from './exec/system.js';
import { CpuFault } from './fault.js';
import { CLASS_OTHER, instructionClass } from './instruction-class.js';
import type { CpuMemory, Privilege } from './memory.js';

/** A compiled block: runs up to `length` instructions starting at `start`. */
export interface Block {
  /** Linear address of the first instruction. */
  readonly start: number;
  /**
   * The CPL its instructions were fetched at: paging checks fetches against U/S, so a block
   * runs only at the CPL it was fetched with.
   */
  readonly cpl: Privilege;
  /** The decoded instructions, in order. */
  readonly instructions: readonly Instr[];
  /** Executes the block on a CPU whose RIP is `start` and whose budget is at least 1. */
  readonly run: (cpu: Cpu) => void;
  /**
   * The class of each instruction, an index into `RETIRED_CLASSES` (instruction-class.ts),
   * fixed when the block is built so that counting retired instructions by class costs the
   * run loop a few additions per block, not work per instruction.
   */
  readonly classes: readonly number[];
  /**
   * The classes of the block's instructions that are not `other`, one entry per instruction
   * (usually just the final branch): with {@link Block.others}, what one whole run retires.
   */
  readonly tally: readonly number[];
  /** How many of the block's instructions are of class `other`. */
  readonly others: number;
  /**
   * Whether the block ends with a branch to its own start that its fast body repeats in one
   * call (so one call can retire several passes).
   */
  readonly loops: boolean;
  /**
   * The linear address of the inline Jcc that ends the block when the run loop reports its
   * outcomes to the branch predictor (`trainRetired` in block.ts), else -1.
   */
  readonly branch: number;
  /** That Jcc's target: the branch was taken exactly when the block left RIP there. */
  readonly target: number;
  /** The block that ran after this one last time (a one-entry successor cache). */
  next: Block | undefined;
  /** The code-cache epoch when `next` was recorded; any invalidation makes it stale. */
  nextEpoch: number;
  /**
   * The memory's `translationEpoch` when `next` was recorded: `next` is followed without a
   * fetch translation only while the translations it was found through are unchanged.
   */
  nextTranslation: number;
  /**
   * Physical address of the first instruction byte: the code cache's key. The CPU sets it from
   * the fetch translation of `start`; {@link compileBlock} assumes an identity map.
   */
  physical: number;
  /**
   * When the last instruction reaches into the next 4 KiB page: the physical address of that
   * page, which the block needs the fetch translation to still give; -1 otherwise.
   */
  crossPhysical: number;
  /** The next cached block with the same `physical` (another linear alias, or another CPL). */
  alias: Block | undefined;
}

/**
 * Adds the classes of what one call of `block.run` retired to `counts` (indexed as
 * `RETIRED_CLASSES`): `retired` is how much the call took from the budget, exact however the
 * call ended (whole block, budget, fault, VM exit, stop). A looping block retires whole passes
 * and then a prefix of one; a REP string instruction, which always ends its block, retires one
 * budget unit per iteration, counted in its class.
 *
 * @param block - the block that ran
 * @param retired - instructions it retired (budget units)
 * @param counts - the per-class counters to add to
 */
export function countRetired(block: Block, retired: number, counts: Float64Array): void {
  const classes = block.classes;
  const n = classes.length;
  let left = retired;
  if (block.loops && left >= n) {
    const passes = Math.floor(left / n);
    counts[CLASS_OTHER] = counts[CLASS_OTHER]! + passes * block.others;
    for (const k of block.tally) counts[k] = counts[k]! + passes;
    left -= passes * n;
  }
  const prefix = left < n ? left : n;
  for (let i = 0; i < prefix; i++) counts[classes[i]!] = counts[classes[i]!]! + 1;
  // REP iterations after the first (only a string instruction, the last, repeats).
  if (left > n) counts[classes[n - 1]!] = counts[classes[n - 1]!]! + (left - n);
}

/**
 * Reports the outcomes of the block's final inline Jcc ({@link Block.branch}) that one call
 * of `block.run` retired to the branch predictor, from what the call retired and where it
 * left RIP: the block's code does not train the predictor itself, so the hot path pays one
 * update per block call (and per loop, not per pass). Each pass of a looping block but the
 * last retired branch went back to the start (taken); the last retired one was taken if the
 * call went on into another pass or left RIP at the target. Exact however the call ended.
 *
 * @param block - the block that ran
 * @param retired - instructions it retired (budget units)
 * @param rip - RIP after the call (before any event delivery)
 * @param predictor - the CPU's predictor
 */
export function trainRetired(
  block: Block,
  retired: number,
  rip: number,
  predictor: BranchPredictor,
): void {
  const n = block.classes.length;
  if (block.branch === -1 || retired < n) return;
  if (!block.loops) {
    predictor.update(block.branch, rip === block.target);
    return;
  }
  const passes = Math.floor(retired / n);
  if (passes > 1) predictor.updateTaken(block.branch, passes - 1);
  predictor.update(block.branch, retired > passes * n || rip === block.target);
}

/** Most instructions per block; longer straight-line code continues in the next block. */
export const MAX_BLOCK_INSTRUCTIONS = 32;

/**
 * Compiles decoded instructions (at consecutive addresses from `start`) into a block.
 *
 * The function has two bodies. The careful one keeps RIP and the budget exact after every
 * instruction, so the block can stop anywhere (a budget of 1 runs one instruction). The fast
 * one runs when the budget covers the whole block: the budget is settled only before
 * instructions that can fault or stop, and the flags of an inline instruction are not
 * computed when a later inline instruction overwrites all of them before anything reads them
 * or anything can stop the block (dead flags). Both end in the same architectural state.
 *
 * @param start - the linear address of the first instruction
 * @param instructions - the instructions; only the last may transfer control
 * @param cpl - the CPL the instructions were fetched at (default 0)
 * @returns the block
 */
export function compileBlock(
  start: number,
  instructions: readonly Instr[],
  cpl: Privilege = 0,
): Block {
  return instantiate(blockFactory(start, instructions), start, instructions, cpl);
}

/**
 * The compiled form of a block before it is bound to its instructions: a function of the
 * helpers, the handlers and the instruction objects that returns the block's `run`. Its source
 * depends only on the start address and the decoded instructions, so one factory serves every
 * block decoded from the same bytes at the same address.
 */
type BlockFactory = (...bound: unknown[]) => (cpu: Cpu) => void;

function blockFactory(start: number, instructions: readonly Instr[]): BlockFactory {
  const careful = carefulBody(start, instructions);
  const n = instructions.length;
  let body: string;
  if (branchesToItself(start, instructions)) {
    // A loop in one block: the fast body repeats while the budget covers another pass and
    // the branch goes back to the start, without returning to the run loop in between (the
    // same instructions, counted the same way, as running the block again).
    // When the passes used the budget up exactly, nothing may run after the loop.
    body = `while (c.remaining >= ${n}) {\n${fastBody(start, instructions)}\nif (c.ripValue !== ${start} || c.code.epoch !== e) return;\n}\nif (c.remaining <= 0) return;\n${careful}`;
  } else if (n > 1) {
    body = `if (c.remaining >= ${n}) {\n${fastBody(start, instructions)}\n} else {\n${careful}\n}`;
  } else {
    body = careful;
  }
  const names = [
    ...HELPERS,
    ...instructions.map((_, k) => `h${k}`),
    ...instructions.map((_, k) => `i${k}`),
  ];
  // The generated source contains only numbers and fixed identifiers: no guest-controlled
  // text reaches the compiler.
  return new Function(
    ...names,
    `return function block(c) {\nconst e = c.code.epoch; const L = c.lo; const H = c.hi;\n${body}\n};`,
  ) as BlockFactory;
}

function instantiate(
  factory: BlockFactory,
  start: number,
  instructions: readonly Instr[],
  cpl: Privilege,
): Block {
  return blockFrom(template(factory, start, instructions), cpl);
}

/**
 * A block's compiled `run`, bound to its decoded instructions, with what is fixed with them:
 * everything about a block except the CPL it was fetched at and the per-cache links. Blocks
 * made from one template share its `run`, so the JavaScript engine's optimized code for it
 * (and its type feedback) carries over to every later block from the same bytes at the same
 * address, on any CPU.
 */
export interface BlockTemplate
  extends Omit<
    Block,
    'cpl' | 'next' | 'nextEpoch' | 'nextTranslation' | 'physical' | 'crossPhysical' | 'alias'
  > {
  /** Identity-mapped address of the next page when the last instruction reaches it, else -1. */
  readonly crossPage: number;
}

function template(
  factory: BlockFactory,
  start: number,
  instructions: readonly Instr[],
): BlockTemplate {
  const run = factory(
    add64,
    addNarrow,
    sub64,
    subNarrow,
    logicFlags,
    shiftValue,
    effectiveAddress,
    readMem,
    writeMem,
    canonicalSum,
    ...instructions.map((ins) => ins.exec),
    ...instructions,
  );
  const classes = instructions.map(instructionClass);
  const tally = classes.filter((k) => k !== CLASS_OTHER);
  let end = start;
  for (const ins of instructions) end += ins.length;
  const last = instructions[instructions.length - 1]!;
  const target = conditionalExit(last, end - last.length);
  // Identity physical addresses until the CPU sets the translated ones.
  const crosses = start >= 0 && Math.floor((end - 1) / PAGE) !== Math.floor(start / PAGE);
  return {
    start,
    instructions,
    run,
    classes,
    tally,
    others: classes.length - tally.length,
    loops: branchesToItself(start, instructions),
    branch: target === -1 ? -1 : end - last.length,
    target,
    crossPage: crosses ? (Math.floor(start / PAGE) + 1) * PAGE : -1,
  };
}

// A new block (fresh links) from a template.
function blockFrom(t: BlockTemplate, cpl: Privilege): Block {
  return {
    start: t.start,
    cpl,
    instructions: t.instructions,
    run: t.run,
    classes: t.classes,
    tally: t.tally,
    others: t.others,
    loops: t.loops,
    branch: t.branch,
    target: t.target,
    next: undefined,
    nextEpoch: -1,
    nextTranslation: -1,
    physical: t.start,
    crossPhysical: t.crossPage,
    alias: undefined,
  };
}

// Whether the block ends with an inline branch (Jcc or JMP rel) back to its own start.
function branchesToItself(start: number, instructions: readonly Instr[]): boolean {
  let rip = start;
  for (let k = 0; k < instructions.length - 1; k++) rip += instructions[k]!.length;
  const last = instructions[instructions.length - 1]!;
  return branchSource(last, rip) !== undefined && rip + last.length + last.imm === start;
}

function carefulBody(start: number, instructions: readonly Instr[]): string {
  const lines: string[] = [];
  let rip = start;
  const last = instructions.length - 1;
  instructions.forEach((ins, k) => {
    const next = rip + ins.length;
    const inline = k < last ? inlineSource(ins) : undefined;
    const memory = k < last && inline === undefined ? memorySource(ins, k, rip) : undefined;
    const branch = k === last ? branchSource(ins, rip) : undefined;
    if (memory !== undefined) {
      lines.push(memory.source);
      lines.push(
        memory.store
          ? `if (--c.remaining <= 0 || c.code.epoch !== e) { c.ripValue = ${next}; return; }`
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
          ? 'if (--c.remaining <= 0 || c.pendingStop !== undefined || c.code.epoch !== e) return;'
          : 'c.remaining--;',
      );
    }
    rip = next;
  });
  return lines.join('\n');
}

// Whether the flags written by inline instruction k are dead: the following instructions up
// to the next one that writes all status flags are inline, flag-neutral and fault-free.
function flagsDead(instructions: readonly Instr[], k: number): boolean {
  for (let j = k + 1; j < instructions.length; j++) {
    const effect = flagEffect(instructions[j]!);
    if (effect === 'writesAll') return true;
    if (effect !== 'none') return false;
  }
  return false;
}

function fastBody(start: number, instructions: readonly Instr[]): string {
  const lines: string[] = [];
  let rip = start;
  const last = instructions.length - 1;
  // Instructions completed since the budget was last settled.
  let pending = 0;
  const settle = (): void => {
    if (pending > 0) lines.push(`c.remaining -= ${pending};`);
    pending = 0;
  };
  instructions.forEach((ins, k) => {
    const next = rip + ins.length;
    const inline = inlineSource(ins);
    const memory = k < last && inline === undefined ? memorySource(ins, k, rip) : undefined;
    const branch = k === last ? branchSource(ins, rip) : undefined;
    if (branch !== undefined) {
      lines.push(branch);
      pending++;
      settle();
    } else if (inline !== undefined) {
      lines.push(
        flagEffect(ins) === 'writesAll' && flagsDead(instructions, k)
          ? resultOnlySource(ins)
          : inline,
      );
      pending++;
      if (k === last) {
        lines.push(`c.ripValue = ${next};`);
        settle();
      }
    } else if (memory !== undefined) {
      // Can fault: the budget must count exactly the instructions completed before it.
      settle();
      lines.push(memory.source);
      pending = 1;
      if (memory.store)
        lines.push(`if (c.code.epoch !== e) { c.ripValue = ${next}; c.remaining -= 1; return; }`);
    } else {
      settle();
      lines.push(
        `c.ripValue = ${rip}; c.nextRip = ${next}; c.committedFlags = c.flags; h${k}(c, i${k});`,
      );
      lines.push('c.ripValue = c.nextRip;');
      if (k < last) {
        lines.push(
          'if (c.pendingStop !== undefined || c.code.epoch !== e) { c.remaining -= 1; return; }',
        );
        pending = 1;
      } else {
        lines.push('c.remaining -= 1;');
      }
    }
    rip = next;
  });
  return lines.join('\n');
}

/**
 * Handlers after which a block ends: they may transfer control, repeat, stop, or (POPFQ) set
 * TF, which changes how the following instructions run.
 */
const ENDS_BLOCK = new Set<Handler>([
  stack.popf,
  control.jmpRel,
  control.jmpRm,
  control.callRel,
  control.callRm,
  control.ret,
  control.retImm,
  control.loop,
  control.jrcxz,
  cond.jcc,
  str.movs,
  str.cmps,
  str.stos,
  str.lods,
  str.scas,
  misc.hlt,
  misc.ud2,
  // Events and changes of IF, CPL or the interrupt shadow: the run loop must see them.
  interrupt.int3,
  interrupt.intN,
  interrupt.iretq,
  interrupt.cli,
  interrupt.sti,
  interrupt.movSs,
  syscall.syscall,
  syscall.sysret,
  // Changes to paging or translations, and MSR accesses the host may handle.
  system.movToCr,
  system.invlpg,
  system.invpcid,
  msr.rdmsr,
  msr.wrmsr,
]);

function decodeAt(memory: CpuMemory, cpl: Privilege, rip: number, bytes: number[]): Instr {
  return decode((i) => {
    const la = rip + i;
    // Fetching past the top of the canonical lower half is a #GP (SDM Vol. 1 §3.3.7.1).
    if (rip >= 0 && la >= 2 ** 47) throw new CpuFault(Vector.GP, 0);
    const b = memory.fetch8(la, cpl);
    bytes[i] = b;
    return b;
  });
}

// Decodes the instructions of the block at `start` (see buildBlock) and returns them with
// their bytes, as a string of char codes 0..255.
function decodeBlock(
  memory: CpuMemory,
  cpl: Privilege,
  start: number,
  limit: number,
): { instructions: Instr[]; bytes: string } {
  const instructions: Instr[] = [];
  let text = '';
  let rip = start;
  const pageEnd = (Math.floor(start / PAGE) + 1) * PAGE;
  const bytes: number[] = [];
  for (;;) {
    let ins: Instr;
    bytes.length = 0;
    try {
      ins = decodeAt(memory, cpl, rip, bytes);
    } catch (e) {
      if (instructions.length === 0) throw e;
      break;
    }
    instructions.push(ins);
    text += String.fromCharCode(...bytes.slice(0, ins.length));
    rip += ins.length;
    if (ENDS_BLOCK.has(ins.exec) || rip >= pageEnd || instructions.length >= limit) break;
  }
  return { instructions, bytes: text };
}

/**
 * Decodes and compiles the basic block at `start`: up to a control transfer, a string
 * instruction (it may repeat), POPFQ, HLT/UD2, the end of the 4 KiB page or
 * {@link MAX_BLOCK_INSTRUCTIONS}. A fault while decoding the first instruction is that
 * instruction's fault and is thrown; one on a later instruction just ends the block before it
 * (it faults when execution gets there).
 *
 * @param memory - where the code is fetched from
 * @param cpl - the privilege of the fetches
 * @param start - the linear address of the first instruction
 * @returns the compiled block
 */
export function buildBlock(memory: CpuMemory, cpl: Privilege, start: number): Block {
  return compileBlock(
    start,
    decodeBlock(memory, cpl, start, MAX_BLOCK_INSTRUCTIONS).instructions,
    cpl,
  );
}

/** Most compiled blocks a {@link FactoryCache} keeps before it starts afresh. */
const FACTORY_LIMIT = 8192;

/**
 * Compiled blocks by start address and instruction bytes: the JavaScript function of each
 * (generated, compiled and bound to the instructions decoded from those bytes), which depends on
 * nothing else. It outlives the code cache's entries and is shared by every CPU of the process
 * ({@link SHARED_FACTORIES}): a program exec'd again lands in new physical frames with the same
 * bytes at the same linear addresses, a page whose code was invalidated often holds the same
 * code again, and a new CPU (a new VM, the vCPUs of one) runs the same kernel or program. A
 * block decoded again from the same bytes at the same address gets a new `Block` (its own CPL,
 * physical address and links) around the same function, already optimized by the JavaScript
 * engine. Which blocks exist, and when code is decoded afresh, is unchanged; only the
 * compilation is shared. Decoding is deterministic and the decoded instructions are never
 * written after decoding, so the first decoding serves every later one.
 */
export type FactoryCache = Map<string, BlockTemplate>;

/** The {@link FactoryCache} every CPU uses: one per process (a JavaScript realm). */
export const SHARED_FACTORIES: FactoryCache = new Map();

/**
 * {@link buildBlock} through a {@link FactoryCache}.
 *
 * @param memory - where the code is fetched from
 * @param cpl - the privilege of the fetches
 * @param start - the linear address of the first instruction
 * @param factories - the cache of compiled blocks (by default the process-wide one)
 * @param limit - the most instructions (1 for the one-instruction reference mode)
 * @returns the compiled block
 */
export function buildCachedBlock(
  memory: CpuMemory,
  cpl: Privilege,
  start: number,
  factories: FactoryCache = SHARED_FACTORIES,
  limit: number = MAX_BLOCK_INSTRUCTIONS,
): Block {
  const { instructions, bytes } = decodeBlock(memory, cpl, start, limit);
  const key = `${start}:${bytes}`;
  let t = factories.get(key);
  if (t === undefined) {
    if (factories.size >= FACTORY_LIMIT) factories.clear();
    t = template(blockFactory(start, instructions), start, instructions);
    factories.set(key, t);
  }
  return blockFrom(t, cpl);
}
