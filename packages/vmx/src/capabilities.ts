// VMX capability reporting, SDM Vol. 3D Appendix A: IA32_VMX_BASIC (§A.1), the control
// capability MSRs with their allowed 0-settings and allowed 1-settings (§A.3.1 pin-based,
// §A.3.2 primary, §A.3.3 secondary, §A.3.4 tertiary, §A.4 VM-exit, §A.5 VM-entry), and
// IA32_VMX_MISC (§A.6). VM entry applies the rule in SDM Vol. 3C §27.2.1.1.
import { MSR } from '@vmkit/x86';
import { VmxError } from './errors.js';

/**
 * IA32_VMX_PROCBASED_CTLS3 (SDM Vol. 3D §A.3.4): the allowed 1-settings of the 64-bit tertiary
 * controls. The other VMX capability MSR numbers are in `MSR` of `@vmkit/x86`.
 */
export const IA32_VMX_PROCBASED_CTLS3 = 0x492;

function checkMsr(value: bigint, what: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value >= 1n << 64n) {
    throw new VmxError('INVALID_VALUE', `${what} must be a bigint in [0, 2^64)`);
  }
  return value;
}

/** IA32_VMX_BASIC, decoded (SDM Vol. 3D §A.1). */
export interface VmxBasic {
  /** Bits 30:0: VMCS revision identifier. */
  readonly revision: number;
  /** Bits 44:32: bytes to allocate for the VMXON region and any VMCS region (at most 4096). */
  readonly regionSize: number;
  /** Bit 48: VMXON/VMCS/bitmap addresses are limited to 32 bits. */
  readonly physicalAddressWidth32: boolean;
  /** Bit 49: dual-monitor treatment of SMIs and SMM supported. */
  readonly dualMonitor: boolean;
  /** Bits 53:50: memory type for VMCS accesses (0 = UC, 6 = WB). */
  readonly memoryType: number;
  /** Bit 54: INS/OUTS VM exits report instruction information. */
  readonly insOutsInformation: boolean;
  /** Bit 55: default1 controls may be 0: the IA32_VMX_TRUE_*_CTLS MSRs report them. */
  readonly trueControls: boolean;
  /** Bit 56: hardware-exception injection need not match the error-code rule. */
  readonly noErrorCodeRequirement: boolean;
}

/**
 * Decodes IA32_VMX_BASIC (SDM Vol. 3D §A.1).
 *
 * @param msr - the MSR value
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` when `msr` is not a bigint in [0, 2^64)
 * @example
 * ```ts
 * decodeVmxBasic(0x00da_0400_0000_0004n).trueControls; // true
 * ```
 */
export function decodeVmxBasic(msr: bigint): VmxBasic {
  const v = checkMsr(msr, 'IA32_VMX_BASIC');
  const bit = (n: bigint): boolean => ((v >> n) & 1n) === 1n;
  return {
    revision: Number(v & 0x7fff_ffffn),
    regionSize: Number((v >> 32n) & 0x1fffn),
    physicalAddressWidth32: bit(48n),
    dualMonitor: bit(49n),
    memoryType: Number((v >> 50n) & 0xfn),
    insOutsInformation: bit(54n),
    trueControls: bit(55n),
    noErrorCodeRequirement: bit(56n),
  };
}

/** IA32_VMX_MISC, decoded (SDM Vol. 3D §A.6). */
export interface VmxMisc {
  /** Bits 4:0: the VMX-preemption timer counts down by 1 each time TSC bit X changes. */
  readonly preemptionTimerRate: number;
  /** Bit 5: VM exits store EFER.LMA into the "IA-32e mode guest" entry control. */
  readonly storesLma: boolean;
  /** Bit 6: activity state HLT supported. */
  readonly activityHlt: boolean;
  /** Bit 7: activity state shutdown supported. */
  readonly activityShutdown: boolean;
  /** Bit 8: activity state wait-for-SIPI supported. */
  readonly activityWaitForSipi: boolean;
  /** Bit 14: Intel PT may be used in VMX operation. */
  readonly intelPtInVmx: boolean;
  /** Bit 15: RDMSR may read IA32_SMBASE in SMM. */
  readonly rdmsrSmbaseInSmm: boolean;
  /** Bits 24:16: number of CR3-target values supported. */
  readonly cr3TargetCount: number;
  /** Bits 27:25 as a count: recommended maximum MSRs in each MSR list, 512 · (N + 1). */
  readonly maxMsrListSize: number;
  /** Bit 28: IA32_SMM_MONITOR_CTL bit 2 may be set. */
  readonly smmMonitorCtlBit2: boolean;
  /** Bit 29: VMWRITE may write any supported VMCS field, including exit-information fields. */
  readonly vmwriteAnyField: boolean;
  /** Bit 30: VM entry allows injection of software events with instruction length 0. */
  readonly zeroLengthInjection: boolean;
  /** Bits 63:32: MSEG revision identifier. */
  readonly msegRevision: number;
}

