import {
  BasicExitReason,
  exceptionCausesExit,
  InterruptionType,
  preemptionTimerDeadline,
  type VmExitInformation,
} from '@vmkit/vmx';
import { CR0, CR4, EFER, MAXPHYADDR_DEFAULT, RFLAGS, Vector } from '@vmkit/x86';
import {
  type Block,
  buildCachedBlock,
  countRetired,
  MAX_BLOCK_INSTRUCTIONS,
  SHARED_FACTORIES,
  trainRetired,
} from './block.js';
import { BranchPredictor } from './branch-predictor.js';
import { CodeCache, PAGE } from './code-cache.js';
import { CpuError } from './errors.js';
import { completeIn, completeStringIn, type PendingIns } from './exec/io.js';
import { canonical } from './exec/operands.js';
import type { FastStringCounts } from './fast-strings.js';
import { CpuFault } from './fault.js';
import { RETIRED_CLASSES, type RetiredClass } from './instruction-class.js';
import type { CpuMemory, Privilege } from './memory.js';
import { deliver, type EventSource } from './system/deliver.js';
import { nestedAction } from './system/double-fault.js';
import type { EntryInjection, VmxControls } from './vmx/controls.js';
import { NonRootState } from './vmx/non-root.js';
import { exitInformation, VmExit } from './vmx/vm-exit.js';

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
 * - `triple-fault`: an exception during the delivery of #DF (only with IDT delivery).
 *
 * - `vm-exit`: in VMX non-root operation ({@link Cpu.vmEntry}), an event the controls select
 *   caused a VM exit; `info` holds the VM-exit information fields (SDM Vol. 3C §28.2).
 *
 * With `exceptionDelivery: 'report'` (the default) a software interrupt (INT n, INT3) also
 * stops with `exception` and its vector, RIP after the instruction (it is a trap).
 */
export type StopReason =
  | {
      /**
       * A VM exit (VMX non-root operation only). For an instruction-caused exit the guest
       * state is as before the instruction (RIP at it): the VMM emulates it and advances RIP
       * by `info.instructionLength`. For an exception exit, the state is as for the fault,
       * and CR2 is not written for a #PF.
       */
      readonly kind: 'vm-exit';
      /** The VM-exit information fields (`VmExitInformation` of `@vmkit/vmx`). */
      readonly info: VmExitInformation;
    }
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
       * RDMSR or WRMSR of an MSR the host handles (see {@link CpuOptions.hostMsr}); RIP is
       * after the instruction. For `read`, the host must call {@link Cpu.completeRdmsr} with
       * the value before running on.
       */
      readonly kind: 'msr';
      /** `read` for RDMSR, `write` for WRMSR. */
      readonly direction: 'read' | 'write';
      /** The MSR index (ECX). */
      readonly index: number;
      /** For `write`, the value written (EDX:EAX). */
      readonly value?: bigint;
    }
  | {
      /**
       * Triple fault: delivering #DF raised a contributory exception or a page fault, and the
       * processor shut down (SDM Vol. 3A §6.15, Interrupt 8). Running on is the VMM's choice
       * (a real machine resets).
       */
      readonly kind: 'triple-fault';
    }
  | {
      /**
       * IN or OUT executed (RIP after it), or one element of INS or OUTS (RIP on the
       * instruction while REP elements remain; an INS element moves RIP when completed). For
       * `out`, `value` is what the guest wrote; for `in`, the host must call
       * {@link Cpu.completeIn} with the value read before running on.
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
   * physical address of each block's first instruction byte); default 16384. When full, the
   * cache is emptied. 0 is the reference mode: nothing is cached and every instruction is
   * fetched and decoded afresh right before it executes (slow; what the cached modes must
   * agree with, self-modifying code included). Ignored when `codeCache` is given.
   */
  readonly decodeCacheSize?: number;
  /**
   * A code cache to share: CPUs that execute from the same guest memory (the vCPUs of a VM)
   * share one, so a store by any of them, reported by its memory with the physical address,
   * drops the cached blocks all of them would run (cross-modifying code). Default: a cache of
   * this CPU's own with `decodeCacheSize` entries.
   */
  readonly codeCache?: CodeCache;
  /**
   * What happens to an exception: `report` (the default) stops `run` with an `exception`
   * stop reason and the state of the faulting instruction; `idt` delivers it through the IDT
   * as the processor does (SDM Vol. 3A §6.14), with #DF and triple fault. In VMX non-root
   * operation ({@link Cpu.vmEntry}) exceptions are always delivered through the IDT unless the
   * exception bitmap turns them into VM exits.
   */
  readonly exceptionDelivery?: 'report' | 'idt';
  /**
   * With `idt` delivery, called before each exception is delivered; returning true stops
   * `run` with the `exception` stop reason instead (as a VMM's exception bitmap turns an
   * exception into a VM exit). CR2 is not written for an intercepted #PF. Not consulted in VMX
   * non-root operation, where the exception bitmap decides.
   */
  readonly interceptException?: ExceptionInterceptor;
  /**
   * MSRs the host emulates: RDMSR/WRMSR of an index for which this returns true stop `run`
   * with an `msr` stop reason (for example the x2APIC range 0x800-0x8ff). Other MSRs that the
   * CPU does not implement raise #GP(0).
   */
  readonly hostMsr?: (index: number) => boolean;
  /**
   * CPUID results: called with EAX and ECX; return [EAX, EBX, ECX, EDX], or undefined for the
   * built-in leaves ({@link defaultCpuid}).
   */
  readonly cpuid?: CpuidFunction;
  /**
   * The time-stamp counter source: given the instructions retired so far, the TSC before the
   * IA32_TIME_STAMP_COUNTER offset. Default: one tick per instruction (deterministic).
   */
  readonly tsc?: (instructions: number) => bigint;
  /** MAXPHYADDR, for reserved-bit checks of CR3 and IA32_APIC_BASE; default 36. */
  readonly maxPhyAddr?: number;
  /**
   * Counters of the branch-predictor model ({@link BranchPredictor}): a power of two in
   * 1..2^20; default 4096.
   */
  readonly branchPredictorEntries?: number;
}

/**
 * A CPUID implementation: given the leaf (EAX) and subleaf (ECX), the four result registers,
 * or undefined to fall back to the built-in leaves.
 *
 * @param leaf - EAX
 * @param subleaf - ECX
 * @returns [EAX, EBX, ECX, EDX] as unsigned 32-bit numbers, or undefined
 */
