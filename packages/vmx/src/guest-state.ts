// Guest non-register state the exit decisions need: the interruptibility state (SDM Vol. 3C
// §25.4.2, Table 25-3 "Format of Interruptibility State") and the activity state (§25.4.2), with
// the interrupt-window rule (§26.2, "Other Causes of VM Exits": interrupt-window exiting).
import { fit, flag, low32 } from './bits.js';

/** Activity state (SDM Vol. 3C §25.4.2). */
export const ActivityState = {
  /** 0: Active: the logical processor is executing instructions normally. */
  ACTIVE: 0,
  /** 1: HLT: the logical processor is inactive because it executed HLT. */
  HLT: 1,
  /** 2: Shutdown: the logical processor is inactive because of a triple fault or similar. */
  SHUTDOWN: 2,
  /** 3: Wait-for-SIPI: the logical processor is waiting for a startup-IPI. */
  WAIT_FOR_SIPI: 3,
} as const;

/** The interruptibility-state field (SDM Vol. 3C §25.4.2, Table 25-3). Bits 31:5 reserved. */
export interface InterruptibilityState {
  /** Bit 0: blocking by STI (the instruction after STI, with RFLAGS.IF newly set). */
  readonly blockingBySti: boolean;
  /** Bit 1: blocking by MOV SS (the instruction after MOV to SS or POP SS). */
  readonly blockingByMovSs: boolean;
  /** Bit 2: blocking by SMI. */
  readonly blockingBySmi: boolean;
  /** Bit 3: blocking by NMI. */
  readonly blockingByNmi: boolean;
  /** Bit 4: enclave interruption (the VM exit interrupted an enclave). */
  readonly enclaveInterruption: boolean;
}

/**
 * Encodes the interruptibility-state field.
 *
 * @param s - the fields
 * @returns the 32-bit field
 * @throws {@link VmxError} `INVALID_FIELD` for a non-boolean flag
 * @example
 * ```ts
 * encodeInterruptibilityState({ blockingBySti: true, blockingByMovSs: false,
 *   blockingBySmi: false, blockingByNmi: false, enclaveInterruption: false }); // 1
 * ```
 */
export function encodeInterruptibilityState(s: InterruptibilityState): number {
  return (
    flag(s.blockingBySti, 'blockingBySti') |
    (flag(s.blockingByMovSs, 'blockingByMovSs') << 1) |
    (flag(s.blockingBySmi, 'blockingBySmi') << 2) |
    (flag(s.blockingByNmi, 'blockingByNmi') << 3) |
    (flag(s.enclaveInterruption, 'enclaveInterruption') << 4)
  );
}

/**
 * Decodes the interruptibility-state field. Reserved bits are ignored.
 *
 * @param value - the 32-bit field (number or bigint)
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` for a negative or non-integer value
 * @example
 * ```ts
 * decodeInterruptibilityState(2).blockingByMovSs; // true
 * ```
 */
export function decodeInterruptibilityState(value: number | bigint): InterruptibilityState {
  const v = low32(value, 'interruptibility state');
  return {
    blockingBySti: (v & 1) === 1,
    blockingByMovSs: ((v >>> 1) & 1) === 1,
    blockingBySmi: ((v >>> 2) & 1) === 1,
    blockingByNmi: ((v >>> 3) & 1) === 1,
    enclaveInterruption: ((v >>> 4) & 1) === 1,
  };
}

/**
 * Whether an interrupt-window VM exit occurs before the next instruction (SDM Vol. 3C §26.2):
 * "interrupt-window exiting" is 1, RFLAGS.IF is 1, and there is no blocking of events by STI or
 * by MOV SS in the interruptibility state.
 *
 * @param interruptWindowExiting - the primary control "interrupt-window exiting"
 * @param rflagsIf - RFLAGS.IF (bit 9)
 * @param interruptibility - the interruptibility-state field (bits 0 and 1 are looked at)
 * @returns true when the VM exit occurs
 * @example
 * ```ts
 * interruptWindowCausesExit(true, true, 0); // true
 * interruptWindowCausesExit(true, true, 1); // false: the instruction after STI
 * ```
 */
export function interruptWindowCausesExit(
  interruptWindowExiting: boolean,
  rflagsIf: boolean,
  interruptibility: number,
): boolean {
  return interruptWindowExiting && rflagsIf && (interruptibility & 3) === 0;
}

/**
 * Checks an activity-state value: 0..3 are defined (SDM Vol. 3C §25.4.2); VM entry also
 * requires IA32_VMX_MISC to report support for states other than active (§27.3.1.5), which
 * `decodeVmxMisc` exposes.
 *
 * @param value - the activity-state field
 * @returns the value, typed
 * @throws {@link VmxError} `INVALID_FIELD` for a value outside 0..3
 * @example
 * ```ts
 * activityState(1); // 1 (HLT)
 * ```
 */
export function activityState(value: number): 0 | 1 | 2 | 3 {
  return fit(value, 2, 'activityState') as 0 | 1 | 2 | 3;
}
