import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkEntryInterruption,
  decodeEntryInterruptionInfo,
  decodeExitInterruptionInfo,
  decodeIdtVectoringInfo,
  encodeEntryInterruptionInfo,
  encodeExitInterruptionInfo,
  encodeIdtVectoringInfo,
  InterruptionType,
  VmxError,
} from '../src/index.js';
import { bitsOf, checkLayout } from './layout.js';
import {
  ENTRY_INTERRUPTION_LAYOUT,
  EXIT_INTERRUPTION_LAYOUT,
  IDT_VECTORING_LAYOUT,
  type Layout,
} from './sdm-tables.js';

const RUNS = { numRuns: 300 };
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const defined = (l: Layout) => l.reduce((m, [, lo, hi]) => (m | bitsOf(lo, hi)) >>> 0, 0);

// The interruption types each field may hold (SDM Vol. 3C §25.9.2, §25.9.3, §25.8.3).
const EXIT_TYPES = [0, 2, 3, 5, 6];
const IDT_TYPES = [0, 2, 3, 4, 5, 6];
const ENTRY_TYPES = [0, 2, 3, 4, 5, 6, 7];

describe('interruption types', () => {
  it('are numbered as the SDM tables number them', () => {
    expect(InterruptionType).toEqual({
      EXTERNAL_INTERRUPT: 0,
      NMI: 2,
      HARDWARE_EXCEPTION: 3,
      SOFTWARE_INTERRUPT: 4,
      PRIVILEGED_SOFTWARE_EXCEPTION: 5,
      SOFTWARE_EXCEPTION: 6,
      OTHER_EVENT: 7,
    });
  });
});

describe('VM-exit interruption information (§25.9.2)', () => {
  const zero = {
    vector: 0,
    type: 0,
    errorCodeValid: false,
    nmiUnblockingDueToIret: false,
    valid: false,
  };
  it('matches the layout and refuses unused types', () => {
    checkLayout(EXIT_INTERRUPTION_LAYOUT, zero, encodeExitInterruptionInfo, { type: [6, 0x600] });
    for (let t = 0; t < 8; t++) {
      const f = () => encodeExitInterruptionInfo({ ...zero, type: t });
      if (EXIT_TYPES.includes(t)) expect(f()).toBe(t << 8);
      else expect(f).toThrow(VmxError);
    }
  });
  it('round-trips', () => {
    const arb = fc.record({
      vector: fc.integer({ min: 0, max: 255 }),
      type: fc.constantFrom(...EXIT_TYPES),
      errorCodeValid: fc.boolean(),
      nmiUnblockingDueToIret: fc.boolean(),
      valid: fc.boolean(),
    });
    fc.assert(
      fc.property(arb, (i) => {
        expect(decodeExitInterruptionInfo(encodeExitInterruptionInfo(i))).toEqual(i);
      }),
      RUNS,
    );
    fc.assert(
      fc.property(u32, (v) => {
        const i = decodeExitInterruptionInfo(v);
        if (EXIT_TYPES.includes(i.type))
          expect(encodeExitInterruptionInfo(i)).toBe((v & defined(EXIT_INTERRUPTION_LAYOUT)) >>> 0);
      }),
      RUNS,
    );
  });
  it('encodes a #PF exit', () => {
    expect(
      encodeExitInterruptionInfo({
        vector: 14,
        type: 3,
        errorCodeValid: true,
        nmiUnblockingDueToIret: false,
        valid: true,
      }),
    ).toBe(0x8000_0b0e);
  });
});

describe('IDT-vectoring information (§25.9.3)', () => {
  const zero = { vector: 0, type: 0, errorCodeValid: false, valid: false };
  it('matches the layout and refuses unused types', () => {
    checkLayout(IDT_VECTORING_LAYOUT, zero, encodeIdtVectoringInfo, { type: [6, 0x600] });
    for (let t = 0; t < 8; t++) {
      const f = () => encodeIdtVectoringInfo({ ...zero, type: t });
      if (IDT_TYPES.includes(t)) expect(f()).toBe(t << 8);
      else expect(f).toThrow(VmxError);
    }
  });
  it('round-trips', () => {
    const arb = fc.record({
      vector: fc.integer({ min: 0, max: 255 }),
      type: fc.constantFrom(...IDT_TYPES),
      errorCodeValid: fc.boolean(),
      valid: fc.boolean(),
    });
    fc.assert(
      fc.property(arb, (i) => {
        expect(decodeIdtVectoringInfo(encodeIdtVectoringInfo(i))).toEqual(i);
      }),
      RUNS,
    );
    fc.assert(
      fc.property(u32, (v) => {
        const i = decodeIdtVectoringInfo(v);
        if (IDT_TYPES.includes(i.type))
          expect(encodeIdtVectoringInfo(i)).toBe((v & defined(IDT_VECTORING_LAYOUT)) >>> 0);
      }),
      RUNS,
    );
  });
});

