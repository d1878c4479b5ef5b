// Interruption-information fields: VM-exit interruption information (SDM Vol. 3C §25.9.2,
// table "Format of the VM-Exit Interruption-Information Field"), IDT-vectoring information
// (§25.9.3, table "Format of the IDT-Vectoring Information Field") and VM-entry interruption
// information (§25.8.3, table "Format of the VM-Entry Interruption-Information Field"), with the
// VM-entry checks on event injection (§27.2.1.3).
import { exceptionHasErrorCode, Vector } from '@vmkit/x86';
import { fit, flag, low32 } from './bits.js';
import { VmxError } from './errors.js';

/**
 * Interruption type, bits 10:8 of all three fields (SDM Vol. 3C §25.8.3, §25.9.2, §25.9.3).
 * Which values a field may hold differs: see {@link encodeExitInterruptionInfo},
 * {@link encodeIdtVectoringInfo} and {@link encodeEntryInterruptionInfo}.
 */
export const InterruptionType = {
  /** 0: External interrupt. */
  EXTERNAL_INTERRUPT: 0,
  /** 2: Non-maskable interrupt (NMI). */
  NMI: 2,
  /** 3: Hardware exception (e.g. #PF). */
  HARDWARE_EXCEPTION: 3,
  /** 4: Software interrupt (INT n). Not used in the VM-exit interruption information. */
  SOFTWARE_INTERRUPT: 4,
  /** 5: Privileged software exception (INT1). */
  PRIVILEGED_SOFTWARE_EXCEPTION: 5,
  /** 6: Software exception (INT3 or INTO). */
  SOFTWARE_EXCEPTION: 6,
  /** 7: Other event (VM-entry only: a pending MTF VM exit, vector 0). */
  OTHER_EVENT: 7,
} as const;

/** The VM-exit interruption-information field (SDM Vol. 3C §25.9.2). */
export interface ExitInterruptionInfo {
  /** Bits 7:0: vector of the interrupt or exception. */
  readonly vector: number;
  /** Bits 10:8: {@link InterruptionType}; 0, 2, 3, 5 or 6 (1, 4 and 7 are not used). */
  readonly type: number;
  /** Bit 11: error code valid. */
  readonly errorCodeValid: boolean;
  /** Bit 12: NMI unblocking due to IRET. */
  readonly nmiUnblockingDueToIret: boolean;
  /** Bit 31: valid. */
  readonly valid: boolean;
}

/** The IDT-vectoring information field (SDM Vol. 3C §25.9.3). Bits 30:12 are not defined. */
export interface IdtVectoringInfo {
  /** Bits 7:0: vector of the interrupt or exception being delivered. */
  readonly vector: number;
  /** Bits 10:8: {@link InterruptionType}; any value but 1 and 7. */
  readonly type: number;
  /** Bit 11: error code valid. */
  readonly errorCodeValid: boolean;
  /** Bit 31: valid. */
  readonly valid: boolean;
}

/** The VM-entry interruption-information field (SDM Vol. 3C §25.8.3). Bits 30:12 reserved. */
export interface EntryInterruptionInfo {
  /** Bits 7:0: vector of the interrupt or exception to inject. */
  readonly vector: number;
  /** Bits 10:8: {@link InterruptionType}; 1 is reserved. */
  readonly type: number;
  /** Bit 11: deliver error code (push the VM-entry exception error code). */
  readonly deliverErrorCode: boolean;
  /** Bit 31: valid. */
  readonly valid: boolean;
}

function checkType(type: number, allowed: readonly number[], field: string): number {
  if (!allowed.includes(type)) {
    throw new VmxError(
      'INVALID_FIELD',
      `interruption type ${type} is not used in ${field}`,
      'type',
    );
  }
  return type;
}

const EXIT_TYPES = [0, 2, 3, 5, 6] as const;
const IDT_TYPES = [0, 2, 3, 4, 5, 6] as const;
const ENTRY_TYPES = [0, 2, 3, 4, 5, 6, 7] as const;

/**
 * Encodes the VM-exit interruption-information field.
 *
 * @param i - the fields
 * @returns the 32-bit field
 * @throws {@link VmxError} `INVALID_FIELD` for a vector past 255 or a type not used here
 * @example
 * ```ts
 * // #PF with an error code
 * encodeExitInterruptionInfo({ vector: 14, type: InterruptionType.HARDWARE_EXCEPTION,
 *   errorCodeValid: true, nmiUnblockingDueToIret: false, valid: true }); // 0x80000b0e
 * ```
 */
export function encodeExitInterruptionInfo(i: ExitInterruptionInfo): number {
  return (
    (fit(i.vector, 8, 'vector') |
      (checkType(i.type, EXIT_TYPES, 'the VM-exit interruption information') << 8) |
      (flag(i.errorCodeValid, 'errorCodeValid') << 11) |
      (flag(i.nmiUnblockingDueToIret, 'nmiUnblockingDueToIret') << 12) |
      (flag(i.valid, 'valid') << 31)) >>>
    0
  );
}

