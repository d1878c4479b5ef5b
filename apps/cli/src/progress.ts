import type { Output } from './output.js';

/** Wall time a piece of work must have taken before a progress bar appears, in ms. */
export const PROGRESS_DELAY_MS = 1000;

/**
 * A progress reporter that stays silent for the first second: short work shows no bar at all,
 * long work gets one (Output decides whether stderr is a terminal).
 *
 * @param out - where progress goes
 * @param label - the bar's label, or a function of the work done and the milliseconds elapsed
 *   that gives it (e.g. to show a rate)
 * @param now - the clock, in milliseconds (injected by tests)
 * @returns `tick(done, total)` to call as work advances, and `finish(done)` to close the bar
 */
export function delayedProgress(
  out: Output,
  label: string | ((done: number, elapsedMs: number) => string),
  now: () => number = () => performance.now(),
): { tick(done: number, total: number): void; finish(done: number): void } {
  const start = now();
  const text = (done: number) => (typeof label === 'string' ? label : label(done, now() - start));
  let shown = false;
  return {
    tick(done, total) {
      if (!shown && now() - start < PROGRESS_DELAY_MS) return;
      shown = true;
      out.progress(text(done), Math.min(done, total), total);
    },
    // The bar ends at done/done: the work is over, whether or not it used its whole budget.
    finish(done) {
      if (shown) out.progress(text(done), done, done);
    },
  };
}
