import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BasicExitReason,
  basicExitReasonName,
  decodeExitReason,
  EXIT_REASON,
  type ExitReason,
  encodeExitReason,
  VmxError,
} from '../src/index.js';
import { checkLayout, fieldOf } from './layout.js';
import { EXIT_REASON_LAYOUT, TABLE_C1 } from './sdm-tables.js';

describe('basic exit reasons (SDM Vol. 3D Appendix C, Table C-1)', () => {
  it('numbers every reason as the table does, and nothing else', () => {
    const numbers = Object.values(BasicExitReason).sort((a, b) => a - b);
    expect(numbers).toEqual(TABLE_C1.map(([n]) => n));
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  it('names every reason as the table spells it', () => {
    for (const [n, name] of TABLE_C1) expect(basicExitReasonName(n)).toBe(name);
  });

  it('has no name for the numbers the table leaves out', () => {
    const defined = new Set(TABLE_C1.map(([n]) => n));
    for (let n = 0; n <= 0xffff; n++) {
      if (!defined.has(n)) expect(basicExitReasonName(n)).toBeUndefined();
    }
  });

  it('keeps the constants the VMM and CPU depend on', () => {
    expect(BasicExitReason.HLT).toBe(12);
    expect(BasicExitReason.PAUSE).toBe(40);
    expect(BasicExitReason.EPT_VIOLATION).toBe(48);
    expect(BasicExitReason.EPT_MISCONFIGURATION).toBe(49);
    expect(BasicExitReason.VMX_PREEMPTION_TIMER_EXPIRED).toBe(52);
    expect(basicExitReasonName(BasicExitReason.CONTROL_REGISTER_ACCESSES)).toBe(
      'Control-register accesses',
    );
  });
});

describe('exit-reason field (SDM Vol. 3C §25.9.1)', () => {
  const zero: ExitReason = {
    basic: 0,
    busLockDetected: false,
    enclaveMode: false,
    pendingMtf: false,
    fromVmxRoot: false,
    vmEntryFailure: false,
  };

  it('places each field where the SDM says', () => {
    checkLayout(EXIT_REASON_LAYOUT, zero, encodeExitReason);
    expect(EXIT_REASON.VM_ENTRY_FAILURE).toBe(2 ** 31);
    expect(EXIT_REASON.ENCLAVE_MODE).toBe(2 ** 27);
    expect(EXIT_REASON.PENDING_MTF).toBe(2 ** 28);
    expect(EXIT_REASON.FROM_VMX_ROOT).toBe(2 ** 29);
  });

  const arbReason = fc.record({
    basic: fc.integer({ min: 0, max: 0xffff }),
    busLockDetected: fc.boolean(),
    enclaveMode: fc.boolean(),
    pendingMtf: fc.boolean(),
    fromVmxRoot: fc.boolean(),
    vmEntryFailure: fc.boolean(),
  });

  it('round-trips every typed value', () => {
    fc.assert(
      fc.property(arbReason, (r) => {
        expect(decodeExitReason(encodeExitReason(r))).toEqual(r);
      }),
      { numRuns: 500 },
    );
  });

  it('decodes every 32-bit value to the fields the layout reads', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), (v) => {
        const r = decodeExitReason(v);
        expect(r.basic).toBe(fieldOf(EXIT_REASON_LAYOUT, v, 'basic'));
        expect(r.vmEntryFailure).toBe(fieldOf(EXIT_REASON_LAYOUT, v, 'vmEntryFailure') === 1);
        expect(r.fromVmxRoot).toBe(fieldOf(EXIT_REASON_LAYOUT, v, 'fromVmxRoot') === 1);
        // re-encoding keeps exactly the defined bits
        expect(encodeExitReason(r)).toBe((v & 0xbc00_ffff) >>> 0);
      }),
      { numRuns: 500 },
    );
  });

  it('decodes a VM-entry failure due to invalid guest state', () => {
    expect(decodeExitReason(0x8000_0021)).toEqual({ ...zero, basic: 33, vmEntryFailure: true });
  });

  it('refuses out-of-range fields and raw values with typed errors', () => {
    expect(() => encodeExitReason({ ...zero, basic: 0x1_0000 })).toThrow(VmxError);
    expect(() => encodeExitReason({ ...zero, basic: -1 })).toThrow(VmxError);
    expect(() => decodeExitReason(-1)).toThrow(VmxError);
    expect(() => decodeExitReason(1.5)).toThrow(VmxError);
    try {
      encodeExitReason({ ...zero, pendingMtf: 1 as unknown as boolean });
    } catch (e) {
      expect(e).toBeInstanceOf(VmxError);
      expect((e as VmxError).code).toBe('INVALID_FIELD');
      expect((e as VmxError).field).toBe('pendingMtf');
    }
  });
});
