import { readFileSync } from 'node:fs';
import {
  CodeCache,
  CpuFault,
  RETIRED_CLASSES,
  type RetiredClass,
  type StopReason,
} from '@vmkit/cpu';
import { bootProtocol, guestImagePath } from '@vmkit/guest';
import { GuestMemoryError, GuestPhysicalMemory, type MmioHandler } from '@vmkit/memory';
import { ShadowFaultKind } from '@vmkit/shadow-paging';
import { CostModel, MEMORY_LEVELS, type MemoryLevel, SimLock } from '@vmkit/sim';
import { enterLongMode, writeBootStructures } from './boot.js';
import { vmkitCpuid } from './cpuid.js';
import { DebugExit } from './debug-exit.js';
import { VmmError } from './errors.js';
import { type ExitEnd, ExitHandler } from './exit-handler.js';
import { ExitLog } from './exit-log.js';
import { HypercallTable } from './hypercalls.js';
import { checkImage, loadImage } from './loader.js';
import { PioBus, type PortSize } from './pio-bus.js';
import { priceVcpu } from './pricing.js';
import { scheduleRun } from './schedule.js';
import { type MemoryStrategy, memoryStrategy } from './strategy.js';
import { Uart16550 } from './uart16550.js';
import { Vcpu } from './vcpu.js';
import {
  checkConfig,
  type ExitCounters,
  PROGRESS_INTERVAL,
  type VcpuRunResult,
  type VmConfig,
  type VmEnd,
  type VmRunOptions,
  type VmRunResult,
} from './vm-config.js';

const MIB = 0x10_0000;
const PAGE = 0x1000;
const MAX_PHY_ADDR = 36;
/** #UD, SDM Vol. 3A Table 6-1. */
const UD = 6;
/** The VMCALL encoding, SDM Vol. 2B "VMCALL". */
const VMCALL = [0x0f, 0x01, 0xc1] as const;
/** RFLAGS.IF, SDM Vol. 1 §3.4.3. */
const IF = 0x200;
/** Instructions the vCPUs' shared code cache keeps (the CPU's default for one CPU, doubled). */
const CODE_CACHE_SIZE = 32768;

/** The writes of `GuestPhysicalMemory` and the byte range each one reaches, from its arguments. */
const WRITES: Readonly<Record<string, (args: readonly unknown[]) => readonly [number, number]>> = {
  write8: (a) => [a[0] as number, 1],
  write16: (a) => [a[0] as number, 2],
  write32: (a) => [a[0] as number, 4],
  write64: (a) => [a[0] as number, 8],
  writeBytes: (a) => [a[0] as number, (a[1] as Uint8Array).length],
  fill: (a) => [a[0] as number, a[1] as number],
  copy: (a) => [a[0] as number, a[2] as number],
};

/**
 * Guest RAM as the host writes it: the same memory, but every write through this view is also
 * reported to the vCPUs' code cache, which drops the cached blocks whose instruction bytes it
 * overwrote (a hypercall handler or a mechanism patching guest code, as DMP does). The vCPUs'
 * own stores are reported by their CPU memories; the MMU hardware reads RAM directly.
 */