export type CpuidFunction = (
  leaf: number,
  subleaf: number,
) => readonly [number, number, number, number] | undefined;

/**
 * Decides whether an exception stops `run` instead of being delivered through the IDT.
 *
 * @param vector - the exception vector
 * @param errorCode - its error code, if it has one
 * @param address - for #PF, the faulting linear address
 * @returns true to stop with the `exception` stop reason
 */
export type ExceptionInterceptor = (
  vector: number,
  errorCode: number | undefined,
  address: number | undefined,
) => boolean;

/** A descriptor-table register, GDTR or IDTR (SDM Vol. 3A §2.4.1, §2.4.3). */
export interface TableRegister {
  /** Linear base address (canonical). */
  readonly base: bigint;
  /** Limit: the last valid byte offset, 0..65535. */
  readonly limit: number;
}

/** The task register (SDM Vol. 3A §2.4.4): the selector and the cached TSS base and limit. */
export interface TaskRegister {
  /** The TSS selector. */
  readonly selector: number;
  /** Linear base address of the 64-bit TSS (canonical). */
  readonly base: bigint;
  /** Limit of the TSS (at least 0x67 for a full 64-bit TSS). */
  readonly limit: number;
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
  /**
   * Instructions retired since construction by class, indexed as {@link RETIRED_CLASSES}
   * (interpreter state; prefer {@link Cpu.retiredByClass}). Counted like `instructions` and
   * updated with it at the end of every block, so between runs they sum to `instructions`.
   */
  readonly classCounts = new Float64Array(RETIRED_CLASSES.length);
  /**
   * REP MOVS/STOS starts since construction (interpreter state; prefer
   * {@link Cpu.fastStrings}, which documents what counts as a start).
   */
  fastStringStarts = 0;
  /** REP MOVS/STOS elements moved since construction (interpreter state). */
  fastStringElements = 0;
  /** Bytes moved by REP MOVS/STOS elements since construction (interpreter state). */
  fastStringBytes = 0;
  /**
   * Interpreter state: the linear RIP of a REP MOVS/STOS that the budget stopped with
   * elements left, so that running it on is not counted as another start; NaN otherwise.
   * Any event, VM exit or RIP write in between clears it.
   */
  fastStringResume = Number.NaN;
  /**
   * The branch-predictor model: conditional branches retired and mispredicted since
   * construction ({@link BranchPredictor}).
   */
  readonly predictor: BranchPredictor;

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
  /** Interpreter state: the INS element an IN stop waits to store, if the IN is an INS. */
  pendingIns: PendingIns | undefined = undefined;

  /**
   * The compiled blocks, keyed by physical address, and the self- and cross-modifying-code
   * bookkeeping (shared with other CPUs when `CpuOptions.codeCache` was given).
   */
  readonly code: CodeCache;

  /** Interpreter state: RIP as a signed canonical linear address (prefer `rip`). */
  ripValue = 0;

  /**
   * CS selector. Its RPL is the CPL: the host keeps `cpl` and `cs` consistent when it sets
   * them; event delivery, IRETQ, SYSCALL and SYSRET change both. Default 0x08 (CPL 0) or 0x2b
   * (CPL 3).
   */
  cs: number;
  /** SS selector (in 64-bit mode only its RPL and nullness matter). Default 0x10 or 0x23. */
  ss: number;
  /** GDTR base, a signed canonical linear address (interpreter view; prefer `gdtr`). */
  gdtrBase = 0;
  /** GDTR limit. */
  gdtrLimit = 0;
  /** IDTR base, a signed canonical linear address (interpreter view; prefer `idtr`). */
  idtrBase = 0;
  /** IDTR limit. */
  idtrLimit = 0;
  /** TR selector. */
  trSelector = 0;
  /** TR base, a signed canonical linear address (interpreter view; prefer `tr`). */
  trBase = 0;
  /** TR limit. */
  trLimit = 0;
  /** CR2: the linear address of the last page fault delivered through the IDT. */
  cr2 = 0n;
  /** What happens to exceptions (see {@link CpuOptions.exceptionDelivery}). */
  exceptionDelivery: 'report' | 'idt';
  /** The exception interceptor (see {@link CpuOptions.interceptException}). */
  interceptException: ExceptionInterceptor | undefined;
  /**
   * Whether external interrupts are blocked until one more instruction completes (the STI
   * interrupt shadow, SDM Vol. 3A §6.8.3).
   */
  interruptShadow = false;
  /** The external interrupt vector waiting for RFLAGS.IF, or undefined. */
  pendingInterrupt: number | undefined = undefined;

  /** CR0 (SDM Vol. 3A §2.5). Default: PE, MP, ET, NE, WP, PG (long mode, as the VMM starts it). */
  cr0: number = (CR0.PE | CR0.MP | CR0.ET | CR0.NE | CR0.WP | CR0.PG) >>> 0;
  /** CR3: the paging-structure root, with PCID or PWT/PCD in bits 11:0. */
  cr3 = 0n;
  /** CR4. Default: PAE. */
  cr4: number = CR4.PAE;
  /** CR8: the task-priority register, 0..15. */
  cr8 = 0;
  /** IA32_EFER. Default: LME and LMA (long mode active). */
  efer: number = EFER.LME | EFER.LMA;
  /** IA32_STAR: SYSCALL and SYSRET selectors in bits 47:32 and 63:48. */
  star = 0n;
  /** IA32_LSTAR: the SYSCALL entry point (canonical). */
  lstar = 0n;
  /** IA32_CSTAR: the compatibility-mode SYSCALL entry point (kept, never used). */
  cstar = 0n;
  /** IA32_FMASK: RFLAGS bits SYSCALL clears (bits 31:0). */
  sfmask = 0;
  /** IA32_KERNEL_GS_BASE, low half (SWAPGS exchanges it with the GS base). */
  kernelGsBaseLo = 0;
  /** IA32_KERNEL_GS_BASE, high half. */
  kernelGsBaseHi = 0;
  /** IA32_TSC_AUX (RDTSCP's ECX). */
  tscAux = 0;
  /** IA32_PAT. Default: the power-up value 0007040600070406h. */
  pat = 0x0007040600070406n;
  /** IA32_APIC_BASE. Default: FEE00000h, enabled, bootstrap processor. */
  apicBase = 0xfee00900n;
  /** What WRMSR to IA32_TIME_STAMP_COUNTER added to the TSC source. */
  tscOffset = 0n;
  /** MAXPHYADDR (reserved-bit checks). */
  readonly maxPhyAddr: number;
  /** The host-emulated MSRs (see {@link CpuOptions.hostMsr}). */
  hostMsr: ((index: number) => boolean) | undefined;
  /** The CPUID override (see {@link CpuOptions.cpuid}). */
  cpuidFunction: CpuidFunction | undefined;
  /** The TSC source (see {@link CpuOptions.tsc}). */
  tscSource: ((instructions: number) => bigint) | undefined;
  /** Interpreter state: the register RDMSR waits to fill ({@link Cpu.completeRdmsr}), or -1. */
  pendingRdmsr = -1;
  /** Interpreter scratch: the budget of the current `run`, 0 outside `run`. */
  runBudget = 0;
  /** Interpreter state: VMX non-root operation (undefined in root mode; see {@link Cpu.vmEntry}). */
  nonRoot: NonRootState | undefined = undefined;
  /**
   * Interpreter scratch: in non-root operation, the IDT-vectoring information of the INT n or
   * INT3 being delivered (0 otherwise), for an exit its delivery causes (SDM Vol. 3C §28.2.3).
   */
  softwareEvent = 0;
  /** Interpreter scratch: the instruction length of that INT n or INT3. */
  softwareEventLength = 0;
  /** Interpreter state: the last `run` ended in a VM exit, so the next one is a VM resume. */
  private exitPending = false;