describe('VM-entry interruption information (§25.8.3)', () => {
  const zero = { vector: 0, type: 0, deliverErrorCode: false, valid: false };
  it('matches the layout and refuses the reserved type 1', () => {
    checkLayout(ENTRY_INTERRUPTION_LAYOUT, zero, encodeEntryInterruptionInfo, { type: [7, 0x700] });
    expect(() => encodeEntryInterruptionInfo({ ...zero, type: 1 })).toThrow(VmxError);
  });
  it('round-trips', () => {
    const arb = fc.record({
      vector: fc.integer({ min: 0, max: 255 }),
      type: fc.constantFrom(...ENTRY_TYPES),
      deliverErrorCode: fc.boolean(),
      valid: fc.boolean(),
    });
    fc.assert(
      fc.property(arb, (i) => {
        expect(decodeEntryInterruptionInfo(encodeEntryInterruptionInfo(i))).toEqual(i);
      }),
      RUNS,
    );
  });
});

describe('VM-entry checks on event injection (§27.2.1.3)', () => {
  const pm = { guestCr0Pe: true };
  const info = (vector: number, type: number, dec = false) =>
    (0x8000_0000 | (dec ? 0x800 : 0) | (type << 8) | vector) >>> 0;
  // The vectors whose exceptions push an error code: SDM Vol. 3A §6.3.1 Table 6-1 (#DF, #TS,
  // #NP, #SS, #GP, #PF, #AC, #CP), transcribed here independently of @vmkit/x86.
  const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17, 21]);

  it('checks nothing when the valid bit is 0', () => {
    expect(checkEntryInterruption(0x7fff_ffff, 0xffff_ffff, 99, pm)).toBeUndefined();
  });

  it('applies the deliver-error-code rule for every vector of a hardware exception', () => {
    for (let v = 0; v < 32; v++) {
      const needs = ERROR_CODE_VECTORS.has(v);
      expect(checkEntryInterruption(info(v, 3, needs), 0, 0, pm), `vector ${v}`).toBeUndefined();
      expect(checkEntryInterruption(info(v, 3, !needs), 0, 0, pm), `vector ${v}`).toBe(
        'DELIVER_ERROR_CODE',
      );
      // real mode (unrestricted guest): no error code for any vector
      expect(
        checkEntryInterruption(info(v, 3, false), 0, 0, { guestCr0Pe: false }),
      ).toBeUndefined();
      expect(checkEntryInterruption(info(v, 3, true), 0, 0, { guestCr0Pe: false })).toBe(
        'DELIVER_ERROR_CODE',
      );
      // IA32_VMX_BASIC[56]: any vector may or may not deliver one in protected mode
      const relaxed = { guestCr0Pe: true, noErrorCodeRequirement: true };
      expect(checkEntryInterruption(info(v, 3, true), 0, 0, relaxed)).toBeUndefined();
      expect(checkEntryInterruption(info(v, 3, false), 0, 0, relaxed)).toBeUndefined();
    }
  });

  it('checks the vector against the type', () => {
    expect(checkEntryInterruption(info(2, 2), 0, 0, pm)).toBeUndefined();
    expect(checkEntryInterruption(info(3, 2), 0, 0, pm)).toBe('NMI_VECTOR');
    expect(checkEntryInterruption(info(32, 3), 0, 0, pm)).toBe('EXCEPTION_VECTOR');
    expect(checkEntryInterruption(info(0, 7), 0, 0, pm)).toBeUndefined();
    expect(checkEntryInterruption(info(1, 7), 0, 0, pm)).toBe('OTHER_EVENT_VECTOR');
    expect(
      checkEntryInterruption(info(0, 7), 0, 0, {
        guestCr0Pe: true,
        monitorTrapFlagSupported: false,
      }),
    ).toBe('TYPE_RESERVED');
    expect(checkEntryInterruption(info(0x20, 1), 0, 0, pm)).toBe('TYPE_RESERVED');
    expect(checkEntryInterruption(info(0x20, 0), 0, 0, pm)).toBeUndefined();
  });

  it('checks reserved bits, error-code bits and instruction length', () => {
    expect(checkEntryInterruption((info(0x20, 0) | 0x1000) >>> 0, 0, 0, pm)).toBe('RESERVED_BITS');
    expect(checkEntryInterruption(info(13, 3, true), 0xffff, 0, pm)).toBeUndefined();
    expect(checkEntryInterruption(info(13, 3, true), 0x1_0000, 0, pm)).toBe('ERROR_CODE_BITS');
    for (const type of [4, 5, 6]) {
      expect(checkEntryInterruption(info(3, type), 0, 0, pm)).toBe('INSTRUCTION_LENGTH');
      expect(checkEntryInterruption(info(3, type), 0, 1, pm)).toBeUndefined();
      expect(checkEntryInterruption(info(3, type), 0, 15, pm)).toBeUndefined();
      expect(checkEntryInterruption(info(3, type), 0, 16, pm)).toBe('INSTRUCTION_LENGTH');
      expect(
        checkEntryInterruption(info(3, type), 0, 0, {
          guestCr0Pe: true,
          zeroLengthInjection: true,
        }),
      ).toBeUndefined();
    }
    expect(() => checkEntryInterruption(-1, 0, 0, pm)).toThrow(VmxError);
  });
});
