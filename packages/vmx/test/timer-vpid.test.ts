import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkVpid,
  effectiveVpid,
  preemptionTimerDeadline,
  preemptionTimerRemaining,
  preemptionTimerTicks,
  VmxError,
  VPID_MAX,
} from '../src/index.js';

describe('VMX-preemption timer rate (SDM Vol. 3C §26.5.1)', () => {
  // Independent model: walk the TSC one increment at a time and count changes of bit X.
  function ticksModel(from: number, to: number, x: number): number {
    let n = 0;
    for (let t = from; t < to; t++)
      if (Math.floor(t / 2 ** x) % 2 !== Math.floor((t + 1) / 2 ** x) % 2) n++;
    return n;
  }

  it('decrements once per change of TSC bit X', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 0, max: 10 }),
        (from, len, x) => {
          expect(preemptionTimerTicks(from, from + len, x)).toBe(ticksModel(from, from + len, x));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('expires at the TSC where the count reaches 0, immediately for 0', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 31 }),
        (value, tsc, x) => {
          const deadline = preemptionTimerDeadline(value, tsc, x);
          expect(preemptionTimerRemaining(value, tsc, deadline, x)).toBe(0);
          if (value > 0) {
            expect(deadline).toBeGreaterThan(tsc);
            expect(preemptionTimerRemaining(value, tsc, deadline - 1, x)).toBe(1);
          } else {
            expect(deadline).toBe(tsc);
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(preemptionTimerDeadline(3, 40, 5)).toBe(128);
    expect(preemptionTimerRemaining(3, 40, 100, 5)).toBe(1);
  });

  it('refuses out-of-range arguments', () => {
    expect(() => preemptionTimerTicks(10, 5, 0)).toThrow(VmxError);
    expect(() => preemptionTimerTicks(0, 5, 32)).toThrow(VmxError);
    expect(() => preemptionTimerDeadline(2 ** 32, 0, 0)).toThrow(VmxError);
  });
});

describe('VPID (SDM Vol. 3C §25.6.12, §27.2.1.1)', () => {
  it('requires a non-zero 16-bit VPID when enabled', () => {
    expect(checkVpid(true, 0)).toBe('ZERO');
    expect(checkVpid(false, 0)).toBeUndefined();
    expect(checkVpid(true, 1)).toBeUndefined();
    expect(checkVpid(true, VPID_MAX)).toBeUndefined();
    expect(checkVpid(true, 0x1_0000)).toBe('RANGE');
    expect(checkVpid(false, -1)).toBe('RANGE');
    expect(effectiveVpid(false, 5)).toBe(0);
    expect(effectiveVpid(true, 5)).toBe(5);
  });
});
