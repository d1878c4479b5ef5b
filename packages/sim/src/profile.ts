/**
 * The shape of a cost profile: every figure the simulation charges, each with its unit and the
 * source it comes from. A profile is plain JSON-compatible data, so it can be stored, loaded,
 * validated and diffed; the code that charges time never hard-codes a figure.
 */

/**
 * Where a figure comes from.
 *
 * - `paper`: a seed paper or a paper it cites; `ref` quotes the section, table or figure.
 * - `manual`: an Intel manual (SDM, Optimization Reference Manual); `ref` names the section.
 * - `code`: a constant in a public, checkable code base (e.g. Xen's credit scheduler).
 * - `report`: a public measurement report (a mailing-list post, a vendor note) with its address.
 * - `measured`: measured by a named script on a named machine.
 * - `assumption`: no published figure was found; `ref` says why the value is reasonable.
 */
export type SourceKind = 'paper' | 'manual' | 'code' | 'report' | 'measured' | 'assumption';

/** Every {@link SourceKind}, for validation. */
export const SOURCE_KINDS: readonly SourceKind[] = [
  'paper',
  'manual',
  'code',
  'report',
  'measured',
  'assumption',
];

/** The provenance of one figure. */
export interface FigureSource {
  /** What kind of source this is. */
  readonly kind: SourceKind;
  /** Where exactly (section, table, file and constant, script), or the reasoning of an assumption. */
  readonly ref: string;
}

/** The unit a figure is expressed in. Cycles are core clock cycles of the simulated pCPU. */
export type FigureUnit =
  | 'cycles'
  | 'Hz'
  | 'bit/s'
  | 'bytes/cycle'
  | 'weight'
  | 'bytes'
  | 'ways'
  | 'fraction';

/** One number of the cost model with its unit and source. */
export interface Figure {
  /** The value, in `unit`. Cycle figures are non-negative integers. */
  readonly value: number;
  /** The unit of `value`. */
  readonly unit: FigureUnit;
  /** Where the value comes from. */
  readonly source: FigureSource;
}

/**
 * VM exit kinds with their own handler cost, named after the SDM basic exit reasons they stand for
 * (SDM Vol. 3C Appendix C): `io` = I/O instruction (30), `mmio` = an EPT violation or #PF that
 * the VMM emulates as device access, `cpuid` (10), `msr` = RDMSR/WRMSR (31/32), `cr-access` (28),
 * `invlpg` (14), `hlt` (12), `pause` = PAUSE / pause-loop exiting (40), `vmcall` (18),
 * `ept-violation` (48) for memory the VMM backs on demand, `exception` = exception or NMI (0),
 * `external-interrupt` (1), `interrupt-window` (7).
 */
export const EXIT_KINDS = [
  'io',
  'mmio',
  'cpuid',
  'msr',
  'cr-access',
  'invlpg',
  'hlt',
  'pause',
  'vmcall',
  'ept-violation',
  'exception',
  'external-interrupt',
  'interrupt-window',
] as const;
/** One of {@link EXIT_KINDS}. */
export type ExitKind = (typeof EXIT_KINDS)[number];

/**
 * Work the shadow-paging code does inside an exit, charged on top of the exit itself:
 * `pte-write` = emulate a guest write to a write-protected guest page table and resync the
 * shadow entry (seed 003 §II.A); `fill` = build a missing shadow entry from the guest entry (a
 * "shadow page fault", seed 004 §2.2); `log-dirty` = a write fault on a read-only shadow entry in
 * log-dirty mode: mark the page dirty and grant write (seed 004 §2.2); `guest-fault` = the walk
 * finds a true guest fault and the VMM reflects #PF into the guest; `cr3-switch` = find or build
 * the shadow root for a new guest CR3.
 */
export const SHADOW_KINDS = [
  'pte-write',
  'fill',
  'log-dirty',
  'guest-fault',
  'cr3-switch',
] as const;
/** One of {@link SHADOW_KINDS}. */
export type ShadowKind = (typeof SHADOW_KINDS)[number];

/** Levels of the memory hierarchy a reference can be served from. */
export const MEMORY_LEVELS = ['l1', 'l2', 'l3', 'dram'] as const;
/** One of {@link MEMORY_LEVELS}. */
export type MemoryLevel = (typeof MEMORY_LEVELS)[number];

/** The cache levels of the hierarchy ({@link MEMORY_LEVELS} without `dram`). */
export const CACHE_LEVELS = ['l1', 'l2', 'l3'] as const;
/** One of {@link CACHE_LEVELS}. */
export type CacheLevelName = (typeof CACHE_LEVELS)[number];

/** The geometry of one cache level. */
export interface CacheProfile {
  /** Capacity in bytes. */
  readonly size: Figure;
  /** Lines per set (`ways`). */
  readonly associativity: Figure;
  /** Bytes per line; every level must have the same line size. */
  readonly lineSize: Figure;
}

