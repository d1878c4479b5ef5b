// Exit qualification for MOV DR (basic exit reason 29), SDM Vol. 3C §28.2.1, Table 28-4
// "Exit Qualification for MOV DR".
import { fit, flag, low32 } from '../bits.js';

/**
 * The exit qualification for MOV DR (SDM Vol. 3C §28.2.1, Table 28-4). Bits 3, 7:5 and 63:12
 * are not defined.
 */
export interface MovDrQualification {
  /** Bits 2:0: number of the debug register. */
  readonly debugRegister: number;
  /** Bit 4 "direction of access": false = MOV to DR, true = MOV from DR. */
  readonly fromDr: boolean;
  /** Bits 11:8: the general-purpose register ({@link Gpr}). */
  readonly generalPurposeRegister: number;
}

/**
 * Encodes a MOV DR exit qualification.
 *
 * @param q - the fields
 * @returns the qualification
 * @throws {@link VmxError} `INVALID_FIELD` when a field does not fit
 * @example
 * ```ts
 * encodeMovDrQualification({ debugRegister: 7, fromDr: false, generalPurposeRegister: 0 }); // 7
 * ```
 */
export function encodeMovDrQualification(q: MovDrQualification): number {
  return (
    fit(q.debugRegister, 3, 'debugRegister') |
    (flag(q.fromDr, 'fromDr') << 4) |
    (fit(q.generalPurposeRegister, 4, 'generalPurposeRegister') << 8)
  );
}

/**
 * Decodes a MOV DR exit qualification. Undefined bits are ignored.
 *
 * @param value - the qualification (a number, or the natural-width field as a bigint)
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` for a negative or non-integer value
 * @example
 * ```ts
 * decodeMovDrQualification(0x317).fromDr; // true (MOV RBX, DR7)
 * ```
 */
export function decodeMovDrQualification(value: number | bigint): MovDrQualification {
  const v = low32(value, 'MOV DR qualification');
  return {
    debugRegister: v & 7,
    fromDr: ((v >>> 4) & 1) === 1,
    generalPurposeRegister: (v >>> 8) & 0xf,
  };
}
