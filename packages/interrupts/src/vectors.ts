import { InterruptError } from './errors.js';

/**
 * How host vectors are handed out (seed 003, §IV.A "Hybrid Interrupt Vectoring"):
 *
 * - `global`: a vector names an interrupt system-wide, so it is reserved on every PCPU; capacity is
 *   the dynamic range (about 200 vectors) whatever the PCPU count.
 * - `per-pcpu`: an interrupt is named by (PCPU, vector); each PCPU has its own dynamic range, so
 *   capacity is the range times the PCPU count. The hypervisor remaps (PCPU, vector) to the guest
 *   interrupt with a per-PCPU table.
 * - `hybrid`: global vectors for level-triggered sources (I/O APIC pins, whose EOI carries no PCPU),
 *   per-PCPU vectors for edge-triggered ones (MSI/MSI-X).
 */
export type VectoringPolicy = 'global' | 'per-pcpu' | 'hybrid';

/** One allocated host vector. */
export interface VectorHandle {
  /** PCPUs the vector is reserved on: all of them for a global vector, one otherwise. */
  readonly pcpus: readonly number[];
  /** The vector number. */
  readonly vector: number;
  /** Whether it came from the global pool. */
  readonly global: boolean;
}

/** What an interrupt source asks for. */
export interface VectorRequest {
  /** Edge (MSI/MSI-X) or level (I/O APIC pins). */
  readonly trigger: 'edge' | 'level';
  /** Preferred PCPU for per-PCPU vectors (default: the PCPU with the most free vectors). */
  readonly pcpu?: number;
}

/** Options of a {@link VectorAllocator}. */
export interface VectorAllocatorOptions {
  /** Number of physical CPUs. */
  readonly pcpus: number;
  /** Allocation policy. */
  readonly policy: VectoringPolicy;
  /**
   * First dynamically allocatable vector (default 0x20: 0x00-0x1F are the architectural
   * exceptions, SDM Vol. 3A §6.2).
   */
  readonly firstVector?: number;
  /**
   * Last dynamically allocatable vector (default 0xE7: 0xE8-0xFF are kept for the hypervisor's
   * IPIs, timer, error and spurious vectors), leaving 200 vectors, seed 003's "around 200".
   */
  readonly lastVector?: number;
}

/**
 * Host interrupt-vector allocation under the three policies of seed 003. Each PCPU has a
 * 256-bit map of used vectors; a global vector must be free on every PCPU and is taken on all,
 * a per-PCPU vector on one. Allocation takes the lowest free vector.
 *
 * @example
 * ```ts
 * const global = new VectorAllocator({ pcpus: 4, policy: 'global' });
 * global.capacity({ trigger: 'edge' }); // 200
 * const perPcpu = new VectorAllocator({ pcpus: 4, policy: 'per-pcpu' });
 * perPcpu.capacity({ trigger: 'edge' }); // 800
 * ```
 */
export class VectorAllocator {
  /** The policy. */
  readonly policy: VectoringPolicy;
  /** Number of PCPUs. */
  readonly pcpus: number;
  /** First dynamic vector. */
  readonly firstVector: number;
  /** Last dynamic vector. */
  readonly lastVector: number;
  private readonly used: Uint8Array[];

  /** @param options - PCPU count, policy, dynamic range */
  constructor(options: VectorAllocatorOptions) {
    const first = options.firstVector ?? 0x20;
    const last = options.lastVector ?? 0xe7;
    if (
      !Number.isInteger(options.pcpus) ||
      options.pcpus < 1 ||
      first < 0x20 ||
      last > 0xff ||
      last < first
    ) {
      throw new InterruptError('INVALID_CONFIG', `bad PCPU count or vector range ${first}-${last}`);
    }
    this.policy = options.policy;
    this.pcpus = options.pcpus;
    this.firstVector = first;
    this.lastVector = last;
    this.used = Array.from({ length: options.pcpus }, () => new Uint8Array(256));
  }

  /** Whether a request of this trigger gets a global vector under the policy. */
  isGlobal(trigger: 'edge' | 'level'): boolean {
    return this.policy === 'global' || (this.policy === 'hybrid' && trigger === 'level');
  }

  /**
   * Allocates a vector. Throws `EXHAUSTED` when none is free for the request.
   *
   * @param req - trigger mode and preferred PCPU
   * @returns the handle
   */
  allocate(req: VectorRequest): VectorHandle {
    if (this.isGlobal(req.trigger)) {
      for (let v = this.firstVector; v <= this.lastVector; v++) {
        if (this.used.every((u) => u[v] === 0)) {
          for (const u of this.used) u[v] = 1;
          return { pcpus: this.used.map((_, i) => i), vector: v, global: true };
        }
      }
      throw new InterruptError('EXHAUSTED', 'no global vector is free on every PCPU');
    }
    const order = req.pcpu !== undefined ? [req.pcpu] : this.byFreeCount();
    for (const p of order) {
      const u = this.used[p];
      if (u === undefined) throw new InterruptError('INVALID_CONFIG', `no PCPU ${p}`);
      for (let v = this.firstVector; v <= this.lastVector; v++) {
        if (u[v] === 0) {
          u[v] = 1;
          return { pcpus: [p], vector: v, global: false };
        }
      }
    }
    throw new InterruptError('EXHAUSTED', `no vector is free on PCPU ${order.join(',')}`);
  }

  /**
   * Frees a vector. Throws `UNKNOWN_HANDLE` if it was not allocated.
   *
   * @param h - the handle
   */
  free(h: VectorHandle): void {
    for (const p of h.pcpus) {
      if (this.used[p]?.[h.vector] !== 1)
        throw new InterruptError('UNKNOWN_HANDLE', `vector ${h.vector} not allocated on ${p}`);
    }
    for (const p of h.pcpus) this.used[p]![h.vector] = 0;
  }

  /**
   * Free vectors on one PCPU.
   *
   * @param pcpu - PCPU index
   * @returns count
   */
  freeOn(pcpu: number): number {
    let n = 0;
    for (let v = this.firstVector; v <= this.lastVector; v++) if (this.used[pcpu]![v] === 0) n++;
    return n;
  }

  /**
   * How many more requests of this kind could succeed now (without allocating).
   *
   * @param req - the kind of request
   * @returns the count
   */
  capacity(req: VectorRequest): number {
    if (this.isGlobal(req.trigger)) {
      let n = 0;
      for (let v = this.firstVector; v <= this.lastVector; v++)
        if (this.used.every((u) => u[v] === 0)) n++;
      return n;
    }
    if (req.pcpu !== undefined) return this.freeOn(req.pcpu);
    let n = 0;
    for (let p = 0; p < this.pcpus; p++) n += this.freeOn(p);
    return n;
  }

  private byFreeCount(): number[] {
    return Array.from({ length: this.pcpus }, (_, i) => i).sort(
      (a, b) => this.freeOn(b) - this.freeOn(a) || a - b,
    );
  }
}
