import { RFLAGS, Vector } from '@vmkit/x86';
import { type Block, buildBlock } from './block.js';
import { CodeCache } from './code-cache.js';
import { CpuError } from './errors.js';
import { completeIn } from './exec/io.js';
import { canonical } from './exec/operands.js';
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
 * returning bigints are for the host; the interpreter allocates bigints only for 64-bit
 * DIV/IDIV, RCL/RCR and SHLD/SHRD. Instructions run as compiled basic blocks (block.ts).
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

  /** Interpreter state: the compiled blocks and the self-modifying-code bookkeeping. */
  readonly code: CodeCache;

  /** Interpreter state: RIP as a signed canonical linear address (prefer `rip`). */
  ripValue = 0;

  /** @param options - the memory, the privilege level and cache size */
  constructor(options: CpuOptions) {
    this.memory = options.memory;
    this.cpl = options.cpl ?? 0;
    this.code = new CodeCache(options.decodeCacheSize ?? 16384);
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

  /**
   * Forgets decoded instructions overlapping `[linear, linear + length)`, so that code written
   * by the host or by a device is decoded afresh. Stores by the guest itself are tracked by the
   * CPU and need no call.
   *
   * @param linear - first linear address written
   * @param length - bytes written
   */
  invalidateCode(linear: number, length: number): void {
    this.code.invalidate(linear, length);
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
      let previous: Block | undefined;
      while (this.remaining > 0) {
        if ((this.flags & RFLAGS.TF) !== 0) {
          const stop = this.singleStep();
          if (stop !== undefined) return stop;
          previous = undefined;
          continue;
        }
        // Most blocks are followed by the same block as last time: try that before the cache.
        const epoch = this.code.epoch;
        let block = previous?.next;
        if (block === undefined || block.start !== this.ripValue || previous!.nextEpoch !== epoch) {
          block = this.fetchBlock();
          if (previous !== undefined) {
            previous.next = block;
            previous.nextEpoch = this.code.epoch;
          }
        }
        block.run(this);
        previous = block;
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
    const hit = this.code.lookup(rip);
    if (hit !== undefined) return hit;
    const block = buildBlock(this.memory, this.cpl, rip);
    this.code.insert(block);
    return block;
  }
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