/**
 * Decodes IA32_VMX_MISC (SDM Vol. 3D §A.6).
 *
 * @param msr - the MSR value
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` when `msr` is not a bigint in [0, 2^64)
 * @example
 * ```ts
 * decodeVmxMisc(0x2000_01e5n).preemptionTimerRate; // 5: the timer ticks every 32 TSC cycles
 * ```
 */
export function decodeVmxMisc(msr: bigint): VmxMisc {
  const v = checkMsr(msr, 'IA32_VMX_MISC');
  const lo = Number(v & 0xffff_ffffn);
  const bit = (n: number): boolean => ((lo >>> n) & 1) === 1;
  return {
    preemptionTimerRate: lo & 0x1f,
    storesLma: bit(5),
    activityHlt: bit(6),
    activityShutdown: bit(7),
    activityWaitForSipi: bit(8),
    intelPtInVmx: bit(14),
    rdmsrSmbaseInSmm: bit(15),
    cr3TargetCount: (lo >>> 16) & 0x1ff,
    maxMsrListSize: 512 * (((lo >>> 25) & 7) + 1),
    smmMonitorCtlBit2: bit(28),
    vmwriteAnyField: bit(29),
    zeroLengthInjection: bit(30),
    msegRevision: Number(v >> 32n),
  };
}

/**
 * The allowed settings of a 32-bit control field, as a capability MSR reports them (SDM Vol.
 * 3D §A.3.1): `allowed0` is bits 31:0 (a 1 means the control must be 1), `allowed1` is bits
 * 63:32 (a 0 means the control must be 0).
 */
export interface ControlCapability {
  /** Allowed 0-settings: bit X = 1 means control X may not be 0. */
  readonly allowed0: number;
  /** Allowed 1-settings: bit X = 0 means control X may not be 1. */
  readonly allowed1: number;
}

/**
 * Splits a control capability MSR into its allowed 0- and 1-settings (SDM Vol. 3D §A.3.1).
 *
 * @param msr - IA32_VMX_(TRUE_)PINBASED/PROCBASED/EXIT/ENTRY_CTLS or IA32_VMX_PROCBASED_CTLS2
 * @returns the two halves
 * @throws {@link VmxError} `INVALID_VALUE` when `msr` is not a bigint in [0, 2^64)
 * @example
 * ```ts
 * controlCapability(0x0000_007f_0000_0016n); // { allowed0: 0x16, allowed1: 0x7f }
 * ```
 */
export function controlCapability(msr: bigint): ControlCapability {
  const v = checkMsr(msr, 'control capability MSR');
  return { allowed0: Number(v & 0xffff_ffffn), allowed1: Number(v >> 32n) };
}

/**
 * Which control bit violates the capability rule, and how: `MUST_BE_1` when the bit is 0 but
 * the allowed 0-settings have it set, `MUST_BE_0` when the bit is 1 but the allowed
 * 1-settings have it clear.
 */
export interface ControlViolation {
  /** The bit number. */
  readonly bit: number;
  /** What the bit must be. */
  readonly rule: 'MUST_BE_1' | 'MUST_BE_0';
}

