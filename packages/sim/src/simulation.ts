import { CostModel, type EventKind } from './cost-model.js';
import { defaultProfile } from './default-profile.js';
import { checkCycles, SimError } from './errors.js';
import { type LockStats, SimLock } from './lock.js';
import { Metrics, type MetricsSnapshot } from './metrics.js';
import type { CostProfile, InstructionClass, MemoryLevel } from './profile.js';
import {
  CreditScheduler,
  type Dispatch,
  type PcpuStats,
  type RunOutcome,
  type VcpuOptions,
  type VcpuStats,
} from './scheduler.js';

/** Options of a {@link Simulation}. */
export interface SimulationOptions {
  /** Number of physical CPUs. */
  readonly pcpus: number;
  /** The cost profile; defaults to {@link defaultProfile}. */
  readonly profile?: CostProfile;
  /** Longest dispatch in cycles (how finely vCPUs on different pCPUs interleave). Defaults to the slice. */
  readonly quantum?: number;
  /** Overrides the profile's time slice (cycles). */
  readonly timeSlice?: number;
  /** Overrides the profile's accounting period (cycles). */
  readonly accountingPeriod?: number;
  /** Keep a scheduler trace. */
  readonly trace?: boolean;
}

/** Everything a run measured, as plain JSON. */
export interface SimulationReport {
  /** The profile's name. */
  readonly profile: string;
  /** Simulated cycles from start to the latest pCPU clock. */
  readonly elapsedCycles: number;
  /** The same in simulated seconds at the profile's clock. */
  readonly elapsedSeconds: number;
  /** Per pCPU. */
  readonly pcpus: readonly PcpuStats[];
  /** Per vCPU. */
  readonly vcpus: readonly VcpuStats[];
  /** Per lock, sorted by name. */
  readonly locks: readonly LockStats[];
  /** Counters and histograms. */
  readonly metrics: MetricsSnapshot;
}

/**
 * The simulation a VMM charges its work to: a {@link CostModel}, a {@link CreditScheduler}, named
 * {@link SimLock}s and {@link Metrics}, composed. The VMM asks for the next dispatch, runs the
 * vCPU and charges every event to it while it runs (`charge(vcpu, 'vmexit.io')`), then completes
 * the dispatch with an outcome; the cycles charged are the cycles the vCPU used.
 *
 * Every charge also counts `event.<kind>` and `cycles.<kind>` in the metrics, so a run's exit
 * mix and where its time went come out of the same calls.
 *
 * @example
 * ```ts
 * const sim = new Simulation({ pcpus: 2, quantum: 100_000 });
 * const v = sim.addVcpu({ name: 'vm0.0' });
 * const d = sim.next()!;
 * sim.instructions(v, 'alu', 1000);
 * sim.charge(v, 'vmexit.io');
 * sim.complete({ kind: 'continue' });
 * ```
 */
export class Simulation {
  /** The cost model prices come from. */
  readonly model: CostModel;
  /** The scheduler (also usable directly for statistics). */
  readonly scheduler: CreditScheduler;
  /** The metrics every charge feeds. */
  readonly metrics = new Metrics();
  readonly #locks = new Map<string, SimLock>();
  #open: Dispatch | null = null;
  #used = 0;

  /**
   * @param options - pCPUs, profile and scheduler overrides
   */
  constructor(options: SimulationOptions) {
    const profile = options.profile ?? defaultProfile;
    this.model = new CostModel(profile);
    const timeSlice = options.timeSlice ?? profile.scheduler.timeSlice.value;
    this.scheduler = new CreditScheduler({
      pcpus: options.pcpus,
      timeSlice,
      accountingPeriod: options.accountingPeriod ?? profile.scheduler.accountingPeriod.value,
      quantum: options.quantum ?? timeSlice,
      contextSwitch: profile.scheduler.contextSwitch.value,
      defaultWeight: profile.scheduler.defaultWeight.value,
      trace: options.trace ?? false,
    });
  }

  /**
   * Adds a vCPU.
   *
   * @param options - name and weight
   * @returns its id
   */
  addVcpu(options: VcpuOptions = {}): number {
    return this.scheduler.addVcpu(options);
  }

