import { checkCycles, SimError } from './errors.js';

/** Options of a {@link CreditScheduler}. All durations are in cycles. */
export interface SchedulerOptions {
  /** Number of physical CPUs, at least 1. */
  readonly pcpus: number;
  /** Time slice: how long a vCPU keeps a pCPU before others of its priority get a turn. */
  readonly timeSlice: number;
  /** Credit accounting period: every period, each active vCPU earns its weighted share. */
  readonly accountingPeriod: number;
  /**
   * Longest single dispatch; the VMM runs a vCPU at most this long before returning to the
   * scheduler, which is where vCPUs on different pCPUs interleave. Defaults to `timeSlice`.
   */
  readonly quantum?: number;
  /** Cycles a pCPU spends switching from one vCPU to another. Defaults to 0. */
  readonly contextSwitch?: number;
  /** Weight of vCPUs that do not set one. Defaults to 256, Xen's default. */
  readonly defaultWeight?: number;
  /** Keep a trace of every decision (see {@link CreditScheduler.trace}). Defaults to false. */
  readonly trace?: boolean;
}

/** Options of one vCPU. */
export interface VcpuOptions {
  /** A name for reports, e.g. `vm0.vcpu1`. Defaults to `vcpu<N>`. */
  readonly name?: string;
  /** Relative share of pCPU time, an integer in [1, 65535] as in Xen. */
  readonly weight?: number;
}

/** Where a vCPU is: waiting for a pCPU, on a pCPU, or blocked (HLT, waiting for an event). */
export type VcpuState = 'runnable' | 'running' | 'blocked';

/** One scheduling decision: run `vcpu` on `pcpu` from cycle `start` for at most `budget` cycles. */
export interface Dispatch {
  /** The pCPU. */
  readonly pcpu: number;
  /** The vCPU id. */
  readonly vcpu: number;
  /** The pCPU clock when the vCPU starts (after any context switch). */
  readonly start: number;
  /** The most the vCPU should run before returning (quantum or rest of its slice). */
  readonly budget: number;
}

/**
 * How a dispatch ended, reported by the VMM to {@link CreditScheduler.complete}:
 * - `continue`: the vCPU still wants to run (budget spent, or the VMM stopped for its own reasons);
 * - `yield`: the vCPU gives up the rest of its slice and goes behind the others of its priority;
 * - `directed-yield`: as yield, and `target` runs next on this pCPU if it is waiting (what a PLE
 *   handler does when it knows or guesses the lock holder);
 * - `block`: the vCPU waits (HLT) until {@link CreditScheduler.wake} or until cycle `until`.
 */
export type RunOutcome =
  | {
      /** Still wants to run. */
      readonly kind: 'continue';
    }
  | {
      /** Gives up the rest of the slice. */
      readonly kind: 'yield';
    }
  | {
      /** Gives up the rest of the slice in favour of `target`. */
      readonly kind: 'directed-yield';
      /** The vCPU to run next on this pCPU, if it is waiting. */
      readonly target: number;
    }
  | {
      /** Waits for a wake-up. */
      readonly kind: 'block';
      /** A timer: the cycle at which it wakes by itself. */
      readonly until?: number;
    };

/** Per-vCPU statistics, in cycles and counts. */
export interface VcpuStats {
  /** The vCPU's name. */
  readonly name: string;
  /** Its weight. */
  readonly weight: number;
  /** Its state now. */
  readonly state: VcpuState;
  /** Its credit now (cycles; negative means it has run more than its share). */
  readonly credit: number;
  /** Cycles it ran. */
  readonly runCycles: number;
  /** Cycles it was runnable but not on a pCPU. */
  readonly waitCycles: number;
  /** Cycles it was blocked (up to its last wake-up). */
  readonly blockedCycles: number;
  /** Number of dispatches. */
  readonly dispatches: number;
  /** Number of times a pCPU switched to it from another vCPU (or from idle). */
  readonly switchesIn: number;
  /** Number of times it lost its pCPU while it still wanted to run. */
  readonly preemptions: number;
  /** Number of plain yields. */
  readonly yields: number;
  /** Number of directed yields. */
  readonly directedYields: number;
  /** Directed yields whose target actually ran next on that pCPU. */
  readonly directedYieldHits: number;
}