  /** @param options - the memory, the privilege level, cache size and exception delivery */
  constructor(options: CpuOptions) {
    this.memory = options.memory;
    this.cpl = options.cpl ?? 0;
    this.cs = this.cpl === 0 ? 0x08 : 0x2b;
    this.ss = this.cpl === 0 ? 0x10 : 0x23;
    this.code = options.codeCache ?? new CodeCache(options.decodeCacheSize ?? 16384);
    // The memory reports every store with its physical address to the cache.
    this.memory.watchCode(this.code);
    this.exceptionDelivery = options.exceptionDelivery ?? 'report';
    this.interceptException = options.interceptException;
    this.hostMsr = options.hostMsr;
    this.cpuidFunction = options.cpuid;
    this.tscSource = options.tsc;
    const maxPhyAddr = options.maxPhyAddr ?? MAXPHYADDR_DEFAULT;
    if (!Number.isInteger(maxPhyAddr) || maxPhyAddr < 32 || maxPhyAddr > 52) {
      throw new CpuError('INVALID_VALUE', `maxPhyAddr must be in [32, 52], got ${maxPhyAddr}`);
    }
    this.maxPhyAddr = maxPhyAddr;
    this.predictor = new BranchPredictor(options.branchPredictorEntries);
  }

  /**
   * Instructions retired since construction, by class ({@link RETIRED_CLASSES} documents
   * which mnemonics each class holds). Like {@link Cpu.instructions}, counted since
   * construction and never reset: the classes always sum to `instructions` between runs, and
   * an interval is the difference of two readings. Exact at every stop, whatever stopped the
   * CPU (budget, fault, VM exit) and however a run is split into budgets.
   *
   * @example
   * ```ts
   * cpu.run(1000);
   * const { branch, divide } = cpu.retiredByClass;
   * ```
   */
  get retiredByClass(): Record<RetiredClass, number> {
    const out = {} as Record<RetiredClass, number>;
    RETIRED_CLASSES.forEach((name, k) => {
      out[name] = this.classCounts[k]!;
    });
    return out;
  }

  /**
   * The work of repeated MOVS and STOS (REP prefix, any element size), the forms processors
   * run as fast strings (SDM Vol. 1 §7.3.9.3): `starts`, `elements` and `bytes` since
   * construction, never reset, like {@link Cpu.instructions}; an interval is the difference of
   * two readings. The elements are also in `retiredByClass.string`. Non-repeated MOVS/STOS,
   * CMPS, SCAS, LODS, INS and OUTS are not counted here: they go element by element.
   *
   * A start is an entry into a REP MOVS/STOS with RCX != 0: the first, and every resumption
   * after the instruction was interrupted by an event (fault, interrupt, single-step trap), a
   * VM exit, or a host write of RIP, because a core restarts the fast-string microcode there.
   * Resuming after the CPU's own budget ran out is not a start: a budget is a slicing of the
   * simulation, not an event of the machine, so every count is the same however a run is
   * split into budgets, and exact at every stop, as the class counts are.
   *
   * @returns the counts since construction
   * @example
   * ```ts
   * cpu.run(1000);
   * const { starts, bytes } = cpu.fastStrings;
   * ```
   */
  get fastStrings(): FastStringCounts {
    return {
      starts: this.fastStringStarts,
      elements: this.fastStringElements,
      bytes: this.fastStringBytes,
    };
  }

  /** IA32_KERNEL_GS_BASE, a canonical address. */
  get kernelGsBase(): bigint {
    return join(this.kernelGsBaseHi, this.kernelGsBaseLo);
  }
  /** Sets IA32_KERNEL_GS_BASE; a non-canonical value throws {@link CpuError}. */
  set kernelGsBase(value: bigint) {
    toLinear(value, 'KERNEL_GS_BASE');
    this.kernelGsBaseLo = Number(value & 0xffffffffn);
    this.kernelGsBaseHi = Number((value >> 32n) & 0xffffffffn);
  }

  /**
   * Hands the paging registers (EFER, CR4, CR3, CR0) to the memory, for a host that set them
   * directly rather than through guest instructions. Cached code stays: it is keyed by physical
   * address, and the next block entry translates RIP afresh.
   */
  syncPaging(): void {
    const m = this.memory;
    m.writePagingRegister?.('efer', BigInt(this.efer));
    m.writePagingRegister?.('cr4', BigInt(this.cr4));
    m.writePagingRegister?.('cr3', this.cr3);
    m.writePagingRegister?.('cr0', BigInt(this.cr0));
  }

  /** Instructions retired so far, including those of the `run` in progress. */
  get retired(): number {
    return this.instructions + (this.runBudget - this.remaining);
  }

  /** The current time-stamp counter (SDM Vol. 3B §18.17): the source plus the WRMSR offset. */
  get tsc(): bigint {
    const base = this.tscSource?.(this.retired) ?? BigInt(this.retired);
    return BigInt.asUintN(64, base + this.tscOffset);
  }