/**
 * Decodes the VM-exit interruption-information field. Undefined bits 30:13 are ignored.
 *
 * @param value - the 32-bit field (number or bigint)
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` for a negative or non-integer value
 * @example
 * ```ts
 * decodeExitInterruptionInfo(0x8000_0b0e).vector; // 14
 * ```
 */
export function decodeExitInterruptionInfo(value: number | bigint): ExitInterruptionInfo {
  const v = low32(value, 'VM-exit interruption information');
  return {
    vector: v & 0xff,
    type: (v >>> 8) & 7,
    errorCodeValid: ((v >>> 11) & 1) === 1,
    nmiUnblockingDueToIret: ((v >>> 12) & 1) === 1,
    valid: v >>> 31 === 1,
  };
}

/**
 * Encodes the IDT-vectoring information field (the event whose delivery a VM exit
 * interrupted; the VMM re-injects it on the next VM entry).
 *
 * @param i - the fields
 * @returns the 32-bit field
 * @throws {@link VmxError} `INVALID_FIELD` for a vector past 255 or type 1 or 7
 * @example
 * ```ts
 * encodeIdtVectoringInfo({ vector: 0x20, type: InterruptionType.EXTERNAL_INTERRUPT,
 *   errorCodeValid: false, valid: true }); // 0x80000020
 * ```
 */
export function encodeIdtVectoringInfo(i: IdtVectoringInfo): number {
  return (
    (fit(i.vector, 8, 'vector') |
      (checkType(i.type, IDT_TYPES, 'the IDT-vectoring information') << 8) |
      (flag(i.errorCodeValid, 'errorCodeValid') << 11) |
      (flag(i.valid, 'valid') << 31)) >>>
    0
  );
}

/**
 * Decodes the IDT-vectoring information field. Undefined bits 30:12 are ignored.
 *
 * @param value - the 32-bit field (number or bigint)
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` for a negative or non-integer value
 * @example
 * ```ts
 * decodeIdtVectoringInfo(0x8000_0020).type; // 0 (external interrupt)
 * ```
 */
export function decodeIdtVectoringInfo(value: number | bigint): IdtVectoringInfo {
  const v = low32(value, 'IDT-vectoring information');
  return {
    vector: v & 0xff,
    type: (v >>> 8) & 7,
    errorCodeValid: ((v >>> 11) & 1) === 1,
    valid: v >>> 31 === 1,
  };
}

/**
 * Encodes the VM-entry interruption-information field (event injection).
 *
 * @param i - the fields
 * @returns the 32-bit field
 * @throws {@link VmxError} `INVALID_FIELD` for a vector past 255 or the reserved type 1
 * @example
 * ```ts
 * // inject #GP(0)
 * encodeEntryInterruptionInfo({ vector: 13, type: InterruptionType.HARDWARE_EXCEPTION,
 *   deliverErrorCode: true, valid: true }); // 0x80000b0d
 * ```
 */
export function encodeEntryInterruptionInfo(i: EntryInterruptionInfo): number {
  return (
    (fit(i.vector, 8, 'vector') |
      (checkType(i.type, ENTRY_TYPES, 'the VM-entry interruption information') << 8) |
      (flag(i.deliverErrorCode, 'deliverErrorCode') << 11) |
      (flag(i.valid, 'valid') << 31)) >>>
    0
  );
}

/**
 * Decodes the VM-entry interruption-information field. Reserved bits 30:12 are ignored here;
 * {@link checkEntryInterruption} reports them.
 *
 * @param value - the 32-bit field (number or bigint)
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` for a negative or non-integer value
 * @example
 * ```ts
 * decodeEntryInterruptionInfo(0x8000_0b0d).deliverErrorCode; // true
 * ```
 */
export function decodeEntryInterruptionInfo(value: number | bigint): EntryInterruptionInfo {
  const v = low32(value, 'VM-entry interruption information');
  return {
    vector: v & 0xff,
    type: (v >>> 8) & 7,
    deliverErrorCode: ((v >>> 11) & 1) === 1,
    valid: v >>> 31 === 1,
  };
}

