import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimError, SimLock, Simulation } from '../src/index.js';

/** Oracle: a lock as a set of occupied cycles, searched cycle by cycle. */
function bruteForce(requests: [number, number][], handoff: number): [number, number][] {
  const busy = new Set<number>();
  const free = (from: number, len: number) => {
    for (let c = from; c < from + len; c++) if (busy.has(c)) return false;
    return true;
  };
  return requests.map(([at, hold]) => {
    let t = at;
    let contended = false;
    if (!free(at, hold)) {
      // The lock is handed over when a section ends: the first such cycle after which the
      // handoff and the hold fit.
      contended = true;
      t = at + 1;
      while (!(busy.has(t - 1) && free(t, handoff + hold))) t++;
    }
    const len = contended ? handoff + hold : hold;
    for (let c = t; c < t + len; c++) busy.add(c);
    const begin = contended ? t + handoff : t;
    return [begin, begin - at];
  });
}

describe('SimLock', () => {
  it('serializes critical sections and charges the handoff to waiters', () => {
    const l = new SimLock('shadow', 100);
    expect(l.acquire(0, 1500)).toEqual({ start: 0, wait: 0 });
    expect(l.acquire(500, 1500)).toEqual({ start: 1600, wait: 1100 });
    expect(l.acquire(5000, 10)).toEqual({ start: 5000, wait: 0 });
    // Placed in simulated time: an earlier request fits the gap before a later section.
    expect(l.acquire(3100, 500)).toEqual({ start: 3100, wait: 0 });
    expect(l.stats()).toMatchObject({
      acquisitions: 4,
      contended: 1,
      waitCycles: 1100,
      holdCycles: 3510,
    });
    expect(() => l.acquire(-1, 1)).toThrow(SimError);
    expect(() => new SimLock('')).toThrow(SimError);
  });

  it('matches a cycle-by-cycle model of the lock (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(300), fc.integer({ min: 1, max: 40 })), { maxLength: 25 }),
        fc.nat(10),
        (requests, handoff) => {
          const lock = new SimLock('l', handoff);
          const got = requests.map(([at, hold]) => {
            const g = lock.acquire(at, hold);
            return [g.start, g.wait];
          });
          expect(got).toEqual(bruteForce(requests, handoff));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('pruning sections before every future request changes nothing (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(50), fc.integer({ min: 1, max: 40 })), { maxLength: 30 }),
        (steps) => {
          const a = new SimLock('a', 3);
          const b = new SimLock('b', 3);
          let t = 0;
          for (const [dt, hold] of steps) {
            t += dt; // requests in nondecreasing time, as the scheduler's frontier guarantees
            b.prune(t);
            expect(b.acquire(t, hold)).toEqual(a.acquire(t, hold));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

/**
 * N vCPUs on N pCPUs, each running a guest that takes shadow page faults: some guest work, a VM
 * exit, then the shadow update under the global shadow lock (seed 003 §II.B).
 */
function shadowWorkload(n: number, locked: boolean) {
  const sim = new Simulation({ pcpus: n, quantum: 5_000 });
  const iterations = 60;
  const done = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) sim.addVcpu({ name: `vcpu${i}` });
  const hold = sim.model.cost('shadow.pte-write');
  for (let d = sim.next(); d !== null; d = sim.next()) {
    const v = d.vcpu;
    sim.chargeCycles(v, 2_000 + 97 * v, 'guest'); // guest work between faults, staggered
    sim.charge(v, 'vmexit.exception');
    if (locked) sim.withLock(v, 'shadow', hold);
    else sim.chargeCycles(v, hold, 'shadow');
    done[v] = (done[v] as number) + 1;
    sim.complete(done[v] === iterations ? { kind: 'block' } : { kind: 'continue' });
  }
  return sim.report();
}

describe('shadow-lock contention', () => {
  const ns = [1, 2, 4, 8];
  const locked = ns.map((n) => shadowWorkload(n, true));
  const unlocked = ns.map((n) => shadowWorkload(n, false));

  it('costs nothing for one vCPU and grows with every vCPU added', () => {
    const waitPerAcquire = locked.map((r) => {
      const s = r.locks[0];
      return (s?.waitCycles ?? 0) / (s?.acquisitions ?? 1);
    });
    expect(waitPerAcquire[0]).toBe(0);
    for (let i = 1; i < ns.length; i++) {
      expect(waitPerAcquire[i]).toBeGreaterThan(waitPerAcquire[i - 1] as number);
    }
  });

  it('stops scaling under the lock while the lock-free run scales (seed 003 Fig. 8 shape)', () => {
    // Same work per vCPU on as many pCPUs: without the lock each pCPU runs its vCPU alone, so
    // the run takes exactly the slowest vCPU's work plus one context switch.
    ns.forEach((n, i) => {
      const perIteration = 2_000 + 97 * (n - 1) + 1_360 + 400 + 3_000;
      expect(unlocked[i]?.elapsedCycles).toBe(4_000 + 60 * perIteration);
    });
    const grown = (locked[3]?.elapsedCycles as number) / (locked[0]?.elapsedCycles as number);
    expect(grown).toBeGreaterThan(2.5);
  });

  it('never overlaps two critical sections: total hold time fits in the elapsed time', () => {
    for (const r of locked) {
      const s = r.locks[0];
      expect(s?.holdCycles).toBeLessThanOrEqual(r.elapsedCycles);
      expect(r.metrics.histograms['lock.shadow.wait']?.count).toBe(s?.acquisitions);
    }
  });
});

describe('locks inside a Simulation', () => {
  it('pruning at the scheduler frontier never changes a grant (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 2000 })), {
          minLength: 1,
          maxLength: 6,
        }),
        (pcpus, programs) => {
          const sim = new Simulation({
            pcpus,
            quantum: 2500,
            timeSlice: 7000,
            accountingPeriod: 7000,
          });
          for (let i = 0; i < programs.length; i++) sim.addVcpu();
          const unpruned = new SimLock('shadow', sim.model.profile.locks.handoff.value);
          const rounds = new Array<number>(programs.length).fill(0);
          for (let d = sim.next(); d !== null; d = sim.next()) {
            const [work, hold] = programs[d.vcpu] as [number, number];
            sim.chargeCycles(d.vcpu, work);
            const expected = unpruned.acquire(sim.now(d.vcpu), hold).wait;
            expect(sim.withLock(d.vcpu, 'shadow', hold)).toBe(expected);
            rounds[d.vcpu] = (rounds[d.vcpu] as number) + 1;
            sim.complete(rounds[d.vcpu] === 20 ? { kind: 'block' } : { kind: 'continue' });
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
