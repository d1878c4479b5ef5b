import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  PauseLoopDetector,
  PLE_INITIAL_STATE,
  type PleState,
  pauseAction,
  pleStep,
  VmxError,
} from '../src/index.js';

describe('PAUSE in VMX non-root operation (SDM Vol. 3C §26.1.3)', () => {
  it('follows the CPL / PAUSE exiting / PAUSE-loop exiting table', () => {
    for (const cpl of [0, 1, 2, 3]) {
      for (const pauseExiting of [false, true]) {
        for (const ple of [false, true]) {
          let expected: string;
          if (pauseExiting)
            expected = 'EXIT'; // PLE ignored at CPL 0; decides alone at CPL > 0
          else if (cpl === 0 && ple) expected = 'PAUSE_LOOP_CHECK';
          else expected = 'EXECUTE';
          expect(pauseAction(cpl, pauseExiting, ple), `${cpl} ${pauseExiting} ${ple}`).toBe(
            expected,
          );
        }
      }
    }
  });
});

describe('PAUSE-loop exiting (SDM Vol. 3C §25.6.13, §26.1.3)', () => {
  // A trace computed by hand from the SDM text with PLE_Gap = 100 and PLE_Window = 1000:
  // [tsc, first in loop?, exits?]. "Exceeds" is strict.
  const GAP = 100;
  const WINDOW = 1000;
  const TRACE: ReadonlyArray<readonly [number, boolean, boolean]> = [
    [0, true, false], // first PAUSE at CPL 0 after VM entry starts a loop
    [50, false, false], // 50 since the previous: same loop; 50 since loop start
    [150, false, false], // exactly PLE_Gap since the previous: does not exceed, same loop
    [251, true, false], // 101 > PLE_Gap: a new loop starts at 251
    [351, false, false],
    [451, false, false],
    [551, false, false],
    [651, false, false],
    [751, false, false],
    [851, false, false],
    [951, false, false],
    [1051, false, false],
    [1151, false, false],
    [1251, false, false], // exactly PLE_Window since 251: does not exceed
    [1351, false, true], // 1100 > PLE_Window: VM exit
    [1400, false, true], // without a VM entry, still the same loop: exits again
  ];

  it('reproduces the hand trace with the pure state machine', () => {
    let state: PleState = PLE_INITIAL_STATE;
    for (const [tsc, first, exit] of TRACE) {
      const step = pleStep(state, tsc, GAP, WINDOW);
      expect([tsc, step.firstInLoop, step.exit]).toEqual([tsc, first, exit]);
      state = step.state;
    }
  });

  it('reproduces the hand trace with the detector, and restarts at VM entry', () => {
    const ple = new PauseLoopDetector(GAP, WINDOW);
    ple.vmEntry();
    for (const [tsc, , exit] of TRACE) expect([tsc, ple.pause(tsc)]).toEqual([tsc, exit]);
    ple.vmEntry();
    expect(ple.pause(1410)).toBe(false); // first after VM entry
    expect(ple.loopStart).toBe(1410);
  });

  it('a PAUSE exits only once the loop is longer than PLE_Window', () => {
    // spinning with PAUSEs every `step` cycles (step <= gap): the first exit is the first PAUSE
    // more than PLE_Window after the loop start
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 10_000 }),
        (step, window, start) => {
          const ple = new PauseLoopDetector(200, window);
          let tsc = start;
          while (!ple.pause(tsc)) tsc += step;
          expect(tsc - start).toBe((Math.floor(window / step) + 1) * step);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never exits when PAUSEs are further apart than PLE_Gap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.array(fc.integer({ min: 1, max: 1000 }), { maxLength: 50 }),
        (gap, extra) => {
          const ple = new PauseLoopDetector(gap, 0);
          let tsc = 0;
          for (const e of extra) {
            tsc += gap + e;
            expect(ple.pause(tsc)).toBe(false);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('the detector and the pure state machine agree on random traces', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 3000 }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 400 }), fc.constant(-1)), { maxLength: 200 }),
        (gap, window, deltas) => {
          const ple = new PauseLoopDetector(gap, window);
          let state: PleState = PLE_INITIAL_STATE;
          let tsc = 0;
          for (const d of deltas) {
            if (d < 0) {
              ple.vmEntry();
              state = PLE_INITIAL_STATE;
              continue;
            }
            tsc += d;
            const step = pleStep(state, tsc, gap, window);
            state = step.state;
            expect(ple.pause(tsc)).toBe(step.exit);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses PLE fields that are not 32-bit values', () => {
    expect(() => new PauseLoopDetector(-1, 0)).toThrow(VmxError);
    expect(() => new PauseLoopDetector(0, 2 ** 32)).toThrow(VmxError);
    expect(() => new PauseLoopDetector(0.5, 0)).toThrow(VmxError);
  });
});