/**
 * Checks a 32-bit control field against its capability (SDM Vol. 3D §A.3.1; applied by VM
 * entry, SDM Vol. 3C §27.2.1.1): every bit set in the allowed 0-settings must be 1, every bit
 * clear in the allowed 1-settings must be 0.
 *
 * @param value - the control field
 * @param capability - its allowed settings
 * @returns the lowest offending bit, or `undefined` when the value is allowed
 * @example
 * ```ts
 * checkControl(0x16 | 0x100, { allowed0: 0x16, allowed1: 0x7f }); // { bit: 8, rule: 'MUST_BE_0' }
 * ```
 */
export function checkControl(
  value: number,
  capability: ControlCapability,
): ControlViolation | undefined {
  const v = value >>> 0;
  const missing = (capability.allowed0 & ~v) >>> 0;
  const forbidden = (v & ~capability.allowed1) >>> 0;
  const wrong = (missing | forbidden) >>> 0;
  if (wrong === 0) return undefined;
  const bit = 31 - Math.clz32(wrong & -wrong);
  return { bit, rule: ((missing >>> bit) & 1) === 1 ? 'MUST_BE_1' : 'MUST_BE_0' };
}

/**
 * The nearest allowed value: sets the bits that must be 1 and clears the bits that must be 0.
 * What a VMM does with its wish list before writing a control field.
 *
 * @param desired - the controls wanted
 * @param capability - the allowed settings
 * @returns `(desired | allowed0) & allowed1`
 * @example
 * ```ts
 * adjustControl(0x108, { allowed0: 0x16, allowed1: 0x7f }); // 0x1e
 * ```
 */
export function adjustControl(desired: number, capability: ControlCapability): number {
  return ((desired | capability.allowed0) & capability.allowed1) >>> 0;
}

/**
 * Checks the 64-bit tertiary controls against IA32_VMX_PROCBASED_CTLS3, which reports allowed
 * 1-settings only (SDM Vol. 3D §A.3.4): every bit of the MSR that is 0 must be 0.
 *
 * @param value - the tertiary controls
 * @param msr - IA32_VMX_PROCBASED_CTLS3
 * @returns the lowest bit set in `value` but not allowed, or `undefined`
 * @throws {@link VmxError} `INVALID_VALUE` when an argument is not a bigint in [0, 2^64)
 * @example
 * ```ts
 * checkTertiaryControl(0x10n, 0x1fn); // undefined
 * checkTertiaryControl(0x80n, 0x1fn); // { bit: 7, rule: 'MUST_BE_0' }
 * ```
 */
export function checkTertiaryControl(value: bigint, msr: bigint): ControlViolation | undefined {
  const forbidden =
    checkMsr(value, 'tertiary controls') & ~checkMsr(msr, 'IA32_VMX_PROCBASED_CTLS3');
  if (forbidden === 0n) return undefined;
  let bit = 0;
  while (((forbidden >> BigInt(bit)) & 1n) === 0n) bit++;
  return { bit, rule: 'MUST_BE_0' };
}

/** The control fields whose settings the capability MSRs constrain. */
export type ControlField =
  | 'pinBased'
  | 'primaryProcessor'
  | 'secondaryProcessor'
  | 'vmExit'
  | 'vmEntry';

/**
 * The MSR that reports the allowed settings of a control field (SDM Vol. 3D §A.3-§A.5): when
 * IA32_VMX_BASIC[55] is 1, the TRUE MSRs for pin-based, primary, VM-exit and VM-entry controls
 * (they may allow default1 controls to be 0); otherwise the original MSRs.
 *
 * @param field - the control field
 * @param basic - IA32_VMX_BASIC, decoded
 * @returns the MSR number
 * @example
 * ```ts
 * capabilityMsrFor('pinBased', decodeVmxBasic(1n << 55n)); // 0x48d
 * ```
 */
export function capabilityMsrFor(field: ControlField, basic: VmxBasic): number {
  const t = basic.trueControls;
  switch (field) {
    case 'pinBased':
      return t ? MSR.IA32_VMX_TRUE_PINBASED_CTLS : MSR.IA32_VMX_PINBASED_CTLS;
    case 'primaryProcessor':
      return t ? MSR.IA32_VMX_TRUE_PROCBASED_CTLS : MSR.IA32_VMX_PROCBASED_CTLS;
    case 'secondaryProcessor':
      return MSR.IA32_VMX_PROCBASED_CTLS2;
    case 'vmExit':
      return t ? MSR.IA32_VMX_TRUE_EXIT_CTLS : MSR.IA32_VMX_EXIT_CTLS;
    case 'vmEntry':
      return t ? MSR.IA32_VMX_TRUE_ENTRY_CTLS : MSR.IA32_VMX_ENTRY_CTLS;
  }
}

