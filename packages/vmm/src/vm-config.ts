// The Vm's configuration and results: the types callers see, and the checks of the
// configuration (every field validated before anything is built).

import type { FastStringCounts, RetiredClass } from '@vmkit/cpu';
import { bootProtocol } from '@vmkit/guest';
import type { CostProfile, LockStats, MemoryLevel } from '@vmkit/sim';
import { VmmError } from './errors.js';
import type { RipExits } from './exit-log.js';
import { MMU_STRATEGIES, type MmuStrategy, type TlbCounters } from './strategy.js';

/** Configuration of a {@link Vm}. */
export interface VmConfig {
  /** The guest image (an ELF64 file); default: `@vmkit/guest`'s kernel image. */
  readonly image?: Uint8Array;
  /** The kernel command line: printable ASCII, at most 1023 bytes; default `hello`. */
  readonly command?: string;
  /** Guest RAM in MiB, 4..1024; default 128 (as `kvm-run`). */
  readonly memoryMiB?: number;
  /**
   * Period of the APIC timer in instructions retired (plus idle time skipped in HLT), a
   * positive integer; default 1 000 000. Time is counted, never measured, so runs repeat.
   */
  readonly timerQuantum?: number;
  /** Called with each console byte as a one-character string, as the guest writes it. */
  readonly onConsole?: (text: string) => void;
  /** How guest memory is virtualized; default `native`. */
  readonly mmu?: MmuStrategy;
  /** Number of vCPUs, 1..8 (boot protocol); default 1. */
  readonly vcpus?: number;
  /**
   * Instructions a vCPU runs per turn when several vCPUs are interleaved (round robin in id
   * order on one VM clock), a positive integer; default 10 000. Smaller interleaves finer.
   */
  readonly vcpuQuantum?: number;
  /** The cost profile simulated time is priced from; default `@vmkit/sim`'s default profile. */
  readonly profile?: CostProfile;
  /** Physical CPUs of the simulated host, 1..64; default = `vcpus`. */
  readonly pcpus?: number;
}

/** Why {@link Vm.run} returned. */
export type VmEnd =
  /** The guest wrote its status to the debug-exit port. */
  | 'exit'
  /** The instruction budget ran out; `run` may be called again to go on. */
  | 'budget'
  /** HLT with interrupts disabled or nothing that could ever wake the vCPU. */
  | 'idle'
  /** The vCPU shut down (a fault while delivering #DF). */
  | 'triple-fault'
  /** The guest accessed guest-physical memory with nothing behind it; see `VmRunResult.error`. */
  | 'ept-violation';

/** VM exits by kind: each is one return from the CPU to the VMM (or, for exceptions, a guest exception the VMM observed). */
export interface ExitCounters {
  /** IN/OUT instructions. */
  io: number;
  /** RDMSR/WRMSR of host-handled (x2APIC) MSRs. */
  msr: number;
  /** HLT instructions. */
  hlt: number;
  /** Exceptions the guest raised (seen through the CPU's interceptor, then delivered through the guest's IDT). */
  exceptions: number;
  /** VMCALLs served from the {@link HypercallTable}. */
  vmcall: number;
}

/** Per-vCPU figures of a {@link VmRunResult}. */
export interface VcpuRunResult {
  /** The vCPU id. */
  readonly id: number;
  /** Instructions the vCPU retired. */
  readonly instructions: number;
  /**
   * Instructions the vCPU's CPU retired, by class (`RETIRED_CLASSES` of `@vmkit/cpu`). Those
   * the VMM emulated after an exit are not among them (they are priced as exits), so the
   * classes sum to `instructions` minus the emulated ones.
   */
  readonly instructionsByClass: Readonly<Record<RetiredClass, number>>;
  /**
   * The CPU's REP MOVS/STOS work (`Cpu.fastStrings` of `@vmkit/cpu`): starts, elements (also
   * in `instructionsByClass.string`) and the bytes they moved, priced by what they move.
   */
  readonly fastStrings: FastStringCounts;
  /** Conditional branches the CPU retired (Jcc, LOOP/LOOPcc, JRCXZ). */
  readonly conditionalBranches: number;
  /** Of those, the ones the CPU's branch-predictor model mispredicted. */
  readonly branchMispredictions: number;
  /** VM exits of the vCPU (0 under `native`). */
  readonly exits: number;
  /** Simulated cycles the vCPU's work cost. */
  readonly simulatedCycles: number;
}

