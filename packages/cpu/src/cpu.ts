import { RFLAGS, Vector } from '@vmkit/x86';
import { type Block, compileBlock, MAX_BLOCK_INSTRUCTIONS } from './block.js';
import { decode } from './decoder/decode.js';
import type { Handler, Instr } from './decoder/instr.js';
import { CpuError } from './errors.js';
import * as cond from './exec/cond.js';
import * as control from './exec/control.js';
import { completeIn } from './exec/io.js';
import * as misc from './exec/misc.js';
import { canonical } from './exec/operands.js';
import * as stack from './exec/stack.js';
import * as str from './exec/string.js';
import { CpuFault } from './fault.js';
import type { CpuMemory, Privilege } from './memory.js';

/** The 16 general-purpose registers in encoding order (SDM Vol. 2 Table 2-2, with REX). */
export const GPR_NAMES = [
  'rax',
  'rcx',
  'rdx',
  'rbx',
  'rsp',
  'rbp',
  'rsi',
  'rdi',
  'r8',
  'r9',
  'r10',
  'r11',
  'r12',
  'r13',
  'r14',
  'r15',
] as const;

/** A general-purpose register name. */
export type GprName = (typeof GPR_NAMES)[number];

/**
 * Why {@link Cpu.run} returned.
 *
 * - `hlt`: HLT executed (at CPL 0); RIP points after it.
 * - `exception`: the instruction at RIP raised an exception (fault: RIP and state as before
 *   the instruction, except completed iterations of a REP string instruction), or, for #DB
 *   single-step (RFLAGS.TF), the instruction completed and RIP is after it (a trap). Delivery
 *   through the IDT is the VMM's (or a later CPU layer's) business.
 * - `budget`: the instruction budget ran out.
 */
export type StopReason =
  | {
      /** HLT executed. */
      readonly kind: 'hlt';
    }
  | {
      /** An exception was raised by the instruction at RIP. */
      readonly kind: 'exception';
      /** The exception vector (SDM Vol. 3A Table 6-1). */
      readonly vector: number;
      /** The error code, for exceptions that push one. */
      readonly errorCode: number | undefined;
      /** For #PF, the faulting linear address (what CR2 would receive). */
      readonly address: number | undefined;
    }
  | {
      /** The instruction budget ran out. */
      readonly kind: 'budget';
    }
  | {
      /**
       * IN or OUT executed (RIP after it). For `out`, `value` is what the guest wrote; for
       * `in`, the host must call {@link Cpu.completeIn} with the value read before running on.
       */
      readonly kind: 'io';
      /** `in` reads from the port, `out` writes to it. */
      readonly direction: 'in' | 'out';
      /** The I/O port, 0..65535. */
      readonly port: number;
      /** Access width in bytes. */
      readonly size: 1 | 2 | 4;
      /** For `out`, the value written. */
      readonly value?: number;
    };

/** Options for {@link Cpu}. */
export interface CpuOptions {
  /** The linear memory the CPU executes in. */
  readonly memory: CpuMemory;
  /** Current privilege level (0 or 3); default 0. */
  readonly cpl?: Privilege;
  /**
   * How many decoded instructions the block cache keeps (in compiled blocks, keyed by the
   * linear address of each block's first instruction); default 16384. When full, the cache is
   * emptied. 0 disables caching: every block is decoded and compiled afresh.
   */
  readonly decodeCacheSize?: number;
}

const PAGE = 4096;
const RFLAGS_WRITABLE =
  RFLAGS.CF |
  RFLAGS.PF |
  RFLAGS.AF |
  RFLAGS.ZF |
  RFLAGS.SF |
  RFLAGS.TF |
  RFLAGS.IF |
  RFLAGS.DF |
  RFLAGS.OF |
  RFLAGS.IOPL |
  RFLAGS.NT |
  RFLAGS.RF |
  RFLAGS.AC |
  RFLAGS.ID;

