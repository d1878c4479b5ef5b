import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CreditScheduler, type Dispatch, SimError } from '../src/index.js';
import { type Action, drive, idleGaps } from './workload.js';

const base = { timeSlice: 3000, accountingPeriod: 3000, quantum: 500 };

/** Runs CPU-bound vCPUs (always use the whole budget) until `until` cycles. */
function cpuBound(sched: CreditScheduler, until: number): void {
  for (let d = sched.next(); d !== null; d = sched.next()) {
    sched.complete(d, d.budget, { kind: 'continue' });
    if (d.start >= until) break;
  }
}

const actionArb: fc.Arbitrary<Action> = fc.record({
  run: fc.integer({ min: 0, max: 1200 }),
  next: fc.constantFrom<Action['next']>(
    'continue',
    'continue',
    'yield',
    'block',
    'sleep',
    'directed-yield',
    'wake',
  ),
  arg: fc.integer({ min: 0, max: 4000 }),
});
const workloadArb = fc.record({
  pcpus: fc.integer({ min: 1, max: 4 }),
  programs: fc.array(fc.array(actionArb, { minLength: 1, maxLength: 6 }), {
    minLength: 1,
    maxLength: 8,
  }),
  weights: fc.array(fc.integer({ min: 1, max: 1024 }), { minLength: 8, maxLength: 8 }),
});

function build(
  w: { pcpus: number; programs: readonly Action[][]; weights: number[] },
  trace = false,
) {
  const sched = new CreditScheduler({ pcpus: w.pcpus, ...base, trace });
  for (let i = 0; i < w.programs.length; i++) sched.addVcpu({ weight: w.weights[i] as number });
  return sched;
}

