import { MSR } from '@vmkit/x86';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  adjustControl,
  capabilityMsrFor,
  checkControl,
  checkControlFields,
  checkTertiaryControl,
  controlCapability,
  DEFAULT1_CONTROLS,
  decodeVmxBasic,
  decodeVmxMisc,
  IA32_VMX_PROCBASED_CTLS3,
  PinBasedControls,
  PrimaryProcessorControls,
  SecondaryProcessorControls,
  TertiaryProcessorControls,
  VmEntryControls,
  VmExitControls,
  VmxError,
} from '../src/index.js';
import {
  DEFAULT1_BITS,
  keyOf,
  TABLE_25_5,
  TABLE_25_6,
  TABLE_25_7,
  TABLE_25_8,
  VM_ENTRY_CONTROLS_TABLE,
  VM_EXIT_CONTROLS_TABLE,
} from './sdm-tables.js';

function expectTable(
  constants: Record<string, number | bigint>,
  table: ReadonlyArray<readonly [number, string]>,
) {
  const expected: Record<string, number | bigint> = {};
  for (const [bit, name] of table) {
    expected[keyOf(name)] =
      typeof Object.values(constants)[0] === 'bigint' ? 1n << BigInt(bit) : 2 ** bit;
  }
  expect({ ...constants }).toEqual(expected);
}

describe('control bits (SDM Vol. 3C §25.6-§25.8)', () => {
  it('pin-based controls are Table 25-5', () => expectTable(PinBasedControls, TABLE_25_5));
  it('primary processor-based controls are Table 25-6', () =>
    expectTable(PrimaryProcessorControls, TABLE_25_6));
  it('secondary processor-based controls are Table 25-7', () =>
    expectTable(SecondaryProcessorControls, TABLE_25_7));
  it('tertiary processor-based controls are Table 25-8', () =>
    expectTable(TertiaryProcessorControls, TABLE_25_8));
  it('VM-exit controls are the primary VM-exit controls table', () =>
    expectTable(VmExitControls, VM_EXIT_CONTROLS_TABLE));
  it('VM-entry controls are the VM-entry controls table', () =>
    expectTable(VmEntryControls, VM_ENTRY_CONTROLS_TABLE));

  it('default1 masks are the Appendix A bit lists, and no defined control is default1', () => {
    const mask = (bits: readonly number[]) => bits.reduce((m, b) => (m | (1 << b)) >>> 0, 0);
    expect(DEFAULT1_CONTROLS.PIN_BASED).toBe(mask(DEFAULT1_BITS.pin));
    expect(DEFAULT1_CONTROLS.PRIMARY_PROCESSOR).toBe(mask(DEFAULT1_BITS.primary));
    expect(DEFAULT1_CONTROLS.VM_EXIT).toBe(mask(DEFAULT1_BITS.exit));
    expect(DEFAULT1_CONTROLS.VM_ENTRY).toBe(mask(DEFAULT1_BITS.entry));
    // The default1 bits are reserved, except those that later became controls which the TRUE
    // MSRs let be 0: CR3-load/store exiting (15, 16) and "save debug controls"/"load debug
    // controls" (bit 2).
    const overlap = (a: number, b: Record<string, number>) =>
      Object.values(b).filter((m) => (a & m) !== 0);
    expect(overlap(DEFAULT1_CONTROLS.PIN_BASED, PinBasedControls)).toEqual([]);
    expect(
      overlap(DEFAULT1_CONTROLS.PRIMARY_PROCESSOR, PrimaryProcessorControls).sort((a, b) => a - b),
    ).toEqual([1 << 15, 1 << 16]);
    expect(overlap(DEFAULT1_CONTROLS.VM_EXIT, VmExitControls)).toEqual([1 << 2]);
    expect(overlap(DEFAULT1_CONTROLS.VM_ENTRY, VmEntryControls)).toEqual([1 << 2]);
  });
});

