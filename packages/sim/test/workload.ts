// A deterministic workload driver for scheduler tests. It derives, independently of the
// scheduler's internals, when each vCPU was ready and which intervals each pCPU was busy, from
// nothing but the dispatches it received and the outcomes it reported.
import type { CreditScheduler, Dispatch, RunOutcome } from '../src/index.js';

/** One step of a vCPU's program: run `run` cycles (capped by the budget), then do `next`. */
export interface Action {
  readonly run: number;
  readonly next: 'continue' | 'yield' | 'block' | 'sleep' | 'directed-yield' | 'wake';
  /** sleep: cycles; directed-yield and wake: target vCPU. */
  readonly arg: number;
}

export interface DriveResult {
  /** [vcpu, from, to): runnable but not on a pCPU. */
  readonly waits: [number, number, number][];
  /** Per pCPU, [start, end, vcpu) of every dispatch, in order. */
  readonly busy: [number, number, number][][];
  readonly decisions: number;
}

export function drive(
  sched: CreditScheduler,
  programs: readonly (readonly Action[])[],
  maxDecisions: number,
): DriveResult {
  const n = programs.length;
  const step = new Array<number>(n).fill(0);
  const ready = new Array<number>(n).fill(0);
  const blocked = new Array<boolean>(n).fill(false);
  const blockedSince = new Array<number>(n).fill(0);
  const wakeAt = new Array<number>(n).fill(Number.POSITIVE_INFINITY);
  const busy: [number, number, number][][] = Array.from({ length: sched.pcpuCount }, () => []);
  const waits: [number, number, number][] = [];
  let decisions = 0;
  for (
    let d: Dispatch | null = sched.next();
    d !== null && decisions < maxDecisions;
    d = sched.next()
  ) {
    decisions++;
    const v = d.vcpu;
    if (blocked[v]) {
      // Woken by its timer (no one else woke it).
      blocked[v] = false;
      ready[v] = Math.max(blockedSince[v] as number, wakeAt[v] as number);
    }
    if (d.start > (ready[v] as number)) waits.push([v, ready[v] as number, d.start]);
    const program = programs[v] as readonly Action[];
    const a = program[(step[v] as number) % program.length] as Action;
    step[v] = (step[v] as number) + 1;
    const used = Math.min(a.run, d.budget);
    const end = d.start + used;
    busy[d.pcpu]?.push([d.start, end, v]);
    let outcome: RunOutcome;
    switch (a.next) {
      case 'continue':
        outcome = { kind: 'continue' };
        break;
      case 'yield':
        outcome = { kind: 'yield' };
        break;
      case 'directed-yield':
        outcome = { kind: 'directed-yield', target: a.arg % n };
        break;
      case 'block':
      case 'sleep':
        outcome = a.next === 'block' ? { kind: 'block' } : { kind: 'block', until: end + a.arg };
        blocked[v] = true;
        blockedSince[v] = end;
        wakeAt[v] = a.next === 'block' ? Number.POSITIVE_INFINITY : end + a.arg;
        break;
      case 'wake': {
        const k = a.arg % n;
        if (blocked[k] && k !== v) {
          const t = Math.min(end, wakeAt[k] as number);
          // A timer that already fired wins over the later IPI.
          blocked[k] = false;
          ready[k] = Math.max(blockedSince[k] as number, t);
        }
        outcome = { kind: 'continue' };
        break;
      }
    }
    ready[v] = end;
    sched.complete(d, used, outcome);
    if (a.next === 'wake') sched.wake(a.arg % n, end);
  }
  return { waits, busy, decisions };
}

/** Idle gaps of each pCPU between its dispatches: [pcpu, from, to). */
export function idleGaps(
  busy: readonly (readonly [number, number, number][])[],
): [number, number, number][] {
  const gaps: [number, number, number][] = [];
  busy.forEach((intervals, p) => {
    let t = 0;
    for (const [s, e] of intervals) {
      if (s > t) gaps.push([p, t, s]);
      t = Math.max(t, e);
    }
  });
  return gaps;
}