describe('CreditScheduler basics', () => {
  it('round-robins overcommitted CPU-bound vCPUs by time slice on one pCPU', () => {
    const s = new CreditScheduler({ pcpus: 1, timeSlice: 1000, accountingPeriod: 10_000 });
    for (let i = 0; i < 3; i++) s.addVcpu();
    const order: number[] = [];
    for (let i = 0; i < 6; i++) {
      const d = s.next() as Dispatch;
      order.push(d.vcpu);
      expect(d.start).toBe(i * 1000);
      expect(d.budget).toBe(1000);
      s.complete(d, 1000, { kind: 'continue' });
    }
    expect(order).toEqual([0, 1, 2, 0, 1, 2]);
    expect(s.vcpuStats(1)).toMatchObject({
      runCycles: 2000,
      waitCycles: 1000 + 2000,
      preemptions: 2,
    });
  });

  it('splits a slice into quanta and keeps the vCPU across them', () => {
    const s = new CreditScheduler({
      pcpus: 1,
      timeSlice: 1000,
      accountingPeriod: 10_000,
      quantum: 300,
    });
    s.addVcpu();
    s.addVcpu();
    const seen: [number, number][] = [];
    for (let i = 0; i < 5; i++) {
      const d = s.next() as Dispatch;
      seen.push([d.vcpu, d.budget]);
      s.complete(d, d.budget, { kind: 'continue' });
    }
    expect(seen).toEqual([
      [0, 300],
      [0, 300],
      [0, 300],
      [0, 100],
      [1, 300],
    ]);
  });

  it('charges a context switch only when the pCPU changes vCPU', () => {
    const s = new CreditScheduler({
      pcpus: 1,
      timeSlice: 1000,
      accountingPeriod: 10_000,
      contextSwitch: 50,
    });
    s.addVcpu();
    s.addVcpu();
    const a = s.next() as Dispatch;
    expect(a.start).toBe(50);
    s.complete(a, 1000, { kind: 'continue' });
    const b = s.next() as Dispatch;
    expect([b.vcpu, b.start]).toEqual([1, 1100]);
    s.complete(b, 10, { kind: 'block' });
    const c = s.next() as Dispatch;
    expect([c.vcpu, c.start]).toEqual([0, 1160]);
    s.complete(c, 1000, { kind: 'continue' });
    const d = s.next() as Dispatch; // alone: a new slice without a switch
    expect([d.vcpu, d.start]).toEqual([0, 2160]);
    expect(s.pcpuStats(0).switchCycles).toBe(150);
  });

  it('yield puts the vCPU behind the others; directed yield runs the target next', () => {
    const s = new CreditScheduler({ pcpus: 1, timeSlice: 1000, accountingPeriod: 100_000 });
    for (let i = 0; i < 4; i++) s.addVcpu();
    let d = s.next() as Dispatch;
    s.complete(d, 10, { kind: 'yield' });
    d = s.next() as Dispatch;
    expect(d.vcpu).toBe(1);
    s.complete(d, 10, { kind: 'directed-yield', target: 3 });
    d = s.next() as Dispatch;
    expect(d.vcpu).toBe(3);
    expect(s.vcpuStats(1)).toMatchObject({ directedYields: 1, directedYieldHits: 1 });
    expect(s.vcpuStats(0).yields).toBe(1);
    // A directed yield to a blocked vCPU behaves as a plain yield.
    s.complete(d, 10, { kind: 'block' });
    d = s.next() as Dispatch;
    expect(d.vcpu).toBe(2);
    s.complete(d, 10, { kind: 'directed-yield', target: 3 });
    d = s.next() as Dispatch;
    expect(d.vcpu).toBe(0);
    expect(s.vcpuStats(2)).toMatchObject({ directedYields: 1, directedYieldHits: 0 });
  });

  it('blocks and wakes; idles to timers; ends when all block forever', () => {
    const s = new CreditScheduler({ pcpus: 1, timeSlice: 1000, accountingPeriod: 100_000 });
    s.addVcpu();
    let d = s.next() as Dispatch;
    s.complete(d, 100, { kind: 'block', until: 5000 });
    d = s.next() as Dispatch;
    expect(d.start).toBe(5000);
    expect(s.pcpuStats(0).idleCycles).toBe(4900);
    expect(s.vcpuStats(0).blockedCycles).toBe(4900);
    s.complete(d, 100, { kind: 'block' });
    expect(s.next()).toBeNull();
    expect(s.wake(0, 9000)).toBe(true);
    expect(s.wake(0, 9500)).toBe(false);
    d = s.next() as Dispatch;
    expect(d.start).toBe(9000);
  });

  it('prefers vCPUs with credit (UNDER) and preempts an OVER vCPU for one at a quantum', () => {
    const s = new CreditScheduler({
      pcpus: 1,
      timeSlice: 1000,
      accountingPeriod: 1000,
      quantum: 100,
    });
    const a = s.addVcpu();
    const b = s.addVcpu({}, 10_000);
    // a runs alone and earns then spends credit; b arrives later with none spent.
    for (let i = 0; i < 100; i++) {
      const d = s.next() as Dispatch;
      if (d.start >= 10_000) {
        expect(d.vcpu).toBe(b);
        break;
      }
      expect(d.vcpu).toBe(a);
      s.complete(d, d.budget, { kind: 'continue' });
    }
  });

  it('reports bad use with typed errors', () => {
    const s = new CreditScheduler({ pcpus: 1, ...base });
    s.addVcpu();
    const d = s.next() as Dispatch;
    expect(() => s.next()).toThrow(SimError);
    expect(() => s.complete(d, -1, { kind: 'continue' })).toThrow(/used/);
    expect(() => s.complete(d, 1, { kind: 'directed-yield', target: 9 })).toThrow(SimError);
    expect(() => s.complete({ ...d }, 1, { kind: 'continue' })).toThrow(/last next/);
    s.complete(d, 1, { kind: 'continue' });
    expect(() => s.wake(7, 0)).toThrow(SimError);
    expect(() => new CreditScheduler({ pcpus: 0, ...base })).toThrow(SimError);
    expect(() => s.addVcpu({ weight: 0 })).toThrow(SimError);
    expect(() => s.addVcpu({ weight: 70_000 })).toThrow(SimError);
    try {
      new CreditScheduler({ pcpus: 1, timeSlice: 1.5, accountingPeriod: 1 });
    } catch (e) {
      expect(e).toBeInstanceOf(SimError);
      expect((e as SimError).field).toBe('timeSlice');
    }
  });
});