  /**
   * Completes the RDMSR that stopped the CPU with an `msr` read stop: EDX:EAX = `value`.
   *
   * @param value - the MSR value, in [0, 2^64)
   */
  completeRdmsr(value: bigint): void {
    if (this.pendingRdmsr < 0)
      throw new CpuError('INVALID_STATE', 'no RDMSR is waiting for a value');
    if (value < 0n || value >= 1n << 64n) {
      throw new CpuError('INVALID_VALUE', `an MSR value must be in [0, 2^64), got ${value}`);
    }
    this.lo[0] = Number(value & 0xffffffffn);
    this.hi[0] = 0;
    this.lo[2] = Number(value >> 32n);
    this.hi[2] = 0;
    this.pendingRdmsr = -1;
  }

  /** GDTR as base and limit. */
  get gdtr(): TableRegister {
    return { base: BigInt.asUintN(64, BigInt(this.gdtrBase)), limit: this.gdtrLimit };
  }
  /** Sets GDTR; a non-canonical base or a limit outside 0..65535 throws {@link CpuError}. */
  set gdtr(value: TableRegister) {
    this.gdtrBase = toLinear(value.base, 'GDTR base');
    this.gdtrLimit = toLimit(value.limit, 0xffff);
  }

  /** IDTR as base and limit. */
  get idtr(): TableRegister {
    return { base: BigInt.asUintN(64, BigInt(this.idtrBase)), limit: this.idtrLimit };
  }
  /** Sets IDTR; a non-canonical base or a limit outside 0..65535 throws {@link CpuError}. */
  set idtr(value: TableRegister) {
    this.idtrBase = toLinear(value.base, 'IDTR base');
    this.idtrLimit = toLimit(value.limit, 0xffff);
  }

  /** TR as selector, base and limit. */
  get tr(): TaskRegister {
    return {
      selector: this.trSelector,
      base: BigInt.asUintN(64, BigInt(this.trBase)),
      limit: this.trLimit,
    };
  }
  /** Sets TR (without reading the GDT, as a VMM loads guest state). */
  set tr(value: TaskRegister) {
    this.trSelector = toLimit(value.selector, 0xffff);
    this.trBase = toLinear(value.base, 'TR base');
    this.trLimit = toLimit(value.limit, 0xffffffff);
  }

  /**
   * Requests an external interrupt: it is delivered through the IDT at the next instruction
   * boundary where RFLAGS.IF = 1 and no interrupt shadow is active (SDM Vol. 3A §6.8.1). One
   * interrupt can wait at a time (the interrupt controller model keeps the rest).
   *
   * @param vector - 32..255 (vectors below 32 are reserved for exceptions)
   */
  requestInterrupt(vector: number): void {
    if (!Number.isInteger(vector) || vector < 32 || vector > 255) {
      throw new CpuError(
        'INVALID_VALUE',
        `an external interrupt vector must be in [32, 255], got ${vector}`,
      );
    }
    if (this.pendingInterrupt !== undefined) {
      throw new CpuError('INVALID_STATE', `interrupt ${this.pendingInterrupt} is still pending`);
    }
    this.pendingInterrupt = vector;
  }

  /**
   * Whether an external interrupt would be taken now: RFLAGS.IF = 1 and no STI shadow (SDM
   * Vol. 3A §6.8.1). A VMM uses it for interrupt-window decisions.
   */
  get interruptible(): boolean {
    return (this.flags & RFLAGS.IF) !== 0 && !this.interruptShadow;
  }

  /**
   * Delivers an exception through the IDT now, at the current RIP, as a VMM injects one on
   * VM entry: the interceptor is not consulted for it (it is, for exceptions its delivery
   * raises, which follow the double-fault rules). For #PF, `address` becomes CR2.
   *
   * @param vector - 0..31
   * @param errorCode - pushed when given
   * @param address - for #PF, the faulting linear address (signed canonical)
   * @returns undefined once delivered, or the stop (`exception` from the interceptor for a
   *   nested exception, `triple-fault`)
   */
  injectException(vector: number, errorCode?: number, address?: number): StopReason | undefined {
    if (!Number.isInteger(vector) || vector < 0 || vector > 31) {
      throw new CpuError('INVALID_VALUE', `an exception vector must be in [0, 31], got ${vector}`);
    }
    return this.dispatch(vector, errorCode, address, 'injected');
  }

  /**
   * The VM-execution controls of VMX non-root operation, or undefined in root mode.
   */
  get vmxControls(): VmxControls | undefined {
    return this.nonRoot?.controls;
  }

  /**
   * VM entry (or resume) into VMX non-root operation with `controls` (SDM Vol. 3C chapters
   * 26-27): from now on `run` stops with a `vm-exit` stop reason for the events the controls
   * select. The guest state is the CPU's current state. The PLE state is reset and the
   * preemption timer loaded (§27.7.4, §26.1.3); then the optional event is injected through
   * the guest IDT before any instruction runs (§27.6).
   *
   * The CPU stays in non-root operation across VM exits: the next `run` after a `vm-exit`
   * stop is a VM resume (PLE reset, timer reloaded); call `vmEntry` again to change the
   * controls or to inject an event, and {@link Cpu.leaveNonRoot} to return to root mode.
   *
   * @param controls - the VM-execution controls
   * @param injection - an event to inject (VM-entry interruption information)
   * @returns undefined, or the stop when delivering the injected event itself exits (e.g. a
   *   #PF on the stack selected by the exception bitmap) or triple-faults (a VM exit too)
   * @throws {@link CpuError} `INVALID_VALUE` for a bad control field or injection,
   *   `INVALID_STATE` while an IN or RDMSR waits for its value
   * @example
   * ```ts
   * cpu.vmEntry({ pinBased: 0, primary: PrimaryProcessorControls.HLT_EXITING, secondary: 0,
   *   exceptionBitmap: 1 << 14 });
   * const stop = cpu.run(1_000_000); // { kind: 'vm-exit', info: { exitReason: 12, ... } }
   * ```
   */
  vmEntry(controls: VmxControls, injection?: EntryInjection): StopReason | undefined {
    if (this.pendingIn !== 0 || this.pendingRdmsr >= 0) {
      throw new CpuError('INVALID_STATE', 'an IN or RDMSR is waiting for its value');
    }
    const state = new NonRootState(controls);
    const event = injection === undefined ? undefined : checkInjection(injection);
    this.nonRoot = state;
    this.enterNonRoot(state);
    if (event === undefined) return undefined;
    const [type, vector, errorCode, length] = event;
    const software =
      type === InterruptionType.SOFTWARE_INTERRUPT || type === InterruptionType.SOFTWARE_EXCEPTION;
    // §27.6.1.2: software interrupts and exceptions push RIP + the VM-entry instruction
    // length; INT n and INT3/INTO (types 4 and 6) have their gate DPL checked.
    return this.dispatch(
      vector,
      errorCode,
      undefined,
      type === InterruptionType.EXTERNAL_INTERRUPT ? 'interrupt' : 'injected',
      type,
      software ? 'software' : 'hardware',
      this.ripValue + length,
    );
  }

