/** One benchmark result, printed as a JSON line (see DESIGN.md, "Performance, measured"). */
export interface BenchResult {
  /** What was measured, e.g. `memory.read32`. */
  readonly metric: string;
  /** The measured value. */
  readonly value: number;
  /** The unit of `value`, e.g. `ops/s`. */
  readonly unit: string;
  /** Optional context (sizes, counts) that explains the figure. */
  readonly [extra: string]: unknown;
}

/** Prints one result as a JSON line on stdout. */
export function emit(result: BenchResult): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/**
 * Runs `body` (which performs `opsPerCall` operations) repeatedly for at least `minMs`
 * milliseconds after a warm-up, and returns operations per second of the best of `rounds`
 * rounds, which is the least disturbed by a noisy machine.
 */
export function opsPerSecond(
  body: () => void,
  opsPerCall: number,
  { minMs = 200, rounds = 5 } = {},
): number {
  for (let i = 0; i < 3; i++) body();
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    let calls = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      body();
      calls++;
      elapsed = performance.now() - start;
    } while (elapsed < minMs);
    best = Math.max(best, (calls * opsPerCall * 1000) / elapsed);
  }
  return best;
}