/**
 * An x86-64 CPU (64-bit mode, flat segments, CPL 0 or 3) that interprets instructions from a
 * {@link CpuMemory}.
 *
 * Registers are kept as 32-bit halves in two `Uint32Array`s (`lo`, `hi`), RFLAGS as a number
 * computed eagerly by every instruction, and RIP as a canonical linear address in a number;
 * the package README has the measurements behind these choices. The accessors taking and
 * returning bigints are for the host; the interpreter never allocates a bigint except in
 * 64-bit multiply and divide.
 *
 * @example
 * ```ts
 * const cpu = new Cpu({ memory: new FlatMemory(mem) });
 * cpu.rip = 0x1000n;
 * const stop = cpu.run(1000);
 * ```
 */
export class Cpu {
  /** Low 32 bits of each general-purpose register (interpreter state; prefer getReg). */
  readonly lo = new Uint32Array(16);
  /** High 32 bits of each general-purpose register (interpreter state; prefer getReg). */
  readonly hi = new Uint32Array(16);
  /** Current RFLAGS (bits 31:0; the upper half is reserved and zero). */
  flags: number = RFLAGS.FIXED1;
  /** FS base, low half. */
  fsBaseLo = 0;
  /** FS base, high half. */
  fsBaseHi = 0;
  /** GS base, low half. */
  gsBaseLo = 0;
  /** GS base, high half. */
  gsBaseHi = 0;
  /** Current privilege level. */
  cpl: Privilege;
  /** The memory the CPU executes in. */
  readonly memory: CpuMemory;
  /** Instructions retired since construction (each REP iteration counts as one). */
  instructions = 0;

  /** Interpreter scratch: high half of the last 64-bit operand read. */
  xhi = 0;
  /** Interpreter scratch: high half of the last 64-bit ALU result. */
  rhi = 0;
  /** Interpreter scratch: RIP of the next instruction, set before each instruction runs. */
  nextRip = 0;
  /** Interpreter scratch: instructions left in the current run's budget. */
  remaining = 0;
  /** Interpreter scratch: RFLAGS to restore if the current instruction faults. */
  committedFlags = 0;
  /** Interpreter scratch: a stop requested by the instruction that just ran. */
  pendingStop: StopReason | undefined = undefined;
  /** Interpreter state: the size of an IN waiting for {@link Cpu.completeIn}, or 0. */
  pendingIn = 0;

  /**
   * Interpreter state: for each 4 KiB page holding cached decoded instructions, their linear
   * addresses and which 64-byte lines of the page they occupy. A store into such a line drops
   * the page's instructions (self-modifying code); stores to data that shares the page but
   * not the lines cost a lookup only.
   */
  readonly codePages = new Map<number, CodePage>();

  /** Interpreter state: RIP as a signed canonical linear address (prefer `rip`). */
  ripValue = 0;
  /** Interpreter state: bumped whenever cached code is dropped, so a running block stops. */
  codeEpoch = 0;
  private readonly cacheSize: number;
  private cached = 0;
  private lastPage = Number.NaN;
  private lastSlots: (Block | undefined)[] = [];

  /** @param options - the memory, the privilege level and cache size */
  constructor(options: CpuOptions) {
    this.memory = options.memory;
    this.cpl = options.cpl ?? 0;
    this.cacheSize = options.decodeCacheSize ?? 16384;
  }

  /** RIP as a signed canonical linear address (interpreter view). */
  get ripLinear(): number {
    return this.ripValue;
  }

  /** RIP as an unsigned 64-bit value; setting a non-canonical value throws {@link CpuError}. */
  get rip(): bigint {
    return BigInt.asUintN(64, BigInt(this.ripValue));
  }
  /** Sets RIP; a non-canonical value throws {@link CpuError} `INVALID_VALUE`. */
  set rip(value: bigint) {
    this.ripValue = toLinear(value, 'RIP');
  }