/** Per-pCPU statistics. */
export interface PcpuStats {
  /** The pCPU clock: cycles since the start of the simulation. */
  readonly clock: number;
  /** Cycles spent running vCPUs. */
  readonly busyCycles: number;
  /** Cycles spent idle. */
  readonly idleCycles: number;
  /** Cycles spent switching between vCPUs. */
  readonly switchCycles: number;
}

/** One entry of a scheduler trace. */
export type TraceEvent =
  | ({
      /** A vCPU was given a pCPU: the {@link Dispatch} itself. */
      readonly type: 'dispatch';
    } & Dispatch)
  | {
      /** A pCPU idled. */
      readonly type: 'idle';
      /** The pCPU. */
      readonly pcpu: number;
      /** First idle cycle. */
      readonly from: number;
      /** First cycle after the idle period. */
      readonly to: number;
    }
  | {
      /** A dispatch ended. */
      readonly type: 'complete';
      /** The pCPU. */
      readonly pcpu: number;
      /** The vCPU. */
      readonly vcpu: number;
      /** The pCPU clock at the end. */
      readonly end: number;
      /** How it ended. */
      readonly outcome: RunOutcome['kind'];
    }
  | {
      /** A blocked vCPU became runnable. */
      readonly type: 'wake';
      /** The vCPU. */
      readonly vcpu: number;
      /** The cycle it became runnable. */
      readonly at: number;
    }
  | {
      /** Credits were distributed. */
      readonly type: 'account';
      /** The accounting boundary. */
      readonly at: number;
    };

interface Vcpu {
  readonly id: number;
  readonly name: string;
  readonly weight: number;
  state: VcpuState;
  credit: number;
  readyAt: number;
  wakeAt: number;
  blockedSince: number;
  seq: number;
  runCycles: number;
  waitCycles: number;
  blockedCycles: number;
  dispatches: number;
  switchesIn: number;
  preemptions: number;
  yields: number;
  directedYields: number;
  directedYieldHits: number;
}

interface Pcpu {
  clock: number;
  current: number;
  last: number;
  sliceLeft: number;
  hint: number;
  busyCycles: number;
  idleCycles: number;
  switchCycles: number;
}

// Xen's credit scheduler orders runnable vCPUs by priority: UNDER (credit left) before OVER.
const UNDER = 1;
const OVER = 0;

function positiveInt(
  v: number | undefined,
  fallback: number,
  field: string,
  allowZero = false,
): number {
  const x = v ?? fallback;
  if (!Number.isSafeInteger(x) || x < (allowZero ? 0 : 1)) {
    throw new SimError(
      'INVALID_CONFIG',
      `${field} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${x}`,
      field,
    );
  }
  return x;
}

/**
 * A deterministic vCPU scheduler in the spirit of Xen's credit scheduler (the scheduler of seed
 * 003's Xen): vCPUs earn credit in proportion to their weight every accounting period and spend
 * it by running; vCPUs with credit left (UNDER) go before those without (OVER); within a priority
 * the earliest-ready vCPU goes first. More vCPUs than pCPUs is allowed.
 *
 * Time is discrete-event: every pCPU has its own clock in cycles, and {@link next} always serves
 * the pCPU whose clock is furthest behind, so the pCPUs advance in step and the result depends
 * only on the calls made, never on host timing. The VMM loop is:
 *
 * ```ts
 * for (let d = sched.next(); d !== null; d = sched.next()) {
 *   const used = runGuest(d.vcpu, d.budget); // cycles charged while it ran
 *   sched.complete(d, used, { kind: 'continue' });
 * }
 * ```
 *
 * Work conservation: a pCPU idles only while no vCPU is runnable at its clock, and an idle pCPU
 * never skips past the clock of another pCPU, so a vCPU woken by another vCPU's action (an IPI)
 * finds an idle pCPU at the wake-up time.
 *
 * @example
 * ```ts
 * const sched = new CreditScheduler({ pcpus: 1, timeSlice: 1000, accountingPeriod: 1000 });
 * const a = sched.addVcpu({ name: 'a' });
 * const d = sched.next()!; // a on pCPU 0 at cycle 0
 * sched.complete(d, 250, { kind: 'block' });
 * ```
 */