/** What {@link Vm.run} reports. */
export interface VmRunResult {
  /** Why the run ended. */
  readonly end: VmEnd;
  /** The debug-exit status, when `end` is `exit`. */
  readonly status: number | undefined;
  /** Why the VMM stopped the guest (naming the address), when `end` is `ept-violation`. */
  readonly error?: string;
  /** Everything the guest wrote to the UART so far (bytes as Latin-1 characters). */
  readonly console: string;
  /** Instructions retired since boot, all vCPUs. */
  readonly instructions: number;
  /** Instructions the CPUs retired since boot by class, all vCPUs (see {@link VcpuRunResult}). */
  readonly instructionsByClass: Readonly<Record<RetiredClass, number>>;
  /** REP MOVS/STOS starts, elements and bytes moved since boot, all vCPUs (see {@link VcpuRunResult}). */
  readonly fastStrings: FastStringCounts;
  /** Conditional branches retired since boot, all vCPUs. */
  readonly conditionalBranches: number;
  /** Of those, the ones the branch-predictor model mispredicted. */
  readonly branchMispredictions: number;
  /** VMM services since boot, by kind, all vCPUs. */
  readonly exits: Readonly<ExitCounters>;
  /** External interrupts handed to the vCPUs since boot (timer expiries and IPIs). */
  readonly interrupts: number;
  /** The memory strategy. */
  readonly mmu: MmuStrategy;
  /** Number of vCPUs. */
  readonly vcpus: number;
  /** VM exits by SDM basic-exit-reason name (empty under `native`). */
  readonly exitsByReason: Readonly<Record<string, number>>;
  /** The guest RIPs that caused the most exits (at most 20), most first. */
  readonly exitsByRip: readonly RipExits[];
  /** Shadow-paging faults by kind (empty unless `spt`). */
  readonly shadowFaults: Readonly<Record<string, number>>;
  /** Memory references made by page walks (guest levels, EPT levels, shadow walks). */
  readonly walkReferences: number;
  /**
   * The same references by the cache level that served them in the walk-cache model (each
   * vCPU's L1 and L2, the VM's shared L3, or DRAM; `@vmkit/sim`'s `CacheHierarchy` with the
   * profile's geometry and page-table share); they sum to `walkReferences` and are what
   * simulated time prices them by.
   */
  readonly walkReferencesByLevel: Readonly<Record<MemoryLevel, number>>;
  /**
   * Paging-structure-cache hits of the MMU hardware, all vCPUs, by cached entry (`pde`,
   * `pdpte`, `pml4e`, `pml5e`: guest entries under `native`, shadow entries under `spt`, combined
   * guest entries under `ept`/`ept-lp`), plus under `ept`/`ept-lp` the EPT paging-structure
   * caches (`ept-pde` ... `ept-pml5e`) and guest-physical mapping hits (`ept-mappings`).
   */
  readonly pscHits: Readonly<Record<string, number>>;
  /** Translations served by the MMUs' TLBs, and those that needed a walk. */
  readonly tlb: TlbCounters;
  /**
   * Simulated cycles of the run: the vCPUs' busy cycles scheduled onto `pcpus` simulated pCPUs
   * by `@vmkit/sim`'s credit scheduler (time slices, context switches, overcommit).
   */
  readonly simulatedCycles: number;
  /** `simulatedCycles` in seconds at the profile's clock. */
  readonly simulatedSeconds: number;
  /** Per vCPU. */
  readonly perVcpu: readonly VcpuRunResult[];
  /** The simulated shadow lock: acquisitions, contention and waits (all zero unless `spt`). */
  readonly shadowLock: LockStats;
}

/** Options of {@link Vm.run}. */
export interface VmRunOptions {
  /** The budget of this call in instructions, all vCPUs together (default 100 000 000). */
  readonly maxInstructions?: number;
  /** Called with the instructions retired so far, at most once per {@link PROGRESS_INTERVAL}. */
  readonly onProgress?: (instructions: number) => void;
}

/** Instructions between two `onProgress` calls. */
export const PROGRESS_INTERVAL = 2_000_000;

const MAX_COMMAND = 1023;
const MAX_PCPUS = 64;

/** A {@link VmConfig} with its defaults applied and checked. */
export interface CheckedConfig {
  command: string;
  memoryMiB: number;
  quantum: number;
  mmu: MmuStrategy;
  vcpus: number;
  vcpuQuantum: number;
}

/**
 * Applies the defaults of a {@link VmConfig} and checks every field.
 *
 * @param config - the configuration
 * @returns the checked values
 * @throws VmmError `BAD_CONFIG` naming the field that is out of range
 */
export function checkConfig(config: VmConfig): CheckedConfig {
  const command = config.command ?? 'hello';
  const memoryMiB = config.memoryMiB ?? 128;
  const quantum = config.timerQuantum ?? 1_000_000;
  const mmu = config.mmu ?? 'native';
  const vcpus = config.vcpus ?? 1;
  const vcpuQuantum = config.vcpuQuantum ?? 10_000;
  if (command.length > MAX_COMMAND || !/^[\x20-\x7e]*$/.test(command))
    throw new VmmError(
      'BAD_CONFIG',
      `command must be printable ASCII of at most ${MAX_COMMAND} bytes`,
    );
  if (!Number.isInteger(memoryMiB) || memoryMiB < 4 || memoryMiB > 1024)
    throw new VmmError('BAD_CONFIG', `memoryMiB must be an integer in 4..1024, got ${memoryMiB}`);
  if (!Number.isSafeInteger(quantum) || quantum < 1)
    throw new VmmError('BAD_CONFIG', `timerQuantum must be a positive integer, got ${quantum}`);
  if (!MMU_STRATEGIES.includes(mmu as MmuStrategy))
    throw new VmmError(
      'BAD_CONFIG',
      `mmu must be one of ${MMU_STRATEGIES.join(', ')}, got ${String(mmu)}`,
    );
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > bootProtocol.maxCpus)
    throw new VmmError(
      'BAD_CONFIG',
      `vcpus must be an integer in 1..${bootProtocol.maxCpus}, got ${vcpus}`,
    );
  if (!Number.isSafeInteger(vcpuQuantum) || vcpuQuantum < 1)
    throw new VmmError('BAD_CONFIG', `vcpuQuantum must be a positive integer, got ${vcpuQuantum}`);
  const pcpus = config.pcpus ?? vcpus;
  if (!Number.isInteger(pcpus) || pcpus < 1 || pcpus > MAX_PCPUS)
    throw new VmmError('BAD_CONFIG', `pcpus must be an integer in 1..${MAX_PCPUS}, got ${pcpus}`);
  return { command, memoryMiB, quantum, mmu, vcpus, vcpuQuantum };
}