/**
 * Why VM entry would fail on the event-injection fields (SDM Vol. 3C §27.2.1.3, "Checks on
 * VM-Entry Control Fields", event injection):
 *
 * - `TYPE_RESERVED`: type 1, or type 7 (other event) without monitor-trap-flag support.
 * - `NMI_VECTOR`: type NMI with a vector other than 2.
 * - `EXCEPTION_VECTOR`: type hardware exception with a vector above 31.
 * - `OTHER_EVENT_VECTOR`: type other event with a vector other than 0.
 * - `DELIVER_ERROR_CODE`: the deliver-error-code bit differs from what the rule requires.
 * - `RESERVED_BITS`: bits 30:12 are not 0.
 * - `ERROR_CODE_BITS`: deliver-error-code is 1 and bits 31:16 of the VM-entry exception
 *   error code are not 0.
 * - `INSTRUCTION_LENGTH`: type 4, 5 or 6 with a VM-entry instruction length outside 1..15
 *   (0 is allowed when IA32_VMX_MISC[30] is 1).
 */
export type EntryInterruptionViolation =
  | 'TYPE_RESERVED'
  | 'NMI_VECTOR'
  | 'EXCEPTION_VECTOR'
  | 'OTHER_EVENT_VECTOR'
  | 'DELIVER_ERROR_CODE'
  | 'RESERVED_BITS'
  | 'ERROR_CODE_BITS'
  | 'INSTRUCTION_LENGTH';

/** What the event-injection checks depend on besides the three VMCS fields. */
export interface EntryInjectionContext {
  /** Bit 0 (PE) of the guest CR0 field. */
  readonly guestCr0Pe: boolean;
  /** The processor supports the "monitor trap flag" control (type 7 allowed). Default true. */
  readonly monitorTrapFlagSupported?: boolean;
  /** IA32_VMX_BASIC[56]: no error-code requirement for hardware exceptions. Default false. */
  readonly noErrorCodeRequirement?: boolean;
  /** IA32_VMX_MISC[30]: a VM-entry instruction length of 0 is allowed. Default false. */
  readonly zeroLengthInjection?: boolean;
}

/**
 * Applies the VM-entry checks on event injection (SDM Vol. 3C §27.2.1.3). Nothing is checked
 * when the valid bit is 0. The deliver-error-code rule: it must be 1 exactly when the type is
 * hardware exception, guest CR0.PE is 1, and the vector is one that pushes an error code (#DF,
 * #TS, #NP, #SS, #GP, #PF, #AC and #CP, per `exceptionHasErrorCode` of `@vmkit/x86`); with
 * IA32_VMX_BASIC[56] = 1 the vector no longer matters, and it must only be 0 when the type is
 * not hardware exception or CR0.PE is 0.
 *
 * @param info - the VM-entry interruption-information field
 * @param errorCode - the VM-entry exception error-code field
 * @param instructionLength - the VM-entry instruction-length field
 * @param context - guest CR0.PE and the relevant capability bits
 * @returns the first check that fails, or `undefined`
 * @throws {@link VmxError} `INVALID_VALUE` for a field that is not a non-negative integer
 * @example
 * ```ts
 * checkEntryInterruption(0x8000_0b0e, 2, 0, { guestCr0Pe: true }); // undefined (#PF, code 2)
 * checkEntryInterruption(0x8000_030e, 0, 0, { guestCr0Pe: true }); // 'DELIVER_ERROR_CODE'
 * ```
 */
export function checkEntryInterruption(
  info: number,
  errorCode: number,
  instructionLength: number,
  context: EntryInjectionContext,
): EntryInterruptionViolation | undefined {
  const v = low32(info, 'VM-entry interruption information');
  const code = low32(errorCode, 'VM-entry exception error code');
  const length = low32(instructionLength, 'VM-entry instruction length');
  if (v >>> 31 === 0) return undefined;
  const { vector, type, deliverErrorCode } = decodeEntryInterruptionInfo(v);
  if (type === 1) return 'TYPE_RESERVED';
  if (type === 7 && context.monitorTrapFlagSupported === false) return 'TYPE_RESERVED';
  if (type === InterruptionType.NMI && vector !== Vector.NMI) return 'NMI_VECTOR';
  if (type === InterruptionType.HARDWARE_EXCEPTION && vector > 31) return 'EXCEPTION_VECTOR';
  if (type === InterruptionType.OTHER_EVENT && vector !== 0) return 'OTHER_EVENT_VECTOR';
  const mayDeliver = type === InterruptionType.HARDWARE_EXCEPTION && context.guestCr0Pe;
  if (context.noErrorCodeRequirement === true) {
    if (deliverErrorCode && !mayDeliver) return 'DELIVER_ERROR_CODE';
  } else if (deliverErrorCode !== (mayDeliver && exceptionHasErrorCode(vector))) {
    return 'DELIVER_ERROR_CODE';
  }
  if ((v & 0x7fff_f000) !== 0) return 'RESERVED_BITS';
  if (deliverErrorCode && code >>> 16 !== 0) return 'ERROR_CODE_BITS';
  if (type === 4 || type === 5 || type === 6) {
    const min = context.zeroLengthInjection === true ? 0 : 1;
    if (length < min || length > 15) return 'INSTRUCTION_LENGTH';
  }
  return undefined;
}