describe('CreditScheduler properties', () => {
  it('is work-conserving: no pCPU idles while a runnable vCPU waits', () => {
    fc.assert(
      fc.property(workloadArb, (w) => {
        const r = drive(build(w), w.programs, 400);
        for (const [p, g0, g1] of idleGaps(r.busy)) {
          for (const [v, a, b] of r.waits) {
            const overlap = Math.min(g1, b) - Math.max(g0, a);
            if (overlap > 0)
              throw new Error(`pCPU ${p} idle [${g0},${g1}) while vCPU ${v} waited [${a},${b})`);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('is deterministic: the same workload gives the same trace and statistics', () => {
    fc.assert(
      fc.property(workloadArb, (w) => {
        const s1 = build(w, true);
        const s2 = build(w, true);
        drive(s1, w.programs, 300);
        drive(s2, w.programs, 300);
        expect(s2.trace).toEqual(s1.trace);
        for (let i = 0; i < w.programs.length; i++)
          expect(s2.vcpuStats(i)).toEqual(s1.vcpuStats(i));
      }),
      { numRuns: 60 },
    );
  });

  it('never runs one vCPU on two pCPUs at once, and keeps every clock consistent', () => {
    fc.assert(
      fc.property(workloadArb, (w) => {
        const s = build(w, true);
        const r = drive(s, w.programs, 300);
        const all = r.busy.flat().sort((x, y) => x[2] - y[2] || x[0] - y[0]);
        for (let i = 1; i < all.length; i++) {
          const [s0, e0, v0] = all[i - 1] as [number, number, number];
          const [s1, , v1] = all[i] as [number, number, number];
          // The same vCPU's dispatches are disjoint in time, whatever pCPUs they ran on.
          if (v0 === v1 && s1 < e0 && e0 > s0) throw new Error(`vCPU ${v0} ran twice at once`);
        }
        r.busy.forEach((intervals) => {
          let t = 0;
          for (const [a, b] of intervals) {
            expect(a).toBeGreaterThanOrEqual(t); // a pCPU's dispatches never overlap
            t = b;
          }
        });
        let run = 0;
        let busy = 0;
        for (let i = 0; i < w.programs.length; i++) run += s.vcpuStats(i).runCycles;
        for (let p = 0; p < w.pcpus; p++) busy += s.pcpuStats(p).busyCycles;
        expect(run).toBe(busy);
      }),
      { numRuns: 60 },
    );
  });

  // Fairness bound: with every vCPU always runnable and no vCPU entitled to more than one pCPU,
  // each vCPU's run time stays within FAIR_BOUND cycles of its weighted share of the busy time.
  const FAIR_BOUND = base.timeSlice + base.accountingPeriod;
  it(`shares pCPU time by weight within ${FAIR_BOUND} cycles over long runs`, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.constantFrom(128, 256, 512), { minLength: 1, maxLength: 7 }),
        (pcpus, weights) => {
          const total = weights.reduce((a, b) => a + b, 0);
          fc.pre(weights.length >= pcpus && weights.every((w) => (w * pcpus) / total <= 1));
          const s = new CreditScheduler({ pcpus, ...base });
          for (const w of weights) s.addVcpu({ weight: w });
          cpuBound(s, 200 * base.accountingPeriod);
          let busy = 0;
          for (let p = 0; p < pcpus; p++) busy += s.pcpuStats(p).busyCycles;
          weights.forEach((w, i) => {
            const expected = (busy * w) / total;
            const got = s.vcpuStats(i).runCycles;
            if (Math.abs(got - expected) > FAIR_BOUND) {
              throw new Error(`vCPU ${i} (w ${w}) ran ${got}, expected ${expected.toFixed(0)}`);
            }
          });
        },
      ),
      { numRuns: 60 },
    );
  });
});