function hostView(ram: GuestPhysicalMemory, code: CodeCache): GuestPhysicalMemory {
  return new Proxy(ram, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const range = typeof property === 'string' ? WRITES[property] : undefined;
      if (range === undefined) return value.bind(target);
      return (...args: unknown[]) => {
        const result: unknown = value.apply(target, args);
        const [at, length] = range(args);
        code.noteStore(at, length);
        return result;
      };
    },
  });
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
  /**
   * Guest-physical memory: RAM from 0 (at the same host-physical addresses). Writes through it
   * drop the vCPUs' cached code they overwrite, so the host may patch guest code here.
   */
  readonly memory: GuestPhysicalMemory;
  /** The compiled code the vCPUs share, keyed by physical address (with its `stats`). */
  readonly code: CodeCache;
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
  /** The instruction count at which the current `run` call's budget ends. */
  private limit = 0;
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
    const ram = new GuestPhysicalMemory({ ram: [{ base: 0, size: ramSize }] });
    this.code = new CodeCache(CODE_CACHE_SIZE);
    this.memory = hostView(ram, this.code);
    // No CPU exists yet, so nothing is cached: the loader and the boot structures write RAM.
    loadImage(ram, image);
    const bootInfo = writeBootStructures(ram, {
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
        const at = priceVcpu(this.costs, vcpu, vcpu.translation.walkCaches.served);
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
      // The slice `runTurn` would give the vCPU now: string I/O stops where the CPU would.
      budgetLeft: (vcpu) => {
        let left = Math.min(this.roundEnd - vcpu.clock, this.limit - this.instructions);
        const deadline = vcpu.apic.deadline;
        if (deadline !== undefined) left = Math.min(left, deadline - vcpu.clock);
        return left;
      },
    });
    this.strategy = memoryStrategy(mmu, ram, ramSize, this.costs.profile);
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
        codeCache: this.code,
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
   * Places a memory-mapped device in guest-physical memory. The guest reaches it through its
   * own page tables (the boot map covers RAM only). Under `native` its accesses go straight to
   * `handler`; under `spt`, `ept` and `ept-lp` they exit (a shadow fault on a frame with no RAM,
   * an EPT violation) and the VMM emulates the instruction with its accesses to that page sent
   * to `handler`. An access the VMM cannot emulate (a fetch, an access crossing out of the
   * device's page, a device access during event delivery) is #MC for the guest, as on the bare
   * machine model.
   *
   * @param region - `base` and `size` (page-aligned, outside RAM and other devices), the
   *   handler, and an optional name
   * @throws VmmError `MMIO_CONFLICT` for a region that is misaligned, overlaps RAM or another
   *   device, or lies beyond the guest's MAXPHYADDR
   * @example
   * ```ts
   * vm.addMmio({ base: 0xfeb0_0000, size: 0x1000, handler: device });
   * ```
   */
  addMmio(region: { base: number; size: number; handler: MmioHandler; name?: string }): void {
    const { base, size } = region;
    if (
      !Number.isSafeInteger(base) ||
      !Number.isSafeInteger(size) ||
      base % PAGE !== 0 ||
      size <= 0 ||
      size % PAGE !== 0 ||
      base + size > 2 ** MAX_PHY_ADDR
    )
      throw new VmmError(
        'MMIO_CONFLICT',
        `an MMIO region must be page-aligned, non-empty and below 2^${MAX_PHY_ADDR}: base 0x${base.toString(16)}, size 0x${size.toString(16)}`,
      );
    try {
      this.memory.addMmio(region);
    } catch (e) {
      if (e instanceof GuestMemoryError)
        throw new VmmError('MMIO_CONFLICT', `MMIO region refused: ${e.message}`, { cause: e });
      throw e;
    }
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
    this.limit = limit;
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
    const byLevel = new Float64Array(MEMORY_LEVELS.length);
    const pscHits: Record<string, number> = {};
    let hits = 0;
    let misses = 0;
    let interrupts = 0;
    const perVcpu: VcpuRunResult[] = [];
    for (const v of vcpus) {
      walkReferences += v.translation.walkReferences();
      const served = v.translation.walkCaches.served;
      for (let i = 0; i < byLevel.length; i++) byLevel[i] = (byLevel[i] ?? 0) + (served[i] ?? 0);
      for (const [name, n] of Object.entries(v.translation.pscHits()))
        pscHits[name] = (pscHits[name] ?? 0) + n;
      const tlb = v.translation.tlb();
      hits += tlb.hits;
      misses += tlb.misses;
      interrupts += v.interrupts;
      perVcpu.push({
        id: v.id,
        instructions: v.instructions,
        instructionsByClass: v.cpu.retiredByClass,
        fastStrings: v.cpu.fastStrings,
        conditionalBranches: v.cpu.predictor.branches,
        branchMispredictions: v.cpu.predictor.mispredictions,
        exits: v.exits.total,
        simulatedCycles: priceVcpu(this.costs, v, served),
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
      instructionsByClass: sumClasses(perVcpu),
      fastStrings: {
        starts: perVcpu.reduce((n, p) => n + p.fastStrings.starts, 0),
        elements: perVcpu.reduce((n, p) => n + p.fastStrings.elements, 0),
        bytes: perVcpu.reduce((n, p) => n + p.fastStrings.bytes, 0),
      },
      conditionalBranches: perVcpu.reduce((n, p) => n + p.conditionalBranches, 0),
      branchMispredictions: perVcpu.reduce((n, p) => n + p.branchMispredictions, 0),
      exits: { ...this.exitCounts },
      interrupts,
      mmu: this.strategy.kind,
      vcpus: vcpus.length,
      exitsByReason: ExitLog.byName(logs),
      exitsByRip: ExitLog.topRips(logs),
      shadowFaults: this.shadowFaultsByKind(),
      walkReferences,
      walkReferencesByLevel: Object.fromEntries(
        MEMORY_LEVELS.map((level, i) => [level, byLevel[i]!]),
      ) as Record<MemoryLevel, number>,
      pscHits,
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
          // An INS element's store can still fault (a device refusing it): delivered here.
          const s = cpu.completeIn(this.pio.read(stop.port, stop.size as PortSize));
          return s?.kind === 'triple-fault' ? 'triple-fault' : undefined;
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

// The per-class instruction counts of all vCPUs together.
function sumClasses(perVcpu: readonly VcpuRunResult[]): Record<RetiredClass, number> {
  const out = Object.fromEntries(RETIRED_CLASSES.map((c) => [c, 0])) as Record<
    RetiredClass,
    number
  >;
  for (const p of perVcpu) for (const c of RETIRED_CLASSES) out[c] += p.instructionsByClass[c];
  return out;
}
