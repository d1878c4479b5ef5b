import { SimError } from './errors.js';

/** One histogram bucket: how many observations fell in `[from, to)`. */
export interface HistogramBucket {
  /** Inclusive lower bound (0 or a power of two). */
  readonly from: number;
  /** Exclusive upper bound (a power of two). */
  readonly to: number;
  /** Observations in the bucket. */
  readonly count: number;
}

/** A histogram as exported: totals and the non-empty power-of-two buckets, in order. */
export interface HistogramSnapshot {
  /** Number of observations. */
  readonly count: number;
  /** Sum of the observed values. */
  readonly sum: number;
  /** Smallest value, or 0 when empty. */
  readonly min: number;
  /** Largest value, or 0 when empty. */
  readonly max: number;
  /** Non-empty buckets: `[0,1)`, `[1,2)`, `[2,4)`, `[4,8)`... */
  readonly buckets: readonly HistogramBucket[];
}

/** Everything a {@link Metrics} holds, with names sorted: the JSON apps plot. */
export interface MetricsSnapshot {
  /** Counter values by name. */
  readonly counters: Readonly<Record<string, number>>;
  /** Histograms by name. */
  readonly histograms: Readonly<Record<string, HistogramSnapshot>>;
}

interface Histogram {
  count: number;
  sum: number;
  min: number;
  max: number;
  buckets: number[];
}

/** Bucket 0 holds [0,1); bucket k >= 1 holds [2^(k-1), 2^k). */
function bucketOf(value: number): number {
  if (value < 1) return 0;
  let k = Math.floor(Math.log2(value)) + 1;
  // Guard against rounding of log2 near powers of two.
  while (2 ** k <= value) k++;
  while (k > 1 && 2 ** (k - 1) > value) k--;
  return k;
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name === '') {
    throw new SimError('INVALID_CONFIG', 'a metric name must be a non-empty string', 'name');
  }
}

/**
 * Counters and histograms keyed by name (dotted, e.g. `event.vmexit.io`), exported as plain,
 * sorted JSON so a run's numbers can be stored, compared and plotted. Histograms use
 * power-of-two buckets, which suit cycle counts spanning many orders of magnitude.
 *
 * @example
 * ```ts
 * const m = new Metrics();
 * m.count('event.vmexit.io');
 * m.observe('lock.shadow.wait', 1500);
 * JSON.stringify(m); // {"counters":{...},"histograms":{...}}
 * ```
 */
export class Metrics {
  readonly #counters = new Map<string, number>();
  readonly #histograms = new Map<string, Histogram>();

  /**
   * Adds `n` to a counter (created at 0).
   *
   * @param name - the counter
   * @param n - the increment, a finite number (default 1)
   */
  count(name: string, n = 1): void {
    const c = this.#counters.get(name);
    if (c === undefined) {
      checkName(name);
      if (!Number.isFinite(n))
        throw new SimError('INVALID_CONFIG', 'increment must be finite', name);
      this.#counters.set(name, n);
      return;
    }
    if (!Number.isFinite(n)) throw new SimError('INVALID_CONFIG', 'increment must be finite', name);
    this.#counters.set(name, c + n);
  }

  /**
   * Records one observation in a histogram (created empty).
   *
   * @param name - the histogram
   * @param value - a finite, non-negative value (e.g. cycles)
   */
  observe(name: string, value: number): void {
    if (!Number.isFinite(value) || value < 0) {
      throw new SimError(
        'INVALID_CONFIG',
        `observed value must be finite and non-negative, got ${value}`,
        name,
      );
    }
    let h = this.#histograms.get(name);
    if (h === undefined) {
      checkName(name);
      h = { count: 0, sum: 0, min: value, max: value, buckets: [] };
      this.#histograms.set(name, h);
    }
    h.count++;
    h.sum += value;
    if (value < h.min) h.min = value;
    if (value > h.max) h.max = value;
    const k = bucketOf(value);
    while (h.buckets.length <= k) h.buckets.push(0);
    h.buckets[k] = (h.buckets[k] as number) + 1;
  }

  /**
   * A counter's value.
   *
   * @param name - the counter
   * @returns its value, 0 if never counted
   */
  counter(name: string): number {
    return this.#counters.get(name) ?? 0;
  }

  /**
   * A histogram's snapshot.
   *
   * @param name - the histogram
   * @returns the snapshot, or undefined if nothing was observed
   */
  histogram(name: string): HistogramSnapshot | undefined {
    const h = this.#histograms.get(name);
    if (h === undefined) return undefined;
    const buckets: HistogramBucket[] = [];
    h.buckets.forEach((count, k) => {
      if (count > 0) buckets.push({ from: k === 0 ? 0 : 2 ** (k - 1), to: 2 ** k, count });
    });
    return { count: h.count, sum: h.sum, min: h.min, max: h.max, buckets };
  }

  /** Clears every counter and histogram. */
  reset(): void {
    this.#counters.clear();
    this.#histograms.clear();
  }

  /**
   * Everything, with names sorted, for `JSON.stringify`.
   *
   * @returns the snapshot
   */
  toJSON(): MetricsSnapshot {
    const counters: Record<string, number> = {};
    for (const k of [...this.#counters.keys()].sort())
      counters[k] = this.#counters.get(k) as number;
    const histograms: Record<string, HistogramSnapshot> = {};
    for (const k of [...this.#histograms.keys()].sort()) {
      histograms[k] = this.histogram(k) as HistogramSnapshot;
    }
    return { counters, histograms };
  }
}
