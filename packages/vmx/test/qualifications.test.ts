import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ApicAccessType,
  CrAccessType,
  decodeApicAccessQualification,
  decodeCrAccessQualification,
  decodeDebugQualification,
  decodeIoQualification,
  decodeMovDrQualification,
  decodeTaskSwitchQualification,
  encodeApicAccessQualification,
  encodeCrAccessQualification,
  encodeDebugQualification,
  encodeIoQualification,
  encodeMovDrQualification,
  encodeTaskSwitchQualification,
  Gpr,
  LmswOperandType,
  TaskSwitchSource,
  VmxError,
} from '../src/index.js';
import { bitsOf, checkLayout, fieldOf } from './layout.js';
import {
  TABLE_28_1,
  TABLE_28_2,
  TABLE_28_3,
  TABLE_28_4,
  TABLE_28_5,
  TABLE_28_6,
} from './sdm-tables.js';

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const RUNS = { numRuns: 400 };

function definedBits(layout: ReadonlyArray<readonly [string, number, number]>): number {
  return layout.reduce((m, [, lo, hi]) => (m | bitsOf(lo, hi)) >>> 0, 0);
}

describe('control-register accesses (Table 28-3)', () => {
  const arb = fc.record({
    controlRegister: fc.integer({ min: 0, max: 15 }),
    accessType: fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<0 | 1 | 2 | 3>,
    lmswOperandType: fc.constantFrom(0, 1) as fc.Arbitrary<0 | 1>,
    generalPurposeRegister: fc.integer({ min: 0, max: 15 }),
    lmswSourceData: fc.integer({ min: 0, max: 0xffff }),
  });
  const zero = {
    controlRegister: 0,
    accessType: 0,
    lmswOperandType: 0,
    generalPurposeRegister: 0,
    lmswSourceData: 0,
  } as const;

  it('matches the table layout and encodings', () => {
    checkLayout(TABLE_28_3, zero, encodeCrAccessQualification, {
      accessType: [3, 0x30],
      lmswOperandType: [1, 0x40],
    });
    expect(CrAccessType).toEqual({ MOV_TO_CR: 0, MOV_FROM_CR: 1, CLTS: 2, LMSW: 3 });
    expect(LmswOperandType).toEqual({ REGISTER: 0, MEMORY: 1 });
    expect(Object.values(Gpr)).toEqual([...Array(16).keys()]);
    expect(Gpr.RSP).toBe(4);
    expect(Gpr.R8).toBe(8);
  });

  it('round-trips typed values and raw values', () => {
    fc.assert(
      fc.property(arb, (q) => {
        expect(decodeCrAccessQualification(encodeCrAccessQualification(q))).toEqual(q);
      }),
      RUNS,
    );
    fc.assert(
      fc.property(u32, (v) => {
        const q = decodeCrAccessQualification(v);
        expect(q.generalPurposeRegister).toBe(fieldOf(TABLE_28_3, v, 'generalPurposeRegister'));
        expect(q.lmswSourceData).toBe(fieldOf(TABLE_28_3, v, 'lmswSourceData'));
        expect(encodeCrAccessQualification(q)).toBe((v & definedBits(TABLE_28_3)) >>> 0);
      }),
      RUNS,
    );
  });

  it('encodes real instructions', () => {
    // MOV CR3, RAX (MOV to CR3 from RAX)
    expect(encodeCrAccessQualification({ ...zero, controlRegister: 3 })).toBe(0x3);
    // MOV R9, CR4
    expect(
      encodeCrAccessQualification({
        ...zero,
        controlRegister: 4,
        accessType: 1,
        generalPurposeRegister: Gpr.R9,
      }),
    ).toBe(0x914);
    // LMSW [mem] with source 0x0001
    expect(
      encodeCrAccessQualification({
        ...zero,
        accessType: 3,
        lmswOperandType: 1,
        lmswSourceData: 1,
      }),
    ).toBe(0x1_0070);
  });

  it('refuses fields that do not fit', () => {
    expect(() => encodeCrAccessQualification({ ...zero, controlRegister: 16 })).toThrow(VmxError);
    expect(() => encodeCrAccessQualification({ ...zero, lmswSourceData: 0x1_0000 })).toThrow(
      VmxError,
    );
    expect(() => encodeCrAccessQualification({ ...zero, lmswOperandType: 2 as 0 })).toThrow(
      VmxError,
    );
  });
});

