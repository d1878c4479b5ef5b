import { describe, expect, it } from 'vitest';
import { defaultProfile, Simulation } from '../src/index.js';

/**
 * How PLE plugs into the scheduler: a guest whose vCPUs take one guest spinlock in a loop (work,
 * then a critical section). A vCPU that finds the lock held spins. Without PLE it spins through
 * its whole dispatch; with PLE, after PLE_Window cycles of spinning the CPU exits
 * (`vmexit.pause`) and the handler yields to the lock holder (seed 003 §III.A, §IV.C).
 */
function spinlockGuest(pcpus: number, vcpus: number, ple: boolean): number {
  const sim = new Simulation({
    pcpus,
    quantum: 1_000,
    timeSlice: 30_000,
    accountingPeriod: 30_000,
  });
  const window = defaultProfile.ple.window.value;
  const WORK = 3_000;
  const HOLD = 1_000;
  const ITERATIONS = 40;
  const phase: ('work' | 'acquire' | 'hold')[] = [];
  const left: number[] = [];
  const done: number[] = [];
  const spun: number[] = []; // cycles of the current spin loop, across dispatches
  let holder = -1;
  let freeAt = 0;
  for (let i = 0; i < vcpus; i++) {
    sim.addVcpu();
    phase.push('work');
    left.push(WORK + 131 * i);
    done.push(0);
    spun.push(0);
  }
  for (let d = sim.next(); d !== null; d = sim.next()) {
    const v = d.vcpu;
    let outcome: Parameters<Simulation['complete']>[0] = { kind: 'continue' };
    while (sim.used < d.budget && outcome.kind === 'continue') {
      const budget = d.budget - sim.used;
      if (phase[v] === 'work' || phase[v] === 'hold') {
        const step = Math.min(budget, left[v] as number);
        sim.chargeCycles(v, step, phase[v] === 'work' ? 'guest' : 'guest.critical');
        left[v] = (left[v] as number) - step;
        if (left[v] !== 0) continue;
        if (phase[v] === 'work') {
          phase[v] = 'acquire';
        } else {
          holder = -1;
          freeAt = sim.now(v);
          done[v] = (done[v] as number) + 1;
          phase[v] = 'work';
          left[v] = WORK;
          if (done[v] === ITERATIONS) outcome = { kind: 'block' };
        }
      } else if (holder === -1) {
        // Free, perhaps released later in simulated time by a vCPU whose pCPU is ahead.
        if (freeAt > sim.now(v)) sim.chargeCycles(v, Math.min(budget, freeAt - sim.now(v)), 'spin');
        if (freeAt <= sim.now(v)) {
          holder = v;
          spun[v] = 0;
          phase[v] = 'hold';
          left[v] = HOLD;
        }
      } else if (!ple) {
        sim.chargeCycles(v, budget, 'spin');
      } else {
        const step = Math.min(budget, window - (spun[v] as number));
        sim.chargeCycles(v, step, 'spin');
        spun[v] = (spun[v] as number) + step;
        if (spun[v] === window) {
          spun[v] = 0;
          sim.charge(v, 'vmexit.pause');
          outcome = { kind: 'directed-yield', target: holder };
        }
      }
    }
    sim.complete(outcome);
  }
  return sim.report().elapsedCycles;
}

describe('PLE plugs into the scheduler (seed 003 Fig. 9 shape)', () => {
  it('helps when vCPUs are overcommitted: lock holders get the pCPU back', () => {
    const without = spinlockGuest(2, 6, false);
    const withPle = spinlockGuest(2, 6, true);
    expect(withPle / without).toBeLessThan(0.9);
  });

  it('does not help when every vCPU has its own pCPU', () => {
    const without = spinlockGuest(4, 4, false);
    const withPle = spinlockGuest(4, 4, true);
    expect(withPle / without).toBeGreaterThan(0.97);
  });
});