  /**
   * Leaves VMX non-root operation: `run` executes in root mode again (no VM exits).
   */
  leaveNonRoot(): void {
    this.nonRoot = undefined;
    this.exitPending = false;
  }

  /**
   * The TSC before the guest's IA32_TIME_STAMP_COUNTER writes, as a number: what the
   * preemption timer and PLE count (host time). Instructions retired unless a source is given.
   */
  get sourceTsc(): number {
    return this.tscSource === undefined ? this.retired : Number(this.tscSource(this.retired));
  }

  // The VM-entry effects on non-root state: PLE restarts (SDM Vol. 3C §26.1.3: "the first
  // execution of PAUSE at CPL 0 after VM entry"), the timer is loaded (§27.7.4).
  private enterNonRoot(state: NonRootState): void {
    this.exitPending = false;
    state.ple.vmEntry();
    state.timerDeadline = state.preemptionTimerActive
      ? preemptionTimerDeadline(state.timerValue, this.sourceTsc, state.timerRate)
      : Number.POSITIVE_INFINITY;
  }

  private vmExitStop(info: VmExitInformation): StopReason {
    this.exitPending = true;
    this.fastStringResume = Number.NaN;
    return { kind: 'vm-exit', info };
  }

  // Non-root `run`: the VM exits that happen between instructions (SDM Vol. 3C §26.7.5 gives
  // their priority: the timer, then interrupts), checked before every slice; the slices are
  // cut so that the timer and the interrupt window are seen at the right instruction.
  private runNonRoot(nr: NonRootState, budget: number): StopReason {
    if (this.exitPending) this.enterNonRoot(nr);
    let left = budget;
    for (;;) {
      // §26.5.1: the timer exits when it counts down to 0, before the next instruction.
      if (nr.preemptionTimerActive && this.sourceTsc >= nr.timerDeadline) {
        return this.vmExitStop(
          exitInformation({ exitReason: BasicExitReason.VMX_PREEMPTION_TIMER_EXPIRED }),
        );
      }
      // §26.2: with "external-interrupt exiting" a pending interrupt exits whatever RFLAGS.IF
      // says. vmkit acknowledges it on exit (§28.2.2, "acknowledge interrupt on exit"): the
      // vector is in the interruption information and the interrupt no longer pending.
      if (nr.externalInterruptExiting && this.pendingInterrupt !== undefined) {
        const vector = this.pendingInterrupt;
        this.pendingInterrupt = undefined;
        return this.vmExitStop(
          exitInformation({
            exitReason: BasicExitReason.EXTERNAL_INTERRUPT,
            interruptionInfo: eventInformation(vector, InterruptionType.EXTERNAL_INTERRUPT),
          }),
        );
      }
      // §26.7.5: with "interrupt-window exiting", an exit before any instruction at which
      // RFLAGS.IF = 1 and nothing blocks interrupts (no STI or MOV SS shadow).
      if (nr.interruptWindowExiting && this.interruptible) {
        return this.vmExitStop(exitInformation({ exitReason: BasicExitReason.INTERRUPT_WINDOW }));
      }
      if (left <= 0) return { kind: 'budget' };
      let slice = left;
      if (nr.preemptionTimerActive) {
        // With the default source the TSC is the instruction count: run exactly up to the
        // deadline. Another source is sampled after every instruction.
        slice = this.tscSource === undefined ? Math.min(slice, nr.timerDeadline - this.retired) : 1;
      }
      // IF can only change at an instruction that ends a block, but blocks are chained inside
      // one `execute`: single-step while the window is closed.
      if (nr.interruptWindowExiting) slice = 1;
      const before = this.instructions;
      const stop = this.execute(slice);
      left -= this.instructions - before;
      if (stop.kind !== 'budget') return stop;
    }
  }

  /**
   * Whether an exception is reported to the host (`report` delivery, or the interceptor
   * claims it) rather than delivered through the IDT. Used by the interpreter.
   *
   * @param vector - the exception vector
   * @param errorCode - its error code
   * @param address - the #PF address
   * @returns true when it stops `run`
   */
  reportsException(
    vector: number,
    errorCode: number | undefined,
    address: number | undefined,
  ): boolean {
    if (this.exceptionDelivery === 'report') return true;
    return this.interceptException?.(vector, errorCode, address) === true;
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
    this.fastStringResume = Number.NaN;
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
   * Forgets decoded instructions on the 4 KiB frames of `[physical, physical + length)`, so that
   * code the host or a device wrote there is decoded afresh; with a shared code cache, for
   * every CPU sharing it. Addresses are physical: those of the memory the CPU's `CpuMemory`
   * reads (guest-physical under one-stage paging or `FlatMemory`, host-physical behind a second
   * stage). Stores by the guest, through any CPU whose memory reports to this cache, need no
   * call.
   *
   * @param physical - first physical address written
   * @param length - bytes written
   */
  invalidateCode(physical: number, length: number): void {
    this.code.invalidate(physical, length);
  }

  /**
   * Completes the IN or INS element that stopped the CPU with an `io` stop: IN writes `value`
   * to AL, AX or EAX; INS stores it at ES:RDI (checked before the stop) and moves RDI and, under
   * REP, RCX, RIP leaving the instruction after its last element.
   *
   * @param value - the value read from the port (taken modulo the access size)
   * @returns undefined, or the stop caused by delivering a fault of the INS store (possible
   *   only when a device region refuses the store or the host changed translations since the
   *   stop): a triple fault, an `exception` stop, or a VM exit in non-root operation
   */
  completeIn(value: number): StopReason | undefined {
    if (this.pendingIn === 0) throw new CpuError('INVALID_STATE', 'no IN is waiting for a value');
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new CpuError('INVALID_VALUE', `an I/O value must be in [0, 2^32), got ${value}`);
    }
    const mask = this.pendingIn === 4 ? 0xffffffff : this.pendingIn === 2 ? 0xffff : 0xff;
    const pending = this.pendingIns;
    const size = this.pendingIn;
    this.pendingIn = 0;
    this.pendingIns = undefined;
    if (pending === undefined) {
      completeIn(this, size, (value & mask) >>> 0);
      return undefined;
    }
    try {
      completeStringIn(this, pending, (value & mask) >>> 0);
      return undefined;
    } catch (e) {
      // The element did not complete: it no longer counts as retired, and its fault is
      // delivered with the state as before it (RIP still on the INS).
      this.instructions--;
      if (e instanceof VmExit && this.nonRoot !== undefined) return this.vmExitStop(e.info);
      if (!(e instanceof CpuFault)) throw e;
      return this.dispatch(e.vector, e.errorCode, e.address, 'exception');
    }
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
    if (this.pendingRdmsr >= 0) {
      throw new CpuError('INVALID_STATE', 'an RDMSR is waiting for completeRdmsr(value)');
    }
    if (this.nonRoot !== undefined) return this.runNonRoot(this.nonRoot, budget);
    return this.execute(budget);
  }