/**
 * Instruction classes with their own cost. Memory operands are charged separately, by level.
 * `alu` = simple integer, `mul` = integer multiply, `div` = integer divide, `branch` = a correctly
 * predicted branch, `branch-mispredict` = the extra cost of a mispredicted one, `pause` = PAUSE,
 * `string-start` = the start-up of a repeated MOVS or STOS run as a fast string, after which it
 * moves `copy.bytesPerCycle` bytes per cycle (the bytes are priced by that figure, not here).
 */
export const INSTRUCTION_CLASSES = [
  'alu',
  'mul',
  'div',
  'branch',
  'branch-mispredict',
  'pause',
  'string-start',
] as const;
/** One of {@link INSTRUCTION_CLASSES}. */
export type InstructionClass = (typeof INSTRUCTION_CLASSES)[number];

/** A network link: its data rate and its one-way latency. */
export interface LinkProfile {
  /** Data rate in bit/s. */
  readonly rate: Figure;
  /** One-way latency of one message, in cycles. */
  readonly latency: Figure;
}

/** A complete cost profile. Every field is required; see `defaultProfile` for the values. */
export interface CostProfile {
  /** A short identifier, e.g. `xeon-5500-xen`. */
  readonly name: string;
  /** What machine and software the profile describes. */
  readonly description: string;
  /** The simulated pCPU. */
  readonly cpu: {
    /** Core clock, used to convert seconds and link rates into cycles. */
    readonly frequency: Figure;
  };
  /** VM exits. A `vmexit.<kind>` event costs `roundTrip + handlers[kind]`. */
  readonly vmexit: {
    /** Hardware VM exit plus VM entry, with the minimal register save/restore around them. */
    readonly roundTrip: Figure;
    /** Handler work by exit kind, on top of the round trip. */
    readonly handlers: Readonly<Record<ExitKind, Figure>>;
  };
  /** Shadow-paging work by kind, charged on top of the exit that led to it. */
  readonly shadow: Readonly<Record<ShadowKind, Figure>>;
  /** Memory hierarchy. */
  readonly memory: {
    /** Load-to-use latency by level. */
    readonly latency: Readonly<Record<MemoryLevel, Figure>>;
    /**
     * Cache geometry by level. Page-walk references (guest, EPT and shadow levels) that miss
     * the TLB and the paging-structure caches go through a model of these caches
     * (`CacheHierarchy`) and are priced at the latency of the level that served them.
     */
    readonly caches: Readonly<Record<CacheLevelName, CacheProfile>>;
    /**
     * The share (0 < share <= 1) of each cache level that page-table lines may occupy: the
     * guest's data competes for the same caches and is not fed into the model, so walk
     * references see `size x share` of each level (`fraction`).
     */
    readonly pageTableShare: Figure;
  };
  /** Instruction cost by class. */
  readonly instructions: Readonly<Record<InstructionClass, Figure>>;
  /**
   * Memory copy throughput (a PV backend copying packets, HBFT copying dirty pages, and a
   * guest's REP MOVS/STOS once streaming, after `instructions.string-start`).
   */
  readonly copy: {
    /** Bytes copied (or stored) per cycle. */
    readonly bytesPerCycle: Figure;
  };
  /** Network links by name. */
  readonly links: { readonly [name: string]: LinkProfile };
  /** Credit scheduler parameters. */
  readonly scheduler: {
    /** Time slice of a vCPU on a pCPU. */
    readonly timeSlice: Figure;
    /** Credit accounting period. */
    readonly accountingPeriod: Figure;
    /** Weight of a vCPU that does not set one. */
    readonly defaultWeight: Figure;
    /** Switching a pCPU from one vCPU to another (VMCS switch, state save and restore). */
    readonly contextSwitch: Figure;
  };
  /** Simulated hypervisor locks. */
  readonly locks: {
    /** Moving a contended lock's cache line to the next owner's core. */
    readonly handoff: Figure;
  };
  /**
   * Pause-loop exiting parameters (SDM Vol. 3C, VMX non-root operation, "Instructions That
   * Cause VM Exits Conditionally": PAUSE with the PAUSE-loop exiting control).
   */
  readonly ple: {
    /** PLE_Gap: the largest distance between two PAUSEs of one spin loop. */
    readonly gap: Figure;
    /** PLE_Window: how long a spin loop may run before it exits. */
    readonly window: Figure;
  };
  /** Event injection into a vCPU (interrupt, IPI) by the VMM, beyond any exit. */
  readonly interrupts: {
    /** Injecting one event through the VM-entry interruption-information field. */
    readonly inject: Figure;
  };
  /** Self-virtualization (seed 000). */
  readonly mercury: {
    /** One switch between native and virtual mode. */
    readonly modeSwitch: Figure;
  };
}
