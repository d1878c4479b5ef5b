import { describe, expect, it } from 'vitest';
import { Vm } from '../src/index.js';

describe('determinism', () => {
  it('two runs of compute retire the same instructions, exits, ticks and output', () => {
    const run = () =>
      new Vm({ command: 'compute n=4000 m=16' }).run({ maxInstructions: 30_000_000 });
    const a = run();
    const b = run();
    expect(a.end).toBe('exit');
    expect(b).toEqual(a);
    // The timer fired: the quantum drives interrupts, and they landed at the same points.
    expect(a.interrupts).toBeGreaterThan(0);
  }, 60_000);

  it('stopping and resuming on the budget ends exactly as one long run', () => {
    const whole = new Vm({ command: 'hello' }).run();
    const vm = new Vm({ command: 'hello' });
    let r = vm.run({ maxInstructions: 1000 });
    let calls = 1;
    while (r.end === 'budget') {
      r = vm.run({ maxInstructions: 1777 });
      calls++;
    }
    expect(calls).toBeGreaterThan(10);
    // TLB hits count the lookups of the CPU's fetch path, which starts afresh on every run()
    // call; everything else, TLB misses included, is independent of how the run is sliced.
    expect({ ...r, tlb: { ...r.tlb, hits: 0 } }).toEqual({
      ...whole,
      tlb: { ...whole.tlb, hits: 0 },
    });
    expect(r.tlb.hits).toBeGreaterThanOrEqual(whole.tlb.hits);
  }, 60_000);

  it('the quantum sets the timer rate: a smaller quantum, more timer interrupts', () => {
    const coarse = new Vm({ command: 'compute n=4000 m=16', timerQuantum: 1_000_000 }).run();
    const fine = new Vm({ command: 'compute n=4000 m=16', timerQuantum: 100_000 }).run();
    expect(fine.status).toBe(0);
    expect(coarse.status).toBe(0);
    expect(fine.interrupts).toBeGreaterThan(coarse.interrupts * 5);
    // Same program result whatever the timer does (ticks aside).
    const strip = (s: string) => s.replace(/ ticks=\d+/g, '');
    expect(strip(fine.console)).toBe(strip(coarse.console));
  }, 60_000);

  it('forwards console bytes as they are written and refuses to run past the exit', () => {
    let seen = '';
    const vm = new Vm({
      command: 'hello',
      onConsole: (c) => {
        seen += c;
      },
    });
    const r = vm.run();
    expect(seen).toBe(r.console);
    expect(r.console).toContain('RESULT hello pid=1');
    expect(() => vm.run()).toThrow(expect.objectContaining({ code: 'BAD_RUN' }));
  });
});