  /** RFLAGS as a 64-bit value. */
  get rflags(): bigint {
    return BigInt(this.flags >>> 0);
  }
  /** Sets RFLAGS; reserved bits are forced to their fixed values (bit 1 set, others clear). */
  set rflags(value: bigint) {
    this.flags = (Number(BigInt.asUintN(32, value)) & RFLAGS_WRITABLE) | RFLAGS.FIXED1;
  }

  /** The FS segment base (SDM Vol. 3A §3.4.4), a canonical address. */
  get fsBase(): bigint {
    return join(this.fsBaseHi, this.fsBaseLo);
  }
  /** Sets the FS base; a non-canonical value throws {@link CpuError}. */
  set fsBase(value: bigint) {
    toLinear(value, 'FS base');
    this.fsBaseLo = Number(value & 0xffffffffn);
    this.fsBaseHi = Number((value >> 32n) & 0xffffffffn);
  }

  /** The GS segment base (SDM Vol. 3A §3.4.4), a canonical address. */
  get gsBase(): bigint {
    return join(this.gsBaseHi, this.gsBaseLo);
  }
  /** Sets the GS base; a non-canonical value throws {@link CpuError}. */
  set gsBase(value: bigint) {
    toLinear(value, 'GS base');
    this.gsBaseLo = Number(value & 0xffffffffn);
    this.gsBaseHi = Number((value >> 32n) & 0xffffffffn);
  }

  /**
   * Reads a general-purpose register.
   *
   * @param name - the register
   * @returns its 64-bit value
   */
  getReg(name: GprName): bigint {
    const r = gprIndex(name);
    return join(this.hi[r]!, this.lo[r]!);
  }

  /**
   * Writes a general-purpose register.
   *
   * @param name - the register
   * @param value - a value in [0, 2^64) (negative values are taken modulo 2^64)
   */
  setReg(name: GprName, value: bigint): void {
    const r = gprIndex(name);
    const v = BigInt.asUintN(64, value);
    this.lo[r] = Number(v & 0xffffffffn);
    this.hi[r] = Number(v >> 32n);
  }

  /** Interpreter use: sets RIP from a canonical linear address. */
  setRipLinear(linear: number): void {
    this.ripValue = linear;
  }

  /**
   * Forgets decoded instructions overlapping `[linear, linear + length)`, so that code written
   * by the host or by a device is decoded afresh. Stores by the guest itself are tracked by the
   * CPU and need no call.
   *
   * @param linear - first linear address written
   * @param length - bytes written
   */
  invalidateCode(linear: number, length: number): void {
    const first = Math.floor(linear / PAGE);
    const last = Math.floor((linear + Math.max(length, 1) - 1) / PAGE);
    for (let page = first; page <= last; page++) this.invalidatePage(page);
  }

  /** Interpreter use: drops every cached instruction that has a byte in linear page `page`. */
  invalidatePage(page: number): void {
    const entry = this.codePages.get(page);
    if (entry === undefined) return;
    this.codePages.delete(page);
    this.cached -= entry.count;
    this.lastPage = Number.NaN;
    this.codeEpoch++;
    // Instructions that start on the previous page and end on this one are cached there.
    if (entry.crossFromPrevious) this.invalidatePage(page - 1);
  }

  /**
   * Interpreter use: a store of `size` bytes at `linear` is about to happen; drops cached
   * instructions on the 64-byte lines it touches.
   */
  noteStore(linear: number, size: number): void {
    const last = linear + size - 1;
    const page = Math.floor(linear / PAGE);
    const entry = this.codePages.get(page);
    if (
      entry !== undefined &&
      hitsLines(entry, linear - page * PAGE, Math.min(last - page * PAGE, PAGE - 1))
    ) {
      this.invalidatePage(page);
    }
    const lastPage = Math.floor(last / PAGE);
    if (lastPage !== page) {
      const next = this.codePages.get(lastPage);
      if (next !== undefined && hitsLines(next, 0, last - lastPage * PAGE))
        this.invalidatePage(lastPage);
    }
  }

