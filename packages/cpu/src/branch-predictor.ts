// A bimodal branch predictor: a table of 2-bit saturating counters indexed by the low bits of
// the branch's address. Background: Intel 64 and IA-32 Architectures Optimization Reference
// Manual (order no. 248966), §3.4.1 "Branch Prediction Optimization" in chapter 3, "General
// Optimization Guidelines" (why mispredictions cost, static prediction, making loop exits and
// data-dependent branches predictable), and the branch-prediction units described per
// microarchitecture in its chapter 2. This is a model, not any real core's predictor: Intel
// does not document its predictors, and modern ones use global history; a bimodal table is
// the textbook baseline (J. E. Smith, "A Study of Branch Prediction Strategies", ISCA 1981)
// and is deterministic, so the same run gives the same counts.
import { CpuError } from './errors.js';

// STEP[(counter << 1) | taken]: the next counter in bits 0-1, and bit 2 set when the counter
// predicted otherwise (a table, so an update has no host branch on the outcome).
const STEP = Uint8Array.from([0, 1 | 4, 0, 2 | 4, 1 | 4, 3, 2 | 4, 3]);

/** Entries of a {@link BranchPredictor} unless configured: 4096 counters (4 KiB). */
export const DEFAULT_PREDICTOR_ENTRIES = 4096;

/** Largest table a {@link BranchPredictor} accepts: 2^20 counters. */
export const MAX_PREDICTOR_ENTRIES = 1 << 20;

/**
 * The model of conditional-branch prediction the CPU runs beside execution (it changes no
 * architectural state): `entries` 2-bit saturating counters, all starting at 1 ("weakly not
 * taken"), the counter of a branch at linear address `a` being `a mod entries`. A counter of 2
 * or 3 predicts taken; a taken outcome increments it (saturating at 3), a not-taken one
 * decrements it (saturating at 0). Every retired conditional branch (Jcc, LOOP, LOOPE, LOOPNE,
 * JRCXZ) is one outcome; one that faults does not retire and is not seen.
 *
 * @example
 * ```ts
 * const p = new BranchPredictor(16);
 * p.update(0x1000, true); // predicted not taken: a misprediction
 * p.update(0x1000, true); // now predicted taken
 * p.mispredictions; // 1
 * ```
 */
export class BranchPredictor {
  /** The counters, 0..3 each (interpreter state). */
  readonly counters: Uint8Array;
  /** `entries - 1`: the index mask. */
  readonly mask: number;
  /** Conditional branches seen (retired). */
  branches = 0;
  /** Those whose outcome differed from the prediction. */
  mispredictions = 0;

  /**
   * @param entries - the number of counters, a power of two in 1..2^20 (default
   *   {@link DEFAULT_PREDICTOR_ENTRIES})
   * @throws {@link CpuError} `INVALID_VALUE` for another size
   */
  constructor(entries: number = DEFAULT_PREDICTOR_ENTRIES) {
    if (
      !Number.isInteger(entries) ||
      entries < 1 ||
      entries > MAX_PREDICTOR_ENTRIES ||
      (entries & (entries - 1)) !== 0
    ) {
      throw new CpuError(
        'INVALID_VALUE',
        `predictor entries must be a power of two in 1..${MAX_PREDICTOR_ENTRIES}, got ${entries}`,
      );
    }
    this.counters = new Uint8Array(entries).fill(1);
    this.mask = entries - 1;
  }

  /** The number of counters. */
  get entries(): number {
    return this.mask + 1;
  }

  /**
   * Records one outcome of the conditional branch at `address`: counts a misprediction when
   * the counter predicted otherwise, then moves the counter toward the outcome.
   *
   * @param address - the branch instruction's linear address (any integer; its low bits index)
   * @param taken - whether the branch was taken
   */
  update(address: number, taken: boolean): void {
    this.updateBit(address, taken ? 1 : 0);
  }

  /**
   * {@link BranchPredictor.update} with the outcome as a bit: 1 taken, 0 not taken.
   *
   * @param address - the branch instruction's linear address
   * @param taken - 1 if the branch was taken, 0 if not
   */
  updateBit(address: number, taken: number): void {
    const i = address & this.mask;
    const x = STEP[(this.counters[i]! << 1) | taken]!;
    this.counters[i] = x & 3;
    this.mispredictions += x >> 2;
    this.branches++;
  }

  /**
   * Records `times` taken outcomes of the conditional branch at `address` in a row: the same
   * counts and counter as `times` calls of `update(address, true)`, in constant time (a loop
   * that ran many passes in one go).
   *
   * @param address - the branch instruction's linear address
   * @param times - how many taken outcomes (a non-negative integer)
   */
  updateTaken(address: number, times: number): void {
    const i = address & this.mask;
    const s = this.counters[i]!;
    this.branches += times;
    // Predicted not taken while the counter is below 2: at most 2 - s mispredictions.
    this.mispredictions += Math.min(times, Math.max(0, 2 - s));
    this.counters[i] = Math.min(3, s + times);
  }
}