  /**
   * The next dispatch (see {@link CreditScheduler.next}).
   *
   * @returns the dispatch, or null when every vCPU is blocked for good
   */
  next(): Dispatch | null {
    const d = this.scheduler.next();
    this.#open = d;
    this.#used = 0;
    if (d !== null) {
      const frontier = this.scheduler.frontier;
      for (const lock of this.#locks.values()) lock.prune(frontier);
    }
    return d;
  }

  /** The open dispatch, or null. */
  get dispatch(): Dispatch | null {
    return this.#open;
  }

  /**
   * Cycles charged to the open dispatch so far.
   *
   * @returns cycles
   */
  get used(): number {
    return this.#used;
  }

  /**
   * Whether the open dispatch has used its budget (the VMM should then complete it).
   *
   * @returns true when `used >= budget`
   */
  get budgetSpent(): boolean {
    return this.#open !== null && this.#used >= this.#open.budget;
  }

  /**
   * The simulated time of a running vCPU: its dispatch start plus what it has been charged.
   *
   * @param vcpu - the running vCPU
   * @returns the cycle
   * @throws {@link SimError} `NOT_RUNNING` if it is not the open dispatch's vCPU
   */
  now(vcpu: number): number {
    return this.#running(vcpu).start + this.#used;
  }

  /**
   * Charges `count` events of one kind to a running vCPU.
   *
   * @param vcpu - the running vCPU
   * @param kind - the event
   * @param count - how many (default 1)
   * @returns the cycles charged
   */
  charge(vcpu: number, kind: EventKind, count = 1): number {
    this.#running(vcpu);
    checkCycles(count, 'count');
    const cycles = this.model.cost(kind) * count;
    this.#used += cycles;
    this.metrics.count(`event.${kind}`, count);
    this.metrics.count(`cycles.${kind}`, cycles);
    return cycles;
  }

  /**
   * Charges raw cycles (already priced by the caller) to a running vCPU under a metrics name.
   *
   * @param vcpu - the running vCPU
   * @param cycles - a non-negative integer
   * @param what - the metrics name the cycles are counted under (`cycles.<what>`)
   * @returns the cycles charged
   */
  chargeCycles(vcpu: number, cycles: number, what = 'other'): number {
    this.#running(vcpu);
    checkCycles(cycles, 'cycles');
    this.#used += cycles;
    this.metrics.count(`cycles.${what}`, cycles);
    return cycles;
  }

  /**
   * Charges guest instructions of one class.
   *
   * @param vcpu - the running vCPU
   * @param cls - the class
   * @param count - how many
   * @returns the cycles charged
   */
  instructions(vcpu: number, cls: InstructionClass, count = 1): number {
    const c = this.chargeCycles(vcpu, this.model.instructions(cls, count), `insn.${cls}`);
    this.metrics.count(`insn.${cls}`, count);
    return c;
  }

  /**
   * Charges memory references served from one level (e.g. page-walk references, data misses).
   *
   * @param vcpu - the running vCPU
   * @param level - where they hit
   * @param count - how many
   * @returns the cycles charged
   */
  memory(vcpu: number, level: MemoryLevel, count = 1): number {
    const c = this.chargeCycles(vcpu, this.model.memoryReferences(level, count), `mem.${level}`);
    this.metrics.count(`mem.${level}`, count);
    return c;
  }

  /**
   * The lock of that name, created on first use with the profile's handoff cost.
   *
   * @param name - e.g. `shadow`
   * @returns the lock
   */
  lock(name: string): SimLock {
    let l = this.#locks.get(name);
    if (l === undefined) {
      l = new SimLock(name, this.model.profile.locks.handoff.value);
      this.#locks.set(name, l);
    }
    return l;
  }

  /**
   * Runs a critical section of `hold` cycles under a lock for a running vCPU: waits for the lock
   * in simulated time, then holds it; the wait and the hold are both charged to the vCPU (a
   * spinning hypervisor thread keeps its pCPU). Records `lock.<name>.wait` in the metrics.
   *
   * @param vcpu - the running vCPU
   * @param name - the lock
   * @param hold - critical-section length in cycles (e.g. `model.cost('shadow.pte-write')`)
   * @returns the cycles waited
   */
  withLock(vcpu: number, name: string, hold: number): number {
    const grant = this.lock(name).acquire(this.now(vcpu), hold);
    this.#used += grant.wait + hold;
    this.metrics.count(`cycles.lock.${name}.wait`, grant.wait);
    this.metrics.count(`cycles.lock.${name}.hold`, hold);
    this.metrics.observe(`lock.${name}.wait`, grant.wait);
    return grant.wait;
  }

  /**
   * Ends the open dispatch with the cycles charged to it.
   *
   * @param outcome - what the vCPU does next
   */
  complete(outcome: RunOutcome): void {
    const d = this.#open;
    if (d === null) throw new SimError('BAD_STATE', 'no open dispatch to complete');
    this.scheduler.complete(d, this.#used, outcome);
    this.#open = null;
    this.#used = 0;
  }

  /**
   * Wakes a blocked vCPU. Inside a dispatch the wake-up happens at the running vCPU's current
   * cycle (an IPI it sends); outside, pass `at`.
   *
   * @param vcpu - the vCPU to wake
   * @param at - the cycle; defaults to the running vCPU's now
   * @returns whether it was blocked
   */
  wake(vcpu: number, at?: number): boolean {
    const t = at ?? (this.#open !== null ? this.#open.start + this.#used : undefined);
    if (t === undefined) throw new SimError('BAD_STATE', 'wake() outside a dispatch needs `at`');
    return this.scheduler.wake(vcpu, t);
  }

  /**
   * Everything measured so far, as plain JSON.
   *
   * @returns the report
   */
  report(): SimulationReport {
    const s = this.scheduler;
    const pcpus: PcpuStats[] = [];
    for (let i = 0; i < s.pcpuCount; i++) pcpus.push(s.pcpuStats(i));
    const vcpus: VcpuStats[] = [];
    for (let i = 0; i < s.vcpuCount; i++) vcpus.push(s.vcpuStats(i));
    const locks = [...this.#locks.keys()]
      .sort()
      .map((k) => (this.#locks.get(k) as SimLock).stats());
    return {
      profile: this.model.profile.name,
      elapsedCycles: s.elapsed,
      elapsedSeconds: this.model.secondsFromCycles(s.elapsed),
      pcpus,
      vcpus,
      locks,
      metrics: this.metrics.toJSON(),
    };
  }

  #running(vcpu: number): Dispatch {
    const d = this.#open;
    if (d === null || d.vcpu !== vcpu) {
      throw new SimError(
        'NOT_RUNNING',
        `vCPU ${vcpu} is not running: charge only the dispatched vCPU`,
      );
    }
    return d;
  }
}