/** The control fields of a VMCS, as VM entry checks them. */
export interface ControlFields {
  /** Pin-based VM-execution controls. */
  readonly pinBased: number;
  /** Primary processor-based VM-execution controls. */
  readonly primaryProcessor: number;
  /** Secondary processor-based controls (checked only if primary bit 31 is 1). */
  readonly secondaryProcessor?: number;
  /** Tertiary processor-based controls (checked only if primary bit 17 is 1). */
  readonly tertiaryProcessor?: bigint;
  /** VM-exit controls. */
  readonly vmExit: number;
  /** VM-entry controls. */
  readonly vmEntry: number;
}

/** Reads a capability MSR by number (the processor's, or a model's). */
export type CapabilityReader = (msr: number) => bigint;

/** A {@link ControlViolation} with the field it was found in. */
export interface ControlFieldViolation extends ControlViolation {
  /** The offending field. */
  readonly field: ControlField | 'tertiaryProcessor';
}

/**
 * Checks every control field against the capability MSRs, in the order VM entry does (SDM Vol.
 * 3C §27.2.1.1): pin-based, primary, secondary (only if "activate secondary controls" is 1;
 * otherwise the processor treats it as 0), tertiary (only if "activate tertiary controls" is
 * 1), VM-exit, VM-entry. TRUE MSRs are used when IA32_VMX_BASIC[55] says they exist.
 *
 * @param fields - the control fields
 * @param readMsr - reads IA32_VMX_BASIC and the capability MSRs
 * @returns the first offending field and bit, or `undefined`
 * @throws {@link VmxError} `INVALID_VALUE` when `readMsr` returns a value that is not a 64-bit
 *   bigint
 * @example
 * ```ts
 * const caps = new Map([
 *   [0x480, 0n], // IA32_VMX_BASIC: no TRUE MSRs
 *   [0x481, 0x7f_0000_0016n], // pin-based: default1 bits 1, 2, 4; bits 0-6 may be 1
 *   [0x482, 0xffff_fffe_0401_e172n],
 *   [0x483, 0xffff_ffff_0003_6dffn],
 *   [0x484, 0xffff_ffff_0000_11ffn],
 * ]);
 * checkControlFields(
 *   { pinBased: 0x16, primaryProcessor: 0x0401_e172, vmExit: 0x36dff, vmEntry: 0x11ff | 0x100 },
 *   (n) => caps.get(n) ?? 0n,
 * ); // undefined: every control allowed
 * ```
 */
export function checkControlFields(
  fields: ControlFields,
  readMsr: CapabilityReader,
): ControlFieldViolation | undefined {
  const basic = decodeVmxBasic(readMsr(MSR.IA32_VMX_BASIC));
  const check = (field: ControlField, value: number): ControlFieldViolation | undefined => {
    const violation = checkControl(
      value,
      controlCapability(readMsr(capabilityMsrFor(field, basic))),
    );
    return violation === undefined ? undefined : { field, ...violation };
  };
  const primary = fields.primaryProcessor >>> 0;
  let found = check('pinBased', fields.pinBased) ?? check('primaryProcessor', primary);
  if (found === undefined && (primary & 0x8000_0000) !== 0) {
    found = check('secondaryProcessor', fields.secondaryProcessor ?? 0);
  }
  if (found === undefined && (primary & (1 << 17)) !== 0) {
    const tertiary = checkTertiaryControl(
      fields.tertiaryProcessor ?? 0n,
      readMsr(IA32_VMX_PROCBASED_CTLS3),
    );
    if (tertiary !== undefined) found = { field: 'tertiaryProcessor', ...tertiary };
  }
  return found ?? check('vmExit', fields.vmExit) ?? check('vmEntry', fields.vmEntry);
}