  // The run loop proper: blocks, events at instruction boundaries, faults.
  private execute(budget: number): StopReason {
    this.remaining = budget;
    this.runBudget = budget;
    const start = budget;
    // The block being run and the budget before it: what it retired is counted by class even
    // when it ends in a fault or a VM exit.
    let running: Block | undefined;
    let runFrom = 0;
    // The reference mode (nothing cached): one freshly fetched instruction at a time.
    const reference = this.code.capacity === 0;
    try {
      let previous: Block | undefined;
      while (this.remaining > 0) {
        try {
          // SDM Vol. 3A §6.8.1: external interrupts are taken at instruction boundaries when
          // IF = 1 and no STI shadow blocks them.
          if (
            this.pendingInterrupt !== undefined &&
            (this.flags & RFLAGS.IF) !== 0 &&
            !this.interruptShadow
          ) {
            const vector = this.pendingInterrupt;
            this.pendingInterrupt = undefined;
            previous = undefined;
            const stop = this.dispatch(vector, undefined, undefined, 'interrupt');
            if (stop !== undefined) return stop;
            continue;
          }
          if ((this.flags & RFLAGS.TF) !== 0 || this.interruptShadow || reference) {
            previous = undefined;
            const stop = this.stepOne();
            if (stop !== undefined) return stop;
            continue;
          }
          // Most blocks are followed by the same block as last time: try that before the cache.
          // The link holds while no code was dropped and no translation may have changed since
          // it was recorded (then RIP's fetch translation would give the same frame, with the
          // same rights); otherwise the fetch translation is made again.
          const epoch = this.code.epoch;
          let block = previous?.next;
          if (
            block === undefined ||
            block.start !== this.ripValue ||
            previous!.nextEpoch !== epoch ||
            previous!.nextTranslation !== this.memory.translationEpoch ||
            block.cpl !== this.cpl
          ) {
            block = this.fetchBlock();
            if (previous !== undefined) {
              previous.next = block;
              previous.nextEpoch = this.code.epoch;
              previous.nextTranslation = this.memory.translationEpoch;
            }
          }
          running = block;
          runFrom = this.remaining;
          block.run(this);
          running = undefined;
          const retired = runFrom - this.remaining;
          if (retired === block.classes.length) {
            // The common case, the whole block once: a few additions.
            const counts = this.classCounts;
            const tally = block.tally;
            counts[0] = counts[0]! + block.others;
            for (let k = 0; k < tally.length; k++) counts[tally[k]!] = counts[tally[k]!]! + 1;
            // One pass: its closing Jcc (if any) was taken exactly when RIP is at its target,
            // told without a host branch on the guest's outcome (which the host mispredicts
            // as often as the guest's data says): RIP is the target or the next instruction,
            // and they differ by a nonzero int32.
            if (block.branch !== -1) {
              const d = (this.ripValue - block.target) | 0;
              this.predictor.updateBit(block.branch, ((d | -d) >>> 31) ^ 1);
            }
          } else {
            countRetired(block, retired, this.classCounts);
            trainRetired(block, retired, this.ripValue, this.predictor);
          }
          previous = block;
          if (this.pendingStop !== undefined) {
            const stop = this.pendingStop;
            this.pendingStop = undefined;
            return stop;
          }
        } catch (e) {
          if (running !== undefined) {
            countRetired(running, runFrom - this.remaining, this.classCounts);
            trainRetired(running, runFrom - this.remaining, this.ripValue, this.predictor);
            running = undefined;
          }
          // An INT n or INT3 whose delivery failed: the exit reports it (SDM Vol. 3C §28.2.3)
          // with its length (§28.2.4).
          const event = this.softwareEvent;
          const length = this.softwareEventLength;
          this.softwareEvent = 0;
          if (!(e instanceof CpuFault)) {
            if (!(e instanceof VmExit)) throw e;
            // An instruction-caused exit leaves the state as before the instruction, like a
            // fault (SDM Vol. 3C §27.1, "Architectural State Before a VM Exit").
            this.flags = this.committedFlags;
            return this.vmExitStop(
              event === 0
                ? e.info
                : { ...e.info, idtVectoringInfo: event, instructionLength: length },
            );
          }
          // A fault leaves the instruction's architectural effects undone (SDM Vol. 3A §6.5:
          // faults report the state before the instruction); handlers write registers only
          // after their last memory access, and RFLAGS is restored here.
          this.flags = this.committedFlags;
          previous = undefined;
          const stop =
            event === 0
              ? this.dispatch(e.vector, e.errorCode, e.address, 'exception')
              : this.dispatch(
                  e.vector,
                  e.errorCode,
                  e.address,
                  'exception',
                  InterruptionType.HARDWARE_EXCEPTION,
                  'hardware',
                  this.ripValue,
                  0n,
                  event,
                  length,
                );
          if (stop !== undefined) return stop;
        }
      }
      return { kind: 'budget' };
    } finally {
      this.instructions += start - this.remaining;
      this.runBudget = 0;
      this.remaining = 0;
    }
  }