export class CreditScheduler {
  readonly #pcpus: Pcpu[] = [];
  readonly #vcpus: Vcpu[] = [];
  readonly #timeSlice: number;
  readonly #period: number;
  readonly #quantum: number;
  readonly #contextSwitch: number;
  readonly #defaultWeight: number;
  readonly #trace: TraceEvent[] | undefined;
  #open: Dispatch | null = null;
  #nextAccount: number;
  #seq = 0;
  #decisions = 0;

  /**
   * @param options - pCPU count, slice, period, quantum and switch cost
   * @throws {@link SimError} `INVALID_CONFIG` naming the bad option
   */
  constructor(options: SchedulerOptions) {
    const n = positiveInt(options.pcpus, 0, 'pcpus');
    this.#timeSlice = positiveInt(options.timeSlice, 0, 'timeSlice');
    this.#period = positiveInt(options.accountingPeriod, 0, 'accountingPeriod');
    this.#quantum = positiveInt(options.quantum, this.#timeSlice, 'quantum');
    this.#contextSwitch = positiveInt(options.contextSwitch, 0, 'contextSwitch', true);
    this.#defaultWeight = positiveInt(options.defaultWeight, 256, 'defaultWeight');
    this.#trace = options.trace ? [] : undefined;
    this.#nextAccount = this.#period;
    for (let i = 0; i < n; i++) {
      this.#pcpus.push({
        clock: 0,
        current: -1,
        last: -1,
        sliceLeft: 0,
        hint: -1,
        busyCycles: 0,
        idleCycles: 0,
        switchCycles: 0,
      });
    }
  }

  /** Number of pCPUs. */
  get pcpuCount(): number {
    return this.#pcpus.length;
  }

  /** Number of vCPUs added. */
  get vcpuCount(): number {
    return this.#vcpus.length;
  }

  /** Number of dispatch decisions made so far. */
  get decisions(): number {
    return this.#decisions;
  }

  /** The trace, if enabled in the options (else empty). Entries are appended in decision order. */
  get trace(): readonly TraceEvent[] {
    return this.#trace ?? [];
  }

  /** The open dispatch (returned by {@link next}, not yet completed), or null. */
  get openDispatch(): Dispatch | null {
    return this.#open;
  }

  /**
   * Adds a vCPU, runnable from cycle `at` (default 0).
   *
   * @param options - name and weight
   * @param at - the cycle from which it is runnable
   * @returns its id (0, 1, 2... in order of addition)
   */
  addVcpu(options: VcpuOptions = {}, at = 0): number {
    const id = this.#vcpus.length;
    const weight = positiveInt(options.weight, this.#defaultWeight, 'weight');
    if (weight > 65535)
      throw new SimError('INVALID_CONFIG', 'weight must be at most 65535', 'weight');
    checkCycles(at, 'start cycle');
    this.#vcpus.push({
      id,
      name: options.name ?? `vcpu${id}`,
      weight,
      state: 'runnable',
      credit: 0,
      readyAt: at,
      wakeAt: Number.POSITIVE_INFINITY,
      blockedSince: 0,
      seq: this.#seq++,
      runCycles: 0,
      waitCycles: 0,
      blockedCycles: 0,
      dispatches: 0,
      switchesIn: 0,
      preemptions: 0,
      yields: 0,
      directedYields: 0,
      directedYieldHits: 0,
    });
    return id;
  }

  /**
   * Makes the next decision: the pCPU furthest behind gets a vCPU. Idle time is skipped (and
   * recorded) when no vCPU is runnable there.
   *
   * @returns the dispatch to run, or null when every vCPU is blocked with no wake-up pending
   * @throws {@link SimError} `BAD_STATE` if the previous dispatch was not completed
   */
  next(): Dispatch | null {
    if (this.#open !== null) {
      throw new SimError('BAD_STATE', 'complete() the open dispatch before asking for the next');
    }
    for (;;) {
      let now = Number.POSITIVE_INFINITY;
      for (const p of this.#pcpus) now = Math.min(now, p.clock);
      this.#accountUpTo(now);
      this.#wakeTimers(now);
      // Serve the pCPUs furthest behind, in index order; any of them with work dispatches.
      for (let pi = 0; pi < this.#pcpus.length; pi++) {
        if ((this.#pcpus[pi] as Pcpu).clock !== now) continue;
        const d = this.#serve(pi, now);
        if (d !== undefined) return d;
      }
      // Every pCPU at `now` is idle with nothing ready: skip to the next ready time, but never
      // past another pCPU's clock (its vCPU may wake someone before then).
      let until = Number.POSITIVE_INFINITY;
      for (const v of this.#vcpus) {
        if (v.state === 'runnable' && v.readyAt > now) until = Math.min(until, v.readyAt);
        else if (v.state === 'blocked' && v.wakeAt > now) until = Math.min(until, v.wakeAt);
      }
      for (const p of this.#pcpus) if (p.clock > now) until = Math.min(until, p.clock);
      if (until === Number.POSITIVE_INFINITY) return null;
      for (let pi = 0; pi < this.#pcpus.length; pi++) {
        const p = this.#pcpus[pi] as Pcpu;
        if (p.clock !== now) continue;
        this.#trace?.push({ type: 'idle', pcpu: pi, from: now, to: until });
        p.idleCycles += until - now;
        p.clock = until;
      }
    }
  }

  /** Dispatches on pCPU `pi` at `now` if it has a current vCPU or a vCPU is ready. */
  #serve(pi: number, now: number): Dispatch | undefined {
    const p = this.#pcpus[pi] as Pcpu;
    const cur = p.current;
    if (cur >= 0) {
      const v = this.#vcpus[cur] as Vcpu;
      if (p.sliceLeft > 0 && !this.#higherPriorityWaiting(this.#priority(v), now)) {
        return this.#dispatch(pi, v, false);
      }
      // Slice over, or an UNDER vCPU waits behind an OVER one: back to the queue.
      this.#enqueue(v, now);
      p.current = -1;
    }
    const hint = p.hint;
    const chosen = this.#pick(now, hint);
    if (chosen === undefined) return undefined;
    p.hint = -1;
    if (cur >= 0 && chosen.id !== cur) (this.#vcpus[cur] as Vcpu).preemptions++;
    if (chosen.id === hint) {
      const yielder = this.#vcpus[p.last];
      if (yielder !== undefined) yielder.directedYieldHits++;
    }
    return this.#dispatch(pi, chosen, true);
  }

  /**
   * Ends the open dispatch: the vCPU ran `used` cycles (it may exceed the budget by the last
   * instruction or exit), and `outcome` says what it wants next.
   *
   * @param dispatch - the dispatch returned by the last {@link next}
   * @param used - cycles the vCPU ran
   * @param outcome - what it does next
   * @throws {@link SimError} `BAD_STATE` for a dispatch that is not the open one, `INVALID_CYCLES`,
   *   `UNKNOWN_VCPU` for a bad directed-yield target
   */
  complete(dispatch: Dispatch, used: number, outcome: RunOutcome): void {
    if (this.#open === null || dispatch !== this.#open) {
      throw new SimError('BAD_STATE', 'complete() takes the dispatch returned by the last next()');
    }
    checkCycles(used, 'used');
    const p = this.#pcpus[dispatch.pcpu] as Pcpu;
    const v = this.#vcpus[dispatch.vcpu] as Vcpu;
    if (outcome.kind === 'directed-yield') this.#vcpu(outcome.target);
    if (outcome.kind === 'block' && outcome.until !== undefined)
      checkCycles(outcome.until, 'until');
    this.#open = null;
    p.clock += used;
    p.busyCycles += used;
    p.sliceLeft = Math.max(0, p.sliceLeft - used);
    v.runCycles += used;
    v.credit -= used;
    switch (outcome.kind) {
      case 'continue':
        break;
      case 'yield':
        v.yields++;
        this.#enqueue(v, p.clock);
        p.current = -1;
        break;
      case 'directed-yield': {
        v.directedYields++;
        this.#enqueue(v, p.clock);
        p.current = -1;
        if (outcome.target !== v.id && this.#vcpus[outcome.target]?.state === 'runnable') {
          p.hint = outcome.target;
        }
        break;
      }
      case 'block':
        v.state = 'blocked';
        v.blockedSince = p.clock;
        v.wakeAt = outcome.until ?? Number.POSITIVE_INFINITY;
        p.current = -1;
        break;
    }
    this.#trace?.push({
      type: 'complete',
      pcpu: dispatch.pcpu,
      vcpu: v.id,
      end: p.clock,
      outcome: outcome.kind,
    });
  }

  /**
   * Wakes a blocked vCPU (an interrupt or IPI arrived for it) at cycle `at`. Waking a vCPU that
   * is not blocked does nothing, as an IPI to a running vCPU needs no scheduling.
   *
   * @param vcpu - the vCPU id
   * @param at - the cycle of the event; a wake-up never precedes the block itself
   * @returns whether the vCPU was blocked
   */
  wake(vcpu: number, at: number): boolean {
    const v = this.#vcpu(vcpu);
    checkCycles(at, 'at');
    if (v.state !== 'blocked') return false;
    this.#unblock(v, Math.min(at, v.wakeAt));
    return true;
  }

  /**
   * Statistics of one vCPU.
   *
   * @param vcpu - the vCPU id
   * @returns a snapshot
   */
  vcpuStats(vcpu: number): VcpuStats {
    const v = this.#vcpu(vcpu);
    return {
      name: v.name,
      weight: v.weight,
      state: v.state,
      credit: v.credit,
      runCycles: v.runCycles,
      waitCycles: v.waitCycles,
      blockedCycles: v.blockedCycles,
      dispatches: v.dispatches,
      switchesIn: v.switchesIn,
      preemptions: v.preemptions,
      yields: v.yields,
      directedYields: v.directedYields,
      directedYieldHits: v.directedYieldHits,
    };
  }

  /**
   * Statistics of one pCPU.
   *
   * @param pcpu - the pCPU index
   * @returns a snapshot
   */
  pcpuStats(pcpu: number): PcpuStats {
    const p = this.#pcpus[pcpu];
    if (p === undefined) throw new SimError('INVALID_CONFIG', `no pCPU ${pcpu}`, 'pcpu');
    return {
      clock: p.clock,
      busyCycles: p.busyCycles,
      idleCycles: p.idleCycles,
      switchCycles: p.switchCycles,
    };
  }

  /**
   * The earliest pCPU clock. No request, wake-up or charge can happen before it any more, so
   * state older than this (e.g. a lock's past critical sections) can be forgotten.
   */
  get frontier(): number {
    let m = Number.POSITIVE_INFINITY;
    for (const p of this.#pcpus) m = Math.min(m, p.clock);
    return m;
  }

  /** The latest pCPU clock: the simulated time the whole run has taken so far. */
  get elapsed(): number {
    let m = 0;
    for (const p of this.#pcpus) m = Math.max(m, p.clock);
    return m;
  }

  // ---- internals ----

  #vcpu(id: number): Vcpu {
    const v = Number.isInteger(id) ? this.#vcpus[id] : undefined;
    if (v === undefined) throw new SimError('UNKNOWN_VCPU', `no vCPU ${id}`);
    return v;
  }

  #priority(v: Vcpu): number {
    return v.credit > 0 ? UNDER : OVER;
  }

  #enqueue(v: Vcpu, at: number): void {
    v.state = 'runnable';
    v.readyAt = at;
    v.seq = this.#seq++;
  }

  #unblock(v: Vcpu, at: number): void {
    const readyAt = Math.max(at, v.blockedSince);
    v.blockedCycles += readyAt - v.blockedSince;
    v.wakeAt = Number.POSITIVE_INFINITY;
    this.#enqueue(v, readyAt);
    this.#trace?.push({ type: 'wake', vcpu: v.id, at: readyAt });
  }

  #wakeTimers(now: number): void {
    for (const v of this.#vcpus) {
      if (v.state === 'blocked' && v.wakeAt <= now) this.#unblock(v, v.wakeAt);
    }
  }

  /** Is some vCPU ready at `now` with a priority above `priority`? */
  #higherPriorityWaiting(priority: number, now: number): boolean {
    for (const v of this.#vcpus) {
      if (v.state === 'runnable' && v.readyAt <= now && this.#priority(v) > priority) return true;
    }
    return false;
  }

  /** The next vCPU for a pCPU at `now`: the directed-yield target if it waits, else the best. */
  #pick(now: number, hint: number): Vcpu | undefined {
    const h = this.#vcpus[hint];
    if (h !== undefined && h.state === 'runnable' && h.readyAt <= now) return h;
    let best: Vcpu | undefined;
    let bestPri = -1;
    for (const v of this.#vcpus) {
      if (v.state !== 'runnable' || v.readyAt > now) continue;
      const pri = this.#priority(v);
      if (
        best === undefined ||
        pri > bestPri ||
        (pri === bestPri &&
          (v.readyAt < best.readyAt || (v.readyAt === best.readyAt && v.seq < best.seq)))
      ) {
        best = v;
        bestPri = pri;
      }
    }
    return best;
  }

  #dispatch(pi: number, v: Vcpu, fresh: boolean): Dispatch {
    const p = this.#pcpus[pi] as Pcpu;
    if (fresh) {
      v.waitCycles += p.clock - v.readyAt;
      if (p.last !== v.id) {
        p.clock += this.#contextSwitch;
        p.switchCycles += this.#contextSwitch;
        v.switchesIn++;
      }
      p.current = v.id;
      p.last = v.id;
      p.sliceLeft = this.#timeSlice;
      v.state = 'running';
    }
    v.dispatches++;
    this.#decisions++;
    const d: Dispatch = {
      pcpu: pi,
      vcpu: v.id,
      start: p.clock,
      budget: Math.min(this.#quantum, p.sliceLeft),
    };
    this.#open = d;
    this.#trace?.push({ type: 'dispatch', ...d });
    return d;
  }

  /**
   * Runs every accounting boundary at or before `frontier` (the earliest pCPU clock, so no pCPU
   * can still act before it). Each active (non-blocked) vCPU earns
   * `period x pcpus x weight / totalWeight` credits, split exactly (largest remainder, ties by id),
   * and may bank at most one slice plus its share, so a long-blocked vCPU cannot hoard credit.
   */
  #accountUpTo(frontier: number): void {
    while (this.#nextAccount <= frontier) {
      const at = this.#nextAccount;
      this.#nextAccount += this.#period;
      const active = this.#vcpus.filter((v) => v.state !== 'blocked');
      if (active.length === 0) continue;
      const total = BigInt(this.#period) * BigInt(this.#pcpus.length);
      let weights = 0n;
      for (const v of active) weights += BigInt(v.weight);
      const shares = active.map((v) => (total * BigInt(v.weight)) / weights);
      const rems = active.map((v) => (total * BigInt(v.weight)) % weights);
      let left = total - shares.reduce((a, b) => a + b, 0n);
      const order = active
        .map((_, i) => i)
        .sort((a, b) => {
          const ra = rems[a] as bigint;
          const rb = rems[b] as bigint;
          return ra === rb ? a - b : ra > rb ? -1 : 1;
        });
      for (const i of order) {
        if (left === 0n) break;
        shares[i] = (shares[i] as bigint) + 1n;
        left--;
      }
      active.forEach((v, i) => {
        const share = Number(shares[i]);
        v.credit = Math.min(v.credit + share, share + this.#timeSlice);
      });
      this.#trace?.push({ type: 'account', at });
    }
  }
}