  /**
   * Completes the IN that stopped the CPU with an `io` stop: writes `value` to AL, AX or EAX.
   *
   * @param value - the value read from the port (taken modulo the access size)
   */
  completeIn(value: number): void {
    if (this.pendingIn === 0) throw new CpuError('INVALID_STATE', 'no IN is waiting for a value');
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new CpuError('INVALID_VALUE', `an I/O value must be in [0, 2^32), got ${value}`);
    }
    const mask = this.pendingIn === 4 ? 0xffffffff : this.pendingIn === 2 ? 0xffff : 0xff;
    completeIn(this, this.pendingIn, (value & mask) >>> 0);
    this.pendingIn = 0;
  }

  /**
   * Runs until `budget` instructions have retired or something stops the CPU.
   *
   * @param budget - the most instructions to retire (each REP iteration counts as one)
   * @returns why the CPU stopped
   */
  run(budget: number): StopReason {
    if (!Number.isSafeInteger(budget) || budget < 0) {
      throw new CpuError('INVALID_VALUE', `budget must be a non-negative integer, got ${budget}`);
    }
    if (this.pendingIn !== 0) {
      throw new CpuError('INVALID_STATE', 'an IN is waiting for completeIn(value)');
    }
    this.remaining = budget;
    const start = budget;
    try {
      while (this.remaining > 0) {
        if ((this.flags & RFLAGS.TF) !== 0) {
          const stop = this.singleStep();
          if (stop !== undefined) return stop;
          continue;
        }
        this.fetchBlock().run(this);
        if (this.pendingStop !== undefined) {
          const stop = this.pendingStop;
          this.pendingStop = undefined;
          return stop;
        }
      }
      return { kind: 'budget' };
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      // A fault leaves the instruction's architectural effects undone (SDM Vol. 3A §6.5:
      // faults report the state before the instruction); handlers write registers only after
      // their last memory access, and RFLAGS is restored here.
      this.flags = this.committedFlags;
      return {
        kind: 'exception',
        vector: e.vector,
        errorCode: e.errorCode,
        address: e.address,
      };
    } finally {
      this.instructions += start - this.remaining;
    }
  }

  /**
   * Runs one instruction with RFLAGS.TF set at its start: afterwards a single-step debug
   * exception (#DB, a trap: RIP after the instruction) is reported, unless the instruction
   * itself stopped the CPU (SDM Vol. 3A §18.3.1.4). DR6 is not modelled yet.
   */
  private singleStep(): StopReason | undefined {
    const left = this.remaining;
    this.remaining = 1;
    try {
      this.fetchBlock().run(this);
    } finally {
      this.remaining = left - (1 - this.remaining);
    }
    if (this.pendingStop !== undefined) {
      const stop = this.pendingStop;
      this.pendingStop = undefined;
      return stop;
    }
    // A REP iteration that did not finish the instruction still traps (each iteration is
    // single-stepped).
    return { kind: 'exception', vector: Vector.DB, errorCode: undefined, address: undefined };
  }

  private fetchBlock(): Block {
    const rip = this.ripValue;
    const page = Math.floor(rip / PAGE);
    if (page === this.lastPage) {
      const hit = this.lastSlots[rip - page * PAGE];
      if (hit !== undefined) return hit;
    } else {
      const entry = this.codePages.get(page);
      if (entry !== undefined) {
        this.lastPage = page;
        this.lastSlots = entry.slots;
        const hit = entry.slots[rip - page * PAGE];
        if (hit !== undefined) return hit;
      }
    }
    const block = this.buildBlock(rip);
    if (this.cacheSize > 0) this.remember(block);
    return block;
  }

  // Decodes from `rip` to the end of the basic block: a control transfer, a string
  // instruction (it may repeat), HLT/UD2, the end of the 4 KiB page or MAX_BLOCK_INSTRUCTIONS.
  // A fault while decoding the first instruction is the instruction's fault; one on a later
  // instruction just ends the block before it (it faults when execution gets there).
  private buildBlock(start: number): Block {
    const instructions: Instr[] = [];
    let rip = start;
    const pageEnd = (Math.floor(start / PAGE) + 1) * PAGE;
    for (;;) {
      let ins: Instr;
      try {
        ins = this.decodeAt(rip);
      } catch (e) {
        if (instructions.length === 0) throw e;
        break;
      }
      instructions.push(ins);
      rip += ins.length;
      if (
        ENDS_BLOCK.has(ins.exec) ||
        rip >= pageEnd ||
        instructions.length >= MAX_BLOCK_INSTRUCTIONS
      ) {
        break;
      }
    }
    return compileBlock(start, instructions);
  }

  private decodeAt(rip: number): Instr {
    const mem = this.memory;
    const cpl = this.cpl;
    return decode((i) => {
      const la = rip + i;
      // Fetching past the top of the canonical lower half is a #GP (SDM Vol. 1 §3.3.7.1).
      if (rip >= 0 && la >= 2 ** 47) throw new CpuFault(Vector.GP, 0);
      return mem.fetch8(la, cpl);
    });
  }

  // Caches `block` in the page of its first byte and marks the 64-byte lines its instructions
  // occupy on every page they span.
  private remember(block: Block): void {
    const n = block.instructions.length;
    if (this.cached + n > this.cacheSize) {
      this.codePages.clear();
      this.cached = 0;
      this.lastPage = Number.NaN;
    }
    let rip = block.start;
    for (let k = 0; k < n; k++) {
      const ins = block.instructions[k]!;
      const end = rip + ins.length - 1;
      const first = Math.floor(rip / PAGE);
      const last = Math.floor(end / PAGE);
      for (let page = first; page <= last; page++) {
        let entry = this.codePages.get(page);
        if (entry === undefined) {
          entry = {
            slots: new Array(PAGE),
            lines: new Uint32Array(2),
            count: 0,
            crossFromPrevious: false,
          };
          this.codePages.set(page, entry);
        }
        if (k === 0 && page === first) {
          entry.slots[rip - page * PAGE] = block;
          entry.count += n;
          this.cached += n;
        }
        if (page !== Math.floor(block.start / PAGE)) entry.crossFromPrevious = true;
        const from = Math.max(rip, page * PAGE) - page * PAGE;
        const to = Math.min(end, page * PAGE + PAGE - 1) - page * PAGE;
        for (let line = from >> 6; line <= to >> 6; line++) {
          entry.lines[line >> 5] = entry.lines[line >> 5]! | (1 << (line & 31));
        }
      }
      rip = end + 1;
    }
  }
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
]);

