import { describe, expect, it } from 'vitest';
import { defaultProfile, SimError, Simulation, withFigures } from '../src/index.js';

describe('Simulation', () => {
  it('charges events to the running vCPU, counts them, and completes with the charged cycles', () => {
    const sim = new Simulation({ pcpus: 1, quantum: 100_000 });
    const v = sim.addVcpu({ name: 'vm0.0' });
    const d = sim.next();
    expect(d?.vcpu).toBe(v);
    const start = d?.start as number;
    expect(start).toBe(defaultProfile.scheduler.contextSwitch.value);
    expect(sim.charge(v, 'vmexit.io', 2)).toBe(2 * (1360 + 1200));
    expect(sim.instructions(v, 'alu', 1000)).toBe(1000);
    expect(sim.memory(v, 'dram', 2)).toBe(300);
    expect(sim.now(v)).toBe(start + 5120 + 1000 + 300);
    expect(sim.budgetSpent).toBe(false);
    sim.complete({ kind: 'block' });
    const r = sim.report();
    expect(r.vcpus[0]?.runCycles).toBe(6420);
    expect(r.elapsedCycles).toBe(start + 6420);
    expect(r.metrics.counters['event.vmexit.io']).toBe(2);
    expect(r.metrics.counters['cycles.vmexit.io']).toBe(5120);
    expect(r.metrics.counters['insn.alu']).toBe(1000);
    expect(r.profile).toBe('xeon-5500-xen');
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });

  it('refuses charges to a vCPU that is not running', () => {
    const sim = new Simulation({ pcpus: 1 });
    const a = sim.addVcpu();
    const b = sim.addVcpu();
    expect(() => sim.charge(a, 'vmexit.io')).toThrow(SimError);
    sim.next();
    try {
      sim.charge(b, 'vmexit.io');
      expect.unreachable();
    } catch (e) {
      expect((e as SimError).code).toBe('NOT_RUNNING');
    }
    expect(() => sim.charge(a, 'vmexit.nonsense' as never)).toThrow(/unknown event/);
    expect(() => sim.wake(b, undefined)).not.toThrow();
  });

  it('delivers an IPI at the sender’s current cycle', () => {
    const sim = new Simulation({ pcpus: 2, quantum: 10_000 });
    const a = sim.addVcpu();
    const b = sim.addVcpu();
    // b blocks at once; a works 3000 cycles, then wakes b.
    let d = sim.next();
    expect(d?.vcpu).toBe(a);
    sim.chargeCycles(a, 3000);
    expect(sim.wake(b)).toBe(false); // b has not blocked yet: nothing to do
    sim.complete({ kind: 'continue' });
    d = sim.next();
    expect(d?.vcpu).toBe(b);
    sim.complete({ kind: 'block' });
    d = sim.next(); // a again
    expect(d?.vcpu).toBe(a);
    sim.chargeCycles(a, 500);
    const sendAt = sim.now(a);
    expect(sim.wake(b)).toBe(true);
    sim.complete({ kind: 'block' });
    d = sim.next();
    // Both pCPUs are free at the IPI's cycle; the lower-numbered one takes b and pays a switch.
    expect(d).toEqual({ pcpu: 0, vcpu: b, start: sendAt + 4000, budget: 10_000 });
    expect(sim.scheduler.vcpuStats(b).waitCycles).toBe(0);
    expect(sim.scheduler.vcpuStats(b).blockedCycles).toBe(sendAt - 4000);
  });

  it('uses a loaded profile for every price', () => {
    const p = withFigures(defaultProfile, 'cheap-exits', {
      'vmexit.roundTrip': {
        value: 0,
        source: { kind: 'assumption', ref: 'free exits for the test' },
      },
      'scheduler.contextSwitch': { value: 0, source: { kind: 'assumption', ref: 'free switches' } },
    });
    const sim = new Simulation({ pcpus: 1, profile: p });
    const v = sim.addVcpu();
    expect(sim.next()?.start).toBe(0);
    expect(sim.charge(v, 'vmexit.cpuid')).toBe(100);
    expect(sim.report().profile).toBe('cheap-exits');
  });
});