describe('I/O instructions (Table 28-5)', () => {
  const arb = fc.record({
    size: fc.constantFrom(1, 2, 4) as fc.Arbitrary<1 | 2 | 4>,
    in: fc.boolean(),
    string: fc.boolean(),
    rep: fc.boolean(),
    immediate: fc.boolean(),
    port: fc.integer({ min: 0, max: 0xffff }),
  });
  const zero = {
    size: 1,
    in: false,
    string: false,
    rep: false,
    immediate: false,
    port: 0,
  } as const;

  it('matches the table layout; size encodes 0 = 1-byte, 1 = 2-byte, 3 = 4-byte', () => {
    checkLayout(TABLE_28_5, zero, encodeIoQualification, { size: [4, 3] });
    expect(encodeIoQualification({ ...zero, size: 2 })).toBe(1);
    expect(encodeIoQualification({ ...zero, size: 4 })).toBe(3);
  });

  it('round-trips typed values and raw values with a used size encoding', () => {
    fc.assert(
      fc.property(arb, (q) => {
        expect(decodeIoQualification(encodeIoQualification(q))).toEqual(q);
      }),
      RUNS,
    );
    fc.assert(
      fc.property(u32, fc.constantFrom(0, 1, 3), (raw, size) => {
        const v = ((raw & ~7) | size) >>> 0;
        const q = decodeIoQualification(v);
        expect(q.port).toBe(fieldOf(TABLE_28_5, v, 'port'));
        expect(q.in).toBe(fieldOf(TABLE_28_5, v, 'in') === 1);
        expect(encodeIoQualification(q)).toBe((v & definedBits(TABLE_28_5)) >>> 0);
      }),
      RUNS,
    );
  });

  it('encodes real instructions', () => {
    // IN AL, 0x60
    expect(encodeIoQualification({ ...zero, in: true, immediate: true, port: 0x60 })).toBe(
      0x0060_0048,
    );
    // REP OUTSB with DX = 0x3f8
    expect(encodeIoQualification({ ...zero, string: true, rep: true, port: 0x3f8 })).toBe(
      0x03f8_0030,
    );
  });

  it('refuses unused size encodings and bad fields', () => {
    for (const s of [2, 4, 5, 6, 7]) expect(() => decodeIoQualification(s)).toThrow(VmxError);
    expect(() => encodeIoQualification({ ...zero, size: 3 as 1 })).toThrow(VmxError);
    expect(() => encodeIoQualification({ ...zero, port: 0x1_0000 })).toThrow(VmxError);
  });
});

describe('debug exceptions (Table 28-1)', () => {
  const zero = {
    breakpoints: 0,
    busLockDetected: false,
    debugRegisterAccess: false,
    singleStep: false,
    rtm: false,
  };
  it('matches the table and round-trips', () => {
    checkLayout(TABLE_28_1, zero, encodeDebugQualification);
    fc.assert(
      fc.property(
        fc.record({
          breakpoints: fc.integer({ min: 0, max: 15 }),
          busLockDetected: fc.boolean(),
          debugRegisterAccess: fc.boolean(),
          singleStep: fc.boolean(),
          rtm: fc.boolean(),
        }),
        (q) => {
          expect(decodeDebugQualification(encodeDebugQualification(q))).toEqual(q);
        },
      ),
      RUNS,
    );
    fc.assert(
      fc.property(u32, (v) => {
        expect(encodeDebugQualification(decodeDebugQualification(v))).toBe(
          (v & definedBits(TABLE_28_1)) >>> 0,
        );
      }),
      RUNS,
    );
  });
});

describe('task switches (Table 28-2)', () => {
  it('matches the table and round-trips', () => {
    checkLayout(TABLE_28_2, { selector: 0, source: 0 as const }, encodeTaskSwitchQualification, {
      source: [3, 0xc000_0000],
    });
    expect(TaskSwitchSource).toEqual({ CALL: 0, IRET: 1, JMP: 2, TASK_GATE_IN_IDT: 3 });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<0 | 1 | 2 | 3>,
        (selector, source) => {
          expect(
            decodeTaskSwitchQualification(encodeTaskSwitchQualification({ selector, source })),
          ).toEqual({ selector, source });
        },
      ),
      RUNS,
    );
    fc.assert(
      fc.property(u32, (v) => {
        expect(encodeTaskSwitchQualification(decodeTaskSwitchQualification(v))).toBe(
          (v & definedBits(TABLE_28_2)) >>> 0,
        );
      }),
      RUNS,
    );
  });
});

describe('MOV DR (Table 28-4)', () => {
  it('matches the table and round-trips', () => {
    checkLayout(
      TABLE_28_4,
      { debugRegister: 0, fromDr: false, generalPurposeRegister: 0 },
      encodeMovDrQualification,
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 7 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 15 }),
        (debugRegister, fromDr, generalPurposeRegister) => {
          const q = { debugRegister, fromDr, generalPurposeRegister };
          expect(decodeMovDrQualification(encodeMovDrQualification(q))).toEqual(q);
        },
      ),
      RUNS,
    );
    fc.assert(
      fc.property(u32, (v) => {
        expect(encodeMovDrQualification(decodeMovDrQualification(v))).toBe(
          (v & definedBits(TABLE_28_4)) >>> 0,
        );
      }),
      RUNS,
    );
  });
});

describe('APIC access (Table 28-6)', () => {
  const types = [0, 1, 2, 3, 10, 15];
  it('matches the table; only the listed access types exist', () => {
    checkLayout(
      TABLE_28_6,
      { offset: 0, accessType: 0, asynchronous: false },
      encodeApicAccessQualification,
      { accessType: [15, 0xf000] },
    );
    expect(Object.values(ApicAccessType).sort((a, b) => a - b)).toEqual(types);
    for (let t = 0; t < 16; t++) {
      const encode = () =>
        encodeApicAccessQualification({ offset: 0, accessType: t, asynchronous: false });
      const decode = () => decodeApicAccessQualification(t << 12);
      if (types.includes(t)) {
        expect(decode().accessType).toBe(t);
        expect(encode()).toBe(t << 12);
      } else {
        expect(encode).toThrow(VmxError);
        expect(decode).toThrow(VmxError);
      }
    }
  });

  it('round-trips', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xfff }),
        fc.constantFrom(...types),
        fc.boolean(),
        (offset, accessType, asynchronous) => {
          const q = { offset, accessType, asynchronous };
          expect(decodeApicAccessQualification(encodeApicAccessQualification(q))).toEqual(q);
        },
      ),
      RUNS,
    );
  });
});