describe('allowed 0-settings and 1-settings (SDM Vol. 3D §A.3.1)', () => {
  // Independent model, bit by bit from the SDM sentences: "if bit X is 1 in bits 31:0 of the
  // MSR, the control must be 1"; "if bit 32+X is 0, the control must be 0".
  function model(value: number, msr: bigint) {
    for (let x = 0; x < 32; x++) {
      const v = Math.floor(value / 2 ** x) % 2;
      const mustBe1 = ((msr >> BigInt(x)) & 1n) === 1n;
      const mayBe1 = ((msr >> BigInt(32 + x)) & 1n) === 1n;
      if (mustBe1 && v === 0) return { bit: x, rule: 'MUST_BE_1' };
      if (!mayBe1 && v === 1) return { bit: x, rule: 'MUST_BE_0' };
    }
    return undefined;
  }

  it('reports exactly the lowest wrong bit and its rule', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (value, msr) => {
          // keep the MSR consistent (allowed0 implies allowed1), as real processors report
          const lo = msr & 0xffff_ffffn;
          const consistent = (((msr >> 32n) | lo) << 32n) | lo;
          expect(checkControl(value, controlCapability(consistent))).toEqual(
            model(value, consistent),
          );
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('finds violations near the value it is given', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.integer({ min: 0, max: 31 }),
        (allowed1, x) => {
          const allowed0 = (allowed1 & 0x0f0f_0f0f) >>> 0;
          const cap = { allowed0, allowed1 };
          const ok = adjustControl(0, cap);
          expect(checkControl(ok, cap)).toBeUndefined();
          const flipped = (ok ^ (1 << x)) >>> 0;
          const r = checkControl(flipped, cap);
          const fixed = ((allowed0 >>> x) & 1) === 1 || ((allowed1 >>> x) & 1) === 0;
          expect(r).toEqual(
            fixed
              ? { bit: x, rule: ((ok >>> x) & 1) === 1 ? 'MUST_BE_1' : 'MUST_BE_0' }
              : undefined,
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('splits the MSR into its halves', () => {
    expect(controlCapability(0x0000_007f_0000_0016n)).toEqual({ allowed0: 0x16, allowed1: 0x7f });
    expect(() => controlCapability(1n << 64n)).toThrow(VmxError);
  });

  it('checks tertiary controls against 64 allowed 1-settings', () => {
    expect(checkTertiaryControl(0x10n, 0x1fn)).toBeUndefined();
    expect(checkTertiaryControl(0x80n, 0x1fn)).toEqual({ bit: 7, rule: 'MUST_BE_0' });
    expect(checkTertiaryControl(1n << 63n, 0x1fn)).toEqual({ bit: 63, rule: 'MUST_BE_0' });
  });
});

describe('capability MSRs (SDM Vol. 3D Appendix A)', () => {
  it('picks the TRUE MSRs exactly when IA32_VMX_BASIC[55] is 1', () => {
    const plain = decodeVmxBasic(0n);
    const withTrue = decodeVmxBasic(1n << 55n);
    expect(capabilityMsrFor('pinBased', plain)).toBe(0x481);
    expect(capabilityMsrFor('primaryProcessor', plain)).toBe(0x482);
    expect(capabilityMsrFor('vmExit', plain)).toBe(0x483);
    expect(capabilityMsrFor('vmEntry', plain)).toBe(0x484);
    expect(capabilityMsrFor('secondaryProcessor', plain)).toBe(0x48b);
    expect(capabilityMsrFor('pinBased', withTrue)).toBe(0x48d);
    expect(capabilityMsrFor('primaryProcessor', withTrue)).toBe(0x48e);
    expect(capabilityMsrFor('vmExit', withTrue)).toBe(0x48f);
    expect(capabilityMsrFor('vmEntry', withTrue)).toBe(0x490);
    expect(capabilityMsrFor('secondaryProcessor', withTrue)).toBe(MSR.IA32_VMX_PROCBASED_CTLS2);
    expect(IA32_VMX_PROCBASED_CTLS3).toBe(0x492);
  });

  it('decodes IA32_VMX_BASIC and IA32_VMX_MISC fields', () => {
    const basic = decodeVmxBasic(0x00da_0400_0000_0004n);
    expect(basic).toEqual({
      revision: 4,
      regionSize: 0x400,
      physicalAddressWidth32: false,
      dualMonitor: true,
      memoryType: 6,
      insOutsInformation: true,
      trueControls: true,
      noErrorCodeRequirement: false,
    });
    const misc = decodeVmxMisc(0x2000_01e5n | (3n << 16n) | (1n << 30n));
    expect(misc.preemptionTimerRate).toBe(5);
    expect(misc.storesLma).toBe(true);
    expect(misc.activityHlt).toBe(true);
    expect(misc.activityShutdown).toBe(true);
    expect(misc.activityWaitForSipi).toBe(true);
    expect(misc.cr3TargetCount).toBe(3);
    expect(misc.maxMsrListSize).toBe(512);
    expect(misc.vmwriteAnyField).toBe(true);
    expect(misc.zeroLengthInjection).toBe(true);
    expect(decodeVmxMisc(7n << 25n).maxMsrListSize).toBe(4096);
  });

  it('checks whole control sets in VM-entry order and names the field', () => {
    const msrs = new Map<number, bigint>([
      [0x480, 1n << 55n],
      [0x48d, (0x7fn << 32n) | 0x16n], // TRUE pin-based
      [0x48e, (0xffff_fffen << 32n) | (0x0401_e172n & ~0x18000n)], // TRUE primary: CR3 exits may be 0
      [0x48b, 0x0000_04ffn << 32n],
      [0x48f, (0xffff_ffffn << 32n) | 0x36dfbn],
      [0x490, (0x0000_ffffn << 32n) | 0x11fbn],
      [IA32_VMX_PROCBASED_CTLS3, 0x10n],
    ]);
    const read = (n: number) => msrs.get(n) ?? 0n;
    const good = {
      pinBased: 0x16 | PinBasedControls.EXTERNAL_INTERRUPT_EXITING,
      primaryProcessor:
        (0x0401_e172 & ~0x18000) |
        PrimaryProcessorControls.HLT_EXITING |
        PrimaryProcessorControls.ACTIVATE_SECONDARY_CONTROLS,
      secondaryProcessor:
        SecondaryProcessorControls.ENABLE_EPT | SecondaryProcessorControls.PAUSE_LOOP_EXITING,
      vmExit: 0x36dfb | VmExitControls.HOST_ADDRESS_SPACE_SIZE,
      vmEntry: 0x11fb | VmEntryControls.IA32E_MODE_GUEST,
    };
    expect(checkControlFields(good, read)).toBeUndefined();
    expect(checkControlFields({ ...good, pinBased: 0 }, read)).toEqual({
      field: 'pinBased',
      bit: 1,
      rule: 'MUST_BE_1',
    });
    expect(checkControlFields({ ...good, secondaryProcessor: 1 << 12 }, read)).toEqual({
      field: 'secondaryProcessor',
      bit: 12,
      rule: 'MUST_BE_0',
    });
    // secondary controls are ignored while "activate secondary controls" is 0
    expect(
      checkControlFields(
        {
          ...good,
          primaryProcessor: good.primaryProcessor & 0x7fff_ffff,
          secondaryProcessor: 1 << 12,
        },
        read,
      ),
    ).toBeUndefined();
    expect(
      checkControlFields(
        { ...good, primaryProcessor: good.primaryProcessor | (1 << 17), tertiaryProcessor: 0x20n },
        read,
      ),
    ).toEqual({ field: 'tertiaryProcessor', bit: 5, rule: 'MUST_BE_0' });
    expect(checkControlFields({ ...good, vmEntry: good.vmEntry | (1 << 22) }, read)).toEqual({
      field: 'vmEntry',
      bit: 22,
      rule: 'MUST_BE_0',
    });
    // without TRUE MSRs the original MSRs are read (here: absent, so all must be 0)
    msrs.set(0x480, 0n);
    expect(checkControlFields(good, read)).toEqual({
      field: 'pinBased',
      bit: 0,
      rule: 'MUST_BE_0',
    });
  });
});
