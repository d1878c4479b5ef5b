// The simulated time of a run: each vCPU's busy cycles (its priced work, shadow-lock waits
// included) replayed through @vmkit/sim's Simulation, whose credit scheduler maps the vCPUs
// onto the pCPUs with its time slices and context switches (overcommit allowed).
import { type CostProfile, Simulation } from '@vmkit/sim';

/** What {@link scheduleRun} found. */
export interface ScheduledRun {
  /** Simulated cycles from the start to the last pCPU's clock. */
  readonly elapsedCycles: number;
  /** The same in seconds at the profile's clock. */
  readonly elapsedSeconds: number;
  /** Cycles each vCPU was runnable but had no pCPU. */
  readonly waitCycles: readonly number[];
}

/**
 * Replays the vCPUs' busy cycles on `pcpus` simulated pCPUs: each dispatch runs a vCPU for its
 * budget or until its work is done, after which it blocks for good. With a pCPU per vCPU the
 * run lasts as long as its busiest vCPU (plus the first dispatch's context switch); with fewer,
 * the vCPUs queue for the pCPUs as the scheduler decides.
 *
 * @param profile - the cost profile (scheduler figures)
 * @param pcpus - physical CPUs, at least 1
 * @param busy - busy cycles per vCPU (non-negative integers)
 * @returns elapsed time and per-vCPU waits
 */
export function scheduleRun(
  profile: CostProfile,
  pcpus: number,
  busy: readonly number[],
): ScheduledRun {
  const sim = new Simulation({ pcpus, profile });
  const ids = busy.map((_, i) => sim.addVcpu({ name: `vcpu${i}` }));
  const left = busy.map((c) => Math.max(0, Math.round(c)));
  for (let d = sim.next(); d !== null; d = sim.next()) {
    const i = ids.indexOf(d.vcpu);
    const run = Math.min(d.budget, left[i]!);
    if (run > 0) sim.chargeCycles(d.vcpu, run, 'guest');
    left[i]! -= run;
    sim.complete(left[i]! > 0 ? { kind: 'continue' } : { kind: 'block' });
  }
  const report = sim.report();
  return {
    elapsedCycles: report.elapsedCycles,
    elapsedSeconds: report.elapsedSeconds,
    waitCycles: report.vcpus.map((v) => v.waitCycles),
  };
}
