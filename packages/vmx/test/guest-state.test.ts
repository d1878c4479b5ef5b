import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ActivityState,
  activityState,
  decodeInterruptibilityState,
  encodeInterruptibilityState,
  interruptWindowCausesExit,
  VmxError,
} from '../src/index.js';
import { checkLayout } from './layout.js';
import { TABLE_25_3 } from './sdm-tables.js';

const zero = {
  blockingBySti: false,
  blockingByMovSs: false,
  blockingBySmi: false,
  blockingByNmi: false,
  enclaveInterruption: false,
};

describe('interruptibility state (SDM Vol. 3C §25.4.2, Table 25-3)', () => {
  it('matches the table and round-trips', () => {
    checkLayout(TABLE_25_3, zero, encodeInterruptibilityState);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), (v) => {
        expect(encodeInterruptibilityState(decodeInterruptibilityState(v))).toBe(v & 0x1f);
      }),
      { numRuns: 200 },
    );
  });

  it('opens the interrupt window only with IF = 1 and no STI / MOV SS blocking', () => {
    for (let state = 0; state < 32; state++) {
      for (const control of [false, true]) {
        for (const ifFlag of [false, true]) {
          const s = decodeInterruptibilityState(state);
          const expected = control && ifFlag && !s.blockingBySti && !s.blockingByMovSs;
          expect(interruptWindowCausesExit(control, ifFlag, state)).toBe(expected);
        }
      }
    }
  });
});

describe('activity state (SDM Vol. 3C §25.4.2)', () => {
  it('numbers the four states and refuses others', () => {
    expect(ActivityState).toEqual({ ACTIVE: 0, HLT: 1, SHUTDOWN: 2, WAIT_FOR_SIPI: 3 });
    for (let s = 0; s < 4; s++) expect(activityState(s)).toBe(s);
    expect(() => activityState(4)).toThrow(VmxError);
  });
});
