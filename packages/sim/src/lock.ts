import { checkCycles, SimError } from './errors.js';

/** Statistics of one {@link SimLock}. */
export interface LockStats {
  /** The lock's name. */
  readonly name: string;
  /** Number of acquisitions. */
  readonly acquisitions: number;
  /** Acquisitions that had to wait. */
  readonly contended: number;
  /** Total cycles spent waiting (including cache-line handoffs). */
  readonly waitCycles: number;
  /** Total cycles the lock was held. */
  readonly holdCycles: number;
  /** Longest single wait. */
  readonly maxWait: number;
}

/** The result of {@link SimLock.acquire}. */
export interface LockGrant {
  /** The cycle the critical section starts. */
  readonly start: number;
  /** Cycles waited before it (0 when the lock was free). */
  readonly wait: number;
}

/**
 * A lock taken by simulated hypervisor code, such as the shadow-paging lock that seed 003 (§II.B,
 * §V.A) found to stop MP guests on shadow page tables from scaling. The lock keeps a timeline of
 * the critical sections it has granted; a request at cycle `at` for `hold` cycles gets the
 * earliest free interval at or after `at`. When it has to wait, the new owner also pays a
 * `handoff` (moving the lock's cache line from the previous owner's core).
 *
 * Requests are placed in simulated time, not in call order, so vCPUs whose pCPU clocks are a
 * quantum apart still queue as they would on real hardware; only a request that finds no gap
 * before a later-placed section waits behind it, an error bounded by the scheduler's quantum.
 *
 * @example
 * ```ts
 * const lock = new SimLock('shadow', 100);
 * lock.acquire(0, 1500); // { start: 0, wait: 0 }
 * lock.acquire(500, 1500); // { start: 1600, wait: 1100 }: waits for the first, plus handoff
 * ```
 */
export class SimLock {
  /** The lock's name, used in metrics (`lock.<name>.wait`). */
  readonly name: string;
  readonly #handoff: number;
  // Granted critical sections as sorted, disjoint [start, end) pairs, flattened.
  #timeline: number[] = [];
  #acquisitions = 0;
  #contended = 0;
  #waitCycles = 0;
  #holdCycles = 0;
  #maxWait = 0;

  /**
   * @param name - the lock's name
   * @param handoff - cycles a waiting acquirer pays to take over the lock's cache line
   */
  constructor(name: string, handoff = 0) {
    if (typeof name !== 'string' || name === '') {
      throw new SimError('INVALID_CONFIG', 'a lock name must be a non-empty string', 'name');
    }
    this.name = name;
    this.#handoff = checkCycles(handoff, 'handoff');
  }

  /**
   * Takes the lock at cycle `at` for `hold` cycles.
   *
   * @param at - when the request is made (the acquirer's current cycle)
   * @param hold - the length of the critical section
   * @returns when the critical section starts and how long the acquirer waited
   */
  acquire(at: number, hold: number): LockGrant {
    checkCycles(at, 'at');
    checkCycles(hold, 'hold');
    const t = this.#timeline;
    // First section that ends after `at` (binary search over the end points).
    let lo = 0;
    let hi = t.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((t[2 * mid + 1] as number) <= at) lo = mid + 1;
      else hi = mid;
    }
    let start = at;
    let i = lo;
    let waited = false;
    for (; i < t.length / 2; i++) {
      const s = t[2 * i] as number;
      const e = t[2 * i + 1] as number;
      const need = hold + (waited ? this.#handoff : 0);
      if (start + need <= s) break;
      if (e > start) {
        start = e;
        waited = true;
      }
    }
    const begin = waited ? start + this.#handoff : start;
    const end = begin + hold;
    if (hold > 0) t.splice(2 * i, 0, start, end);
    const wait = begin - at;
    this.#acquisitions++;
    this.#holdCycles += hold;
    if (wait > 0) {
      this.#contended++;
      this.#waitCycles += wait;
      if (wait > this.#maxWait) this.#maxWait = wait;
    }
    return { start: begin, wait };
  }

  /**
   * Forgets critical sections that end at or before `before`; call it with the earliest pCPU
   * clock, before which no new request can arrive.
   *
   * @param before - a cycle no future request precedes
   */
  prune(before: number): void {
    let n = 0;
    while (2 * n + 1 < this.#timeline.length && (this.#timeline[2 * n + 1] as number) <= before)
      n++;
    if (n > 0) this.#timeline = this.#timeline.slice(2 * n);
  }

  /** The lock's statistics. */
  stats(): LockStats {
    return {
      name: this.name,
      acquisitions: this.#acquisitions,
      contended: this.#contended,
      waitCycles: this.#waitCycles,
      holdCycles: this.#holdCycles,
      maxWait: this.#maxWait,
    };
  }
}
