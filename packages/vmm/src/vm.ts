import { readFileSync } from 'node:fs';
import { CpuFault, type StopReason } from '@vmkit/cpu';
import { bootProtocol, guestImagePath } from '@vmkit/guest';
import { GuestPhysicalMemory } from '@vmkit/memory';
import { ShadowFaultKind } from '@vmkit/shadow-paging';
import { CostModel, type CostProfile, type LockStats, SimLock } from '@vmkit/sim';
import { enterLongMode, writeBootStructures } from './boot.js';
import { vmkitCpuid } from './cpuid.js';
import { DebugExit } from './debug-exit.js';
import { VmmError } from './errors.js';
import { type ExitEnd, ExitHandler } from './exit-handler.js';
import { ExitLog, type RipExits } from './exit-log.js';
import { HypercallTable } from './hypercalls.js';
import { checkImage, loadImage } from './loader.js';
import { PioBus, type PortSize } from './pio-bus.js';
import { priceVcpu } from './pricing.js';
import { scheduleRun } from './schedule.js';
import {
  type MemoryStrategy,
  MMU_STRATEGIES,
  type MmuStrategy,
  memoryStrategy,
  type TlbCounters,
} from './strategy.js';
import { Uart16550 } from './uart16550.js';
import { Vcpu } from './vcpu.js';

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

const MIB = 0x10_0000;
const MAX_COMMAND = 1023;
const MAX_PHY_ADDR = 36;
const MAX_PCPUS = 64;
/** #UD, SDM Vol. 3A Table 6-1. */
const UD = 6;
/** The VMCALL encoding, SDM Vol. 2B "VMCALL". */
const VMCALL = [0x0f, 0x01, 0xc1] as const;
/** RFLAGS.IF, SDM Vol. 1 §3.4.3. */
const IF = 0x200;

interface CheckedConfig {
  command: string;
  memoryMiB: number;
  quantum: number;
  mmu: MmuStrategy;
  vcpus: number;
  vcpuQuantum: number;
}