  /**
   * Delivers an exception or external interrupt through the IDT, or reports the exception.
   * An exception raised by the delivery itself is handled by the double-fault rules (SDM
   * Vol. 3A §6.15, Table 6-5): delivered after the first, turned into #DF, or a triple fault.
   * RIP is the one to push (the faulting instruction for faults, the next for traps).
   *
   * In VMX non-root operation the exception bitmap decides instead of the `report` setting
   * and the interceptor (SDM Vol. 3C §26.2): a selected exception is a VM exit (reason 0)
   * with the VM-exit interruption information, CR2 unwritten; one raised while delivering an
   * event also carries that event in the IDT-vectoring information (§28.2.3); a triple fault
   * is a VM exit (reason 2).
   */
  private dispatch(
    vector: number,
    errorCode: number | undefined,
    address: number | undefined,
    kind: 'exception' | 'interrupt' | 'injected',
    type: number = kind === 'interrupt'
      ? InterruptionType.EXTERNAL_INTERRUPT
      : InterruptionType.HARDWARE_EXCEPTION,
    source: EventSource = 'hardware',
    returnRip: number = this.ripValue,
    qualification = 0n,
    softwareEvent = 0,
    softwareLength = 0,
  ): StopReason | undefined {
    // A REP MOVS/STOS resumed after an event starts again (Cpu.fastStrings).
    this.fastStringResume = Number.NaN;
    let v = vector;
    let code = errorCode;
    let addr = address;
    let eventType = type;
    let src = source;
    let isException = kind !== 'interrupt';
    // An injected event is delivered as it is; exceptions its delivery raises are not.
    let intercept = kind !== 'injected';
    // The event whose delivery raised the current exception (IDT-vectoring information), and
    // its instruction length when it is a software interrupt or exception.
    let vectoring = softwareEvent;
    let vectoringCode = 0;
    let vectoringLength = softwareLength;
    for (;;) {
      if (isException && intercept) {
        const nr = this.nonRoot;
        if (nr !== undefined) {
          // SDM Vol. 3C §26.2: an exception exits when the exception bitmap (and, for #PF,
          // the error-code mask/match) selects it; NMIs are not modelled.
          if (exceptionCausesExit(nr.exceptionBitmap, v, code ?? 0, nr.pfecMask, nr.pfecMatch)) {
            return this.vmExitStop(
              exitInformation({
                exitReason: BasicExitReason.EXCEPTION_OR_NMI,
                // §28.2.1: #PF's qualification is the linear address; #DB's the DR6 bits.
                exitQualification:
                  v === Vector.PF && addr !== undefined
                    ? BigInt.asUintN(64, BigInt(addr))
                    : qualification,
                interruptionInfo: eventInformation(v, eventType, code),
                interruptionErrorCode: code ?? 0,
                idtVectoringInfo: vectoring,
                idtVectoringErrorCode: vectoringCode,
                instructionLength: vectoringLength,
              }),
            );
          }
        } else if (this.reportsException(v, code, addr)) {
          return { kind: 'exception', vector: v, errorCode: code, address: addr };
        }
      }
      // SDM Vol. 3A §4.7: CR2 receives the faulting linear address as #PF is delivered.
      if (isException && v === Vector.PF && addr !== undefined) {
        this.cr2 = BigInt.asUintN(64, BigInt(addr));
      }
      try {
        deliver(this, v, code, src, returnRip);
        return undefined;
      } catch (e) {
        if (!(e instanceof CpuFault)) {
          // A VM exit during delivery (an EPT violation on the IDT or the stack) reports the
          // event being delivered in the IDT-vectoring information (SDM Vol. 3C §28.2.3).
          if (e instanceof VmExit && this.nonRoot !== undefined) {
            return this.vmExitStop({
              ...e.info,
              idtVectoringInfo: eventInformation(v, eventType, code),
              idtVectoringErrorCode: code ?? 0,
              instructionLength: isSoftwareType(eventType) ? returnRip - this.ripValue : 0,
            });
          }
          throw e;
        }
        vectoring = eventInformation(v, eventType, code);
        vectoringCode = code ?? 0;
        // §28.2.4: the length of an injected software event whose delivery faulted.
        vectoringLength = isSoftwareType(eventType) ? returnRip - this.ripValue : 0;
        // SDM Vol. 3C §26.2 and §31.7.1.2: in non-root operation the exception raised by the
        // delivery is itself checked against the exception bitmap before the double-fault
        // rules apply; when it exits, the event being delivered is the IDT-vectoring
        // information, and merging the two into #DF is the VMM's business.
        const nr = this.nonRoot;
        if (
          nr !== undefined &&
          exceptionCausesExit(
            nr.exceptionBitmap,
            e.vector,
            e.errorCode ?? 0,
            nr.pfecMask,
            nr.pfecMatch,
          )
        ) {
          v = e.vector;
          code = e.errorCode;
          addr = e.address;
          isException = true;
          intercept = true;
          eventType = InterruptionType.HARDWARE_EXCEPTION;
          src = 'hardware';
          returnRip = this.ripValue;
          qualification = 0n;
          continue;
        }
        const action = nestedAction(isException ? v : undefined, e.vector);
        if (action === 'shutdown') {
          // SDM Vol. 3C §26.2: a triple fault in non-root operation is a VM exit.
          if (this.nonRoot !== undefined) {
            return this.vmExitStop(exitInformation({ exitReason: BasicExitReason.TRIPLE_FAULT }));
          }
          return { kind: 'triple-fault' };
        }
        if (action === 'doubleFault') {
          v = Vector.DF;
          code = 0;
          addr = undefined;
          // §28.2.3: a VM exit caused directly by the resulting #DF is not one during event
          // delivery.
          vectoring = 0;
          vectoringCode = 0;
          vectoringLength = 0;
        } else {
          v = e.vector;
          code = e.errorCode;
          addr = e.address;
        }
        isException = true;
        intercept = true;
        eventType = InterruptionType.HARDWARE_EXCEPTION;
        src = 'hardware';
        returnRip = this.ripValue;
        qualification = 0n;
      }
    }
  }

  /**
   * Runs exactly one instruction: under RFLAGS.TF (then a single-step #DB follows, a trap
   * with RIP after the instruction, unless the instruction itself stopped the CPU; SDM Vol.
   * 3A §18.3.1.4; DR6 is not modelled yet), or in an interrupt shadow, which it ends.
   */
  private stepOne(): StopReason | undefined {
    const trap = (this.flags & RFLAGS.TF) !== 0;
    const shadow = this.interruptShadow;
    this.interruptShadow = false;
    const left = this.remaining;
    const budget = this.runBudget;
    // One instruction as if it were a run of its own, keeping `retired` exact.
    this.runBudget = budget - left + 1;
    this.remaining = 1;
    let block: Block | undefined;
    try {
      block = this.fetchBlock();
      block.run(this);
    } catch (e) {
      // An instruction that exits has not executed: the STI/MOV SS blocking it was under
      // still holds when the VMM resumes it (SDM Vol. 3C §28.3.1.5, interruptibility state).
      if (e instanceof VmExit) this.interruptShadow = shadow;
      throw e;
    } finally {
      if (block !== undefined) {
        countRetired(block, 1 - this.remaining, this.classCounts);
        trainRetired(block, 1 - this.remaining, this.ripValue, this.predictor);
      }
      this.remaining = left - (1 - this.remaining);
      this.runBudget = budget;
    }
    if (this.pendingStop !== undefined) {
      const stop = this.pendingStop;
      this.pendingStop = undefined;
      return stop;
    }
    if (!trap) return undefined;
    // A REP iteration that did not finish the instruction still traps (each iteration is
    // single-stepped).
    // SDM Vol. 3C §28.2.1 Table 28-1: a #DB exit's qualification has BS (bit 14) for a
    // single step.
    return this.dispatch(
      Vector.DB,
      undefined,
      undefined,
      'exception',
      InterruptionType.HARDWARE_EXCEPTION,
      'hardware',
      this.ripValue,
      0x4000n,
    );
  }