/** Cached instructions of one 4 KiB page and the 64-byte lines they occupy (a bitmap). */
export interface CodePage {
  /** Compiled blocks by offset of their first byte. */
  readonly slots: (Block | undefined)[];
  /** Bitmap of the 64-byte lines holding bytes of cached instructions. */
  readonly lines: Uint32Array;
  /** How many instructions `slots` holds. */
  count: number;
  /** Whether an instruction cached on the previous page ends on this one. */
  crossFromPrevious: boolean;
}

function hitsLines(entry: CodePage, from: number, to: number): boolean {
  for (let line = from >> 6; line <= to >> 6; line++) {
    if ((entry.lines[line >> 5]! & (1 << (line & 31))) !== 0) return true;
  }
  return false;
}

function join(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function gprIndex(name: GprName): number {
  const r = GPR_NAMES.indexOf(name);
  if (r < 0) throw new CpuError('INVALID_REGISTER', `no register named ${String(name)}`);
  return r;
}

function toLinear(value: bigint, what: string): number {
  const v = BigInt.asUintN(64, value);
  try {
    return canonical(Number(v >> 32n), Number(v & 0xffffffffn), false);
  } catch {
    throw new CpuError('INVALID_VALUE', `${what} 0x${v.toString(16)} is not canonical`);
  }
}