function checkConfig(config: VmConfig): CheckedConfig {
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

/**
 * A virtual machine booting `@vmkit/guest`'s protocol: guest RAM, vCPUs on the interpreter
 * behind the chosen memory-virtualization strategy, a PIO bus with a 16550 UART and the
 * debug-exit device, an x2APIC with a deterministic timer per vCPU, and a run loop that serves
 * the CPU's exits and counts them.
 *
 * @example
 * ```ts
 * const vm = new Vm({ command: 'hello', mmu: 'ept' });
 * const r = vm.run({ maxInstructions: 20_000_000 });
 * console.log(r.end, r.status, r.console, r.exitsByReason);
 * ```
 */
export class Vm {
  /** Guest-physical memory: RAM from 0 (at the same host-physical addresses). */
  readonly memory: GuestPhysicalMemory;
  /** The memory strategy. */
  readonly strategy: MemoryStrategy;
  /** The vCPUs, by id. */
  readonly vcpus: readonly Vcpu[];
  /** The port-I/O bus. */
  readonly pio = new PioBus();
  /** The console UART (at the protocol's 0x3F8). */
  readonly uart: Uart16550;
  /** The debug-exit device (at the protocol's 0xF4). */
  readonly debugExit = new DebugExit();
  /** The VMCALL table: `print` and `exit` built in; register more numbers here. */
  readonly hypercalls: HypercallTable;
  /** The cost model simulated time is priced from. */
  readonly costs: CostModel;
  /** The simulated shadow-paging lock (Xen's shadow lock, KVM's mmu_lock; used under `spt`). */
  readonly shadowLock: SimLock;
  /** Physical CPUs of the simulated host. */
  readonly pcpus: number;
  private hypercallExit: number | undefined;
  private error: string | undefined;
  private readonly exitCounts: ExitCounters = { io: 0, msr: 0, hlt: 0, exceptions: 0, vmcall: 0 };
  private output = '';
  private last: VmRunResult | undefined;
  /** Instructions a vCPU runs per turn of the interleaving. */
  private readonly quantum: number;
  /** The VM clock at which the current round of turns ends. */
  private roundEnd: number;
  /** Index of the vCPU whose turn it is (= vcpus.length between rounds). */
  private turn = 0;
  private progress: ((instructions: number) => void) | undefined;
  private nextProgress = 0;
  private readonly sink: ((text: string) => void) | undefined;
  private readonly exitHandler: ExitHandler;

  /**
   * Creates the VM and boots it to the protocol's entry state (nothing runs yet).
   *
   * @param config - image, command line, RAM, timer quantum, console sink, strategy, vCPUs
   * @throws VmmError `BAD_CONFIG` for bad options, `BAD_IMAGE` for an image that cannot boot
   */
  constructor(config: VmConfig = {}) {
    const { command, memoryMiB, quantum, mmu, vcpus, vcpuQuantum } = checkConfig(config);
    this.quantum = vcpuQuantum;
    this.roundEnd = vcpuQuantum;
    this.costs = new CostModel(config.profile);
    this.shadowLock = new SimLock('shadow', this.costs.profile.locks.handoff.value);
    this.pcpus = config.pcpus ?? vcpus;
    const ramSize = memoryMiB * MIB;
    const image = checkImage(config.image ?? new Uint8Array(readFileSync(guestImagePath)), ramSize);
    this.memory = new GuestPhysicalMemory({ ram: [{ base: 0, size: ramSize }] });
    loadImage(this.memory, image);
    const bootInfo = writeBootStructures(this.memory, {
      ramSize,
      command,
      uartBase: bootProtocol.uartPort,
      debugExitBase: bootProtocol.debugExitPort,
      cpuCount: vcpus,
    });

    this.sink = config.onConsole;
    this.uart = new Uart16550((b) => this.emit(b));
    this.pio.register(bootProtocol.uartPort, 8, this.uart);
    this.pio.register(bootProtocol.debugExitPort, 4, this.debugExit);
    this.hypercalls = new HypercallTable((bytes) => {
      for (const b of bytes) this.emit(b);
    });

    this.exitHandler = new ExitHandler({
      pio: this.pio,
      hypercalls: this.hypercalls,
      memory: this.memory,
      maxPhyAddr: MAX_PHY_ADDR,
      exited: () => this.debugExit.status !== undefined,
      hypercallExit: (status) => {
        this.hypercallExit = status;
      },
      shadowWork: (vcpu, work) => {
        // The lock is requested at the vCPU's simulated time and held for the work's cost.
        const at = priceVcpu(this.costs, vcpu, vcpu.translation.walkReferences());
        vcpu.lockWait += this.shadowLock.acquire(at, this.costs.cost(`shadow.${work}`)).wait;
      },
      stopWith: (message) => {
        this.error = message;
      },
      count: (kind) => {
        this.exitCounts[kind]++;
      },
      halt: (vcpu) => this.halt(vcpu),
      serve: (vcpu, stop) => this.serve(vcpu, stop) as ExitEnd,
    });
    this.strategy = memoryStrategy(mmu, this.memory, ramSize);
    const list: Vcpu[] = [];
    for (let id = 0; id < vcpus; id++) {
      const vcpu = new Vcpu({
        id,
        strategy: this.strategy,
        maxPhyAddr: MAX_PHY_ADDR,
        cpuid: vmkitCpuid(MAX_PHY_ADDR, id),
        timerQuantum: quantum,
        virtualized: mmu !== 'native',
        route: (destination, vector) => {
          const target = list[destination];
          if (target === undefined) return false;
          target.apic.accept(vector);
          return true;
        },
        // #UD stops the CPU so the VMM can recognise VMCALL (which the interpreter does not
        // execute: a VM exit in VMX terms, SDM Vol. 3C §25.1.3); everything else is delivered.
        onException: (_vcpu, vector) => {
          if (vector === UD) return true;
          this.exitCounts.exceptions++;
          return false;
        },
      });
      enterLongMode(vcpu.cpu, image.entry, bootInfo + bootProtocol.bootInfoSize * id);
      vcpu.enterGuest(mmu);
      list.push(vcpu);
    }
    this.vcpus = list;
  }

  /** Appends one console byte (UART or print hypercall) and forwards it. */
  private emit(byte: number): void {
    const c = String.fromCharCode(byte);
    this.output += c;
    this.sink?.(c);
  }

  /** The VM clock of vCPU 0: instructions retired plus idle time skipped in HLT. */
  get clock(): number {
    return this.vcpus[0]!.clock;
  }

  /** Instructions retired by all vCPUs. */
  get instructions(): number {
    let n = 0;
    for (const v of this.vcpus) n += v.instructions;
    return n;
  }

  /**
   * Runs the guest until it exits, idles for good, shuts down, or `maxInstructions` more
   * instructions have retired.
   *
   * @param options - the budget of this call and a progress callback
   * @returns the end, status, console output and counters since boot
   * @throws VmmError `BAD_RUN` for a bad budget or when the guest already ended
   */
  run(options: VmRunOptions = {}): VmRunResult {
    const budget = options.maxInstructions ?? 100_000_000;
    if (!Number.isSafeInteger(budget) || budget < 1)
      throw new VmmError('BAD_RUN', `maxInstructions must be a positive integer, got ${budget}`);
    if (this.last !== undefined && this.last.end !== 'budget')
      throw new VmmError('BAD_RUN', `the guest already ended (${this.last.end})`);
    const limit = this.instructions + budget;
    this.progress = options.onProgress;
    this.nextProgress = (Math.floor(this.instructions / PROGRESS_INTERVAL) + 1) * PROGRESS_INTERVAL;
    const vcpus = this.vcpus;
    let end: VmEnd;
    for (;;) {
      if (this.turn === vcpus.length) {
        const next = this.nextRoundEnd();
        if (next === undefined) {
          end = 'idle';
          break;
        }
        this.turn = 0;
        this.roundEnd = next;
      }
      const outcome = this.runTurn(vcpus[this.turn]!, limit);
      if (outcome === undefined) this.turn++;
      else {
        end = outcome;
        break;
      }
    }
    this.progress = undefined;
    this.last = this.result(end);
    return this.last;
  }

  /**
   * The end of the next round of the interleaving: one quantum on, or, when every vCPU sleeps,
   * one quantum past the first timer deadline that will wake one (idle time costs nothing).
   *
   * @returns the round's end on the VM clock, or undefined when nothing can ever wake a vCPU
   */
  private nextRoundEnd(): number | undefined {
    let wake = Number.POSITIVE_INFINITY;
    for (const v of this.vcpus) {
      if (v.state === 'running') return this.roundEnd + this.quantum;
      if (v.state === 'stopped') continue;
      if (v.cpu.pendingInterrupt !== undefined || v.apic.pending.length > 0)
        return this.roundEnd + this.quantum;
      const d = v.apic.deadline;
      if (d !== undefined && v.apic.timerDelivers()) wake = Math.min(wake, d);
    }
    if (wake === Number.POSITIVE_INFINITY) return undefined;
    return Math.max(this.roundEnd, wake) + this.quantum;
  }

  /**
   * Runs one vCPU's turn: until its clock reaches the round's end (a sleeping vCPU's clock
   * moves on as idle time, waking at its timer deadline or when an interrupt is pending).
   *
   * @returns how the run ends, `budget` when the instruction budget ran out mid-turn (the next
   *   `run` resumes this turn), or undefined when the turn is over
   */
  private runTurn(vcpu: Vcpu, limit: number): VmEnd | undefined {
    const cpu = vcpu.cpu;
    const roundEnd = this.roundEnd;
    while (vcpu.clock < roundEnd) {
      const total = this.instructions;
      if (total >= limit) return 'budget';
      vcpu.apic.advance(vcpu.clock);
      vcpu.deliverPending();
      if (vcpu.state === 'halted' && cpu.pendingInterrupt !== undefined) vcpu.state = 'running';
      if (vcpu.state !== 'running') {
        let until = roundEnd;
        const d = vcpu.apic.deadline;
        if (vcpu.state === 'halted' && d !== undefined && d < until) until = d;
        vcpu.idle += Math.max(1, until - vcpu.clock);
        continue;
      }
      let slice = Math.min(roundEnd - vcpu.clock, limit - total);
      const deadline = vcpu.apic.deadline;
      if (deadline !== undefined) slice = Math.min(slice, deadline - vcpu.clock);
      const stop = cpu.run(Math.max(1, slice));
      if (this.progress !== undefined && this.instructions >= this.nextProgress) {
        const now = this.instructions;
        this.progress(now);
        this.nextProgress = (Math.floor(now / PROGRESS_INTERVAL) + 1) * PROGRESS_INTERVAL;
      }
      if (stop.kind === 'budget') continue;
      const ended = this.serve(vcpu, stop);
      if (ended !== undefined) return ended;
    }
    return undefined;
  }

  private result(end: VmEnd): VmRunResult {
    const vcpus = this.vcpus;
    let walkReferences = 0;
    let hits = 0;
    let misses = 0;
    let interrupts = 0;
    const perVcpu: VcpuRunResult[] = [];
    for (const v of vcpus) {
      const walks = v.translation.walkReferences();
      walkReferences += walks;
      const tlb = v.translation.tlb();
      hits += tlb.hits;
      misses += tlb.misses;
      interrupts += v.interrupts;
      perVcpu.push({
        id: v.id,
        instructions: v.instructions,
        exits: v.exits.total,
        simulatedCycles: priceVcpu(this.costs, v, walks),
      });
    }
    // The vCPUs' busy cycles scheduled onto the simulated pCPUs (@vmkit/sim's scheduler).
    const schedule = scheduleRun(
      this.costs.profile,
      this.pcpus,
      perVcpu.map((p) => p.simulatedCycles),
    );
    const simulatedCycles = schedule.elapsedCycles;
    const logs = vcpus.map((v) => v.exits);
    return {
      end,
      status: end === 'exit' ? (this.hypercallExit ?? this.debugExit.status) : undefined,
      ...(this.error !== undefined ? { error: this.error } : {}),
      console: this.output,
      instructions: this.instructions,
      exits: { ...this.exitCounts },
      interrupts,
      mmu: this.strategy.kind,
      vcpus: vcpus.length,
      exitsByReason: ExitLog.byName(logs),
      exitsByRip: ExitLog.topRips(logs),
      shadowFaults: this.shadowFaultsByKind(),
      walkReferences,
      tlb: { hits, misses },
      simulatedCycles,
      simulatedSeconds: schedule.elapsedSeconds,
      shadowLock: this.shadowLock.stats(),
      perVcpu,
    };
  }

  /** Shadow faults of all vCPUs by kind name (`spt` only). */
  private shadowFaultsByKind(): Record<string, number> {
    if (this.strategy.kind !== 'spt') return {};
    const out: Record<string, number> = {};
    for (const [name, kind] of Object.entries(ShadowFaultKind)) {
      let n = 0;
      for (const v of this.vcpus) n += v.shadowFaults[kind]!;
      out[name.toLowerCase().replace(/_/g, '-')] = n;
    }
    return out;
  }

  /** Serves one stop of a vCPU; returns how the run ends, or undefined to go on. */
  private serve(vcpu: Vcpu, stop: Exclude<StopReason, { kind: 'budget' }>): VmEnd | undefined {
    const cpu = vcpu.cpu;
    switch (stop.kind) {
      case 'io':
        this.exitCounts.io++;
        if (stop.direction === 'in') {
          cpu.completeIn(this.pio.read(stop.port, stop.size as PortSize));
          return undefined;
        }
        this.pio.write(stop.port, stop.size as PortSize, stop.value ?? 0);
        return this.debugExit.status !== undefined ? 'exit' : undefined;
      case 'msr':
        this.exitCounts.msr++;
        if (stop.direction === 'read') cpu.completeRdmsr(vcpu.apic.readMsr(stop.index, vcpu.clock));
        else vcpu.apic.writeMsr(stop.index, stop.value ?? 0n, vcpu.clock);
        return undefined;
      case 'hlt':
        this.exitCounts.hlt++;
        return this.halt(vcpu);
      case 'triple-fault':
        return 'triple-fault';
      case 'exception':
        return this.serveException(vcpu, stop.vector, stop.errorCode, stop.address);
      case 'vm-exit':
        return this.exitHandler.handle(vcpu, stop.info);
    }
  }

  /** An intercepted exception (#UD only): a VMCALL at CPL 0 is served, anything else delivered. */
  private serveException(
    vcpu: Vcpu,
    vector: number,
    errorCode: number | undefined,
    address: number | undefined,
  ): VmEnd | undefined {
    const cpu = vcpu.cpu;
    if (vector === UD && cpu.cpl === 0 && this.atVmcall(vcpu)) {
      this.exitCounts.vmcall++;
      const outcome = this.hypercalls.call(cpu.getReg('rax'), {
        args: [cpu.getReg('rdi'), cpu.getReg('rsi'), cpu.getReg('rdx'), cpu.getReg('r10')],
        memory: this.memory,
      });
      if ('exit' in outcome) {
        this.hypercallExit = outcome.exit >>> 0;
        return 'exit';
      }
      cpu.setReg('rax', BigInt.asUintN(64, outcome.result));
      cpu.rip = cpu.rip + BigInt(VMCALL.length);
      // The VMCALL completed: it retires for the guest, as under the VMX strategies.
      vcpu.emulated++;
      return undefined;
    }
    // The guest sees the exception as if nothing had intercepted it (a VMCALL at CPL 3 is #UD,
    // as the protocol allows hypercalls from CPL 0 only).
    this.exitCounts.exceptions++;
    const stop = cpu.injectException(vector, errorCode, address);
    return stop?.kind === 'triple-fault' ? 'triple-fault' : undefined;
  }

  /** Whether the instruction at RIP is VMCALL (0F 01 C1, SDM Vol. 2B). */
  private atVmcall(vcpu: Vcpu): boolean {
    const rip = Number(BigInt.asIntN(64, vcpu.cpu.rip));
    try {
      for (let i = 0; i < VMCALL.length; i++)
        if (vcpu.linear.fetch8(rip + i, 0) !== VMCALL[i]) return false;
    } catch (e) {
      if (e instanceof CpuFault) return false;
      throw e;
    }
    return true;
  }

  /**
   * HLT: with IF = 1 the vCPU sleeps until an interrupt (its clock then moves on as idle time,
   * which costs no instructions); with IF = 0 nothing this VMM sends can wake it (only NMI,
   * INIT or SMI would, SDM Vol. 2A "HLT"), so it stops for good.
   */
  private halt(vcpu: Vcpu): undefined {
    vcpu.state = (vcpu.cpu.flags & IF) === 0 ? 'stopped' : 'halted';
    return undefined;
  }
}