  // The block at RIP: the fetch translation of RIP gives the physical address the cache is
  // keyed by, and makes every check a fresh fetch would (present, NX, SMEP, U/S at CPL 3, EPT
  // execute), so a cached block never runs where fetching its first byte would fault. A block
  // matches when it was decoded at this linear address (its compiled code embeds RIP values)
  // and CPL, and when its last instruction reaches into the next page, that page still
  // translates to the frame its bytes came from.
  private fetchBlock(): Block {
    // A fault or VM exit while fetching restores these flags: they must be the current ones,
    // not those of the last instruction that could fault.
    this.committedFlags = this.flags;
    const rip = this.ripValue;
    const cpl = this.cpl;
    const memory = this.memory;
    const code = this.code;
    const physical = memory.fetchPhysical(rip, cpl);
    for (let hit = code.lookup(physical); hit !== undefined; hit = hit.alias) {
      if (
        hit.start === rip &&
        hit.cpl === cpl &&
        (hit.crossPhysical < 0 || this.nextPagePhysical(rip) === hit.crossPhysical)
      ) {
        code.stats.hits++;
        return hit;
      }
    }
    const block = buildCachedBlock(
      memory,
      cpl,
      rip,
      SHARED_FACTORIES,
      code.capacity === 0 ? 1 : MAX_BLOCK_INSTRUCTIONS,
    );
    code.stats.decodes++;
    block.physical = physical;
    let end = rip;
    for (const ins of block.instructions) end += ins.length;
    // The decoder fetched the next page's bytes, so its translation succeeds now.
    block.crossPhysical =
      Math.floor((end - 1) / PAGE) !== Math.floor(rip / PAGE) ? this.nextPagePhysical(rip) : -1;
    code.insert(block);
    return block;
  }

  // The fetch translation of the page after RIP's, or -1 when a fetch there would fault.
  private nextPagePhysical(rip: number): number {
    try {
      return this.memory.fetchPhysical((Math.floor(rip / PAGE) + 1) * PAGE, this.cpl);
    } catch (e) {
      if (e instanceof CpuFault || e instanceof VmExit) return -1;
      throw e;
    }
  }
}

// The interruption-information encoding shared by the VM-exit interruption information and
// the IDT-vectoring information (SDM Vol. 3C §25.9.2, §25.9.3): vector, type, error-code valid
// (bit 11), valid (bit 31).
function eventInformation(vector: number, type: number, errorCode?: number): number {
  return (
    ((vector & 0xff) | (type << 8) | (errorCode === undefined ? 0 : 0x800) | 0x8000_0000) >>> 0
  );
}

// Software interrupts and exceptions (types 4, 5, 6): the events whose instruction length
// the VM-exit instruction-length field reports when their delivery exits (SDM Vol. 3C §28.2.4).
function isSoftwareType(type: number): boolean {
  return (
    type === InterruptionType.SOFTWARE_INTERRUPT ||
    type === InterruptionType.PRIVILEGED_SOFTWARE_EXCEPTION ||
    type === InterruptionType.SOFTWARE_EXCEPTION
  );
}

// Checks an injection request (SDM Vol. 3C §27.2.1.3, event-injection checks that vmkit's
// interface can violate) and returns [type, vector, errorCode, instructionLength].
function checkInjection(injection: EntryInjection): [number, number, number | undefined, number] {
  const { type, vector, errorCode } = injection;
  const bad = (why: string): CpuError => new CpuError('INVALID_VALUE', `injection: ${why}`);
  if (!Number.isInteger(vector) || vector < 0 || vector > 255) throw bad(`vector ${vector}`);
  switch (type) {
    case InterruptionType.EXTERNAL_INTERRUPT:
    case InterruptionType.SOFTWARE_INTERRUPT:
      break;
    case InterruptionType.NMI:
      if (vector !== Vector.NMI) throw bad('an NMI has vector 2');
      break;
    case InterruptionType.HARDWARE_EXCEPTION:
    case InterruptionType.PRIVILEGED_SOFTWARE_EXCEPTION:
    case InterruptionType.SOFTWARE_EXCEPTION:
      if (vector > 31) throw bad(`exception vector ${vector} is above 31`);
      break;
    default:
      throw bad(`type ${type} is not injectable by vmkit`);
  }
  if (errorCode !== undefined) {
    if (type !== InterruptionType.HARDWARE_EXCEPTION)
      throw bad('only exceptions push an error code');
    if (!Number.isInteger(errorCode) || errorCode < 0 || errorCode > 0xffff_ffff) {
      throw bad(`error code ${errorCode}`);
    }
  }
  let length = 0;
  if (
    type === InterruptionType.SOFTWARE_INTERRUPT ||
    type === InterruptionType.PRIVILEGED_SOFTWARE_EXCEPTION ||
    type === InterruptionType.SOFTWARE_EXCEPTION
  ) {
    length = injection.instructionLength ?? -1;
    if (!Number.isInteger(length) || length < 1 || length > 15) {
      throw bad('software events need an instruction length in [1, 15]');
    }
  }
  return [type, vector, errorCode, length];
}

function join(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function gprIndex(name: GprName): number {
  const r = GPR_NAMES.indexOf(name);
  if (r < 0) throw new CpuError('INVALID_REGISTER', `no register named ${String(name)}`);
  return r;
}

function toLimit(value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new CpuError('INVALID_VALUE', `a limit or selector must be in [0, ${max}], got ${value}`);
  }
  return value;
}

function toLinear(value: bigint, what: string): number {
  const v = BigInt.asUintN(64, value);
  try {
    return canonical(Number(v >> 32n), Number(v & 0xffffffffn), false);
  } catch {
    throw new CpuError('INVALID_VALUE', `${what} 0x${v.toString(16)} is not canonical`);
  }
}
