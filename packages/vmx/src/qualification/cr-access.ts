// Exit qualification for control-register accesses (basic exit reason 28), SDM Vol. 3C §28.2.1,
// Table 28-3 "Exit Qualification for Control-Register Accesses".
import { fit, low32 } from '../bits.js';
import { VmxError } from '../errors.js';

/** Access type, bits 5:4 (SDM Vol. 3C §28.2.1, Table 28-3). */
export const CrAccessType = {
  /** 0: MOV to CR. */
  MOV_TO_CR: 0,
  /** 1: MOV from CR. */
  MOV_FROM_CR: 1,
  /** 2: CLTS. */
  CLTS: 2,
  /** 3: LMSW. */
  LMSW: 3,
} as const;

/** LMSW operand type, bit 6 (SDM Vol. 3C §28.2.1, Table 28-3). */
export const LmswOperandType = {
  /** 0: register. */
  REGISTER: 0,
  /** 1: memory. */
  MEMORY: 1,
} as const;

/**
 * The exit qualification for control-register accesses (SDM Vol. 3C §28.2.1, Table 28-3).
 * Bits 7, 15:12 and 63:32 are not defined.
 */
export interface CrAccessQualification {
  /** Bits 3:0: number of the control register (0 for CLTS and LMSW). */
  readonly controlRegister: number;
  /** Bits 5:4: {@link CrAccessType}. */
  readonly accessType: 0 | 1 | 2 | 3;
  /** Bit 6: {@link LmswOperandType} (0 for CLTS and MOV CR). */
  readonly lmswOperandType: 0 | 1;
  /** Bits 11:8: for MOV CR, the general-purpose register ({@link Gpr}); 0 for CLTS and LMSW. */
  readonly generalPurposeRegister: number;
  /** Bits 31:16: for LMSW, the LMSW source data; 0 for CLTS and MOV CR. */
  readonly lmswSourceData: number;
}

/**
 * Encodes an exit qualification for a control-register access.
 *
 * @param q - the fields
 * @returns the qualification (bits 63:32 zero)
 * @throws {@link VmxError} `INVALID_FIELD` when a field does not fit its bits
 * @example
 * ```ts
 * // MOV to CR3 from RBX
 * encodeCrAccessQualification({ controlRegister: 3, accessType: CrAccessType.MOV_TO_CR,
 *   lmswOperandType: 0, generalPurposeRegister: Gpr.RBX, lmswSourceData: 0 }); // 0x303
 * ```
 */
export function encodeCrAccessQualification(q: CrAccessQualification): number {
  if (q.lmswOperandType !== 0 && q.lmswOperandType !== 1) {
    throw new VmxError('INVALID_FIELD', 'lmswOperandType must be 0 or 1', 'lmswOperandType');
  }
  return (
    (fit(q.controlRegister, 4, 'controlRegister') |
      (fit(q.accessType, 2, 'accessType') << 4) |
      (q.lmswOperandType << 6) |
      (fit(q.generalPurposeRegister, 4, 'generalPurposeRegister') << 8) |
      (fit(q.lmswSourceData, 16, 'lmswSourceData') << 16)) >>>
    0
  );
}

/**
 * Decodes an exit qualification for a control-register access. Undefined bits are ignored.
 *
 * @param value - the qualification (a number, or the natural-width field as a bigint)
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` for a negative or non-integer value
 * @example
 * ```ts
 * decodeCrAccessQualification(0x303).controlRegister; // 3
 * ```
 */
export function decodeCrAccessQualification(value: number | bigint): CrAccessQualification {
  const v = low32(value, 'CR-access qualification');
  return {
    controlRegister: v & 0xf,
    accessType: ((v >>> 4) & 3) as 0 | 1 | 2 | 3,
    lmswOperandType: ((v >>> 6) & 1) as 0 | 1,
    generalPurposeRegister: (v >>> 8) & 0xf,
    lmswSourceData: v >>> 16,
  };
}
