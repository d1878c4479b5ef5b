// Exit qualification for APIC-access VM exits (basic exit reason 44), SDM Vol. 3C §28.2.1,
// Table 28-6 "Exit Qualification for APIC-Access VM Exits from Linear Accesses and
// Guest-Physical Accesses".
import { fit, flag, low32 } from '../bits.js';
import { VmxError } from '../errors.js';

/** Access type, bits 15:12 (SDM Vol. 3C §28.2.1, Table 28-6). Other values are not used. */
export const ApicAccessType = {
  /** 0: linear access for a data read during instruction execution. */
  LINEAR_DATA_READ: 0,
  /** 1: linear access for a data write during instruction execution. */
  LINEAR_DATA_WRITE: 1,
  /** 2: linear access for an instruction fetch. */
  LINEAR_INSTRUCTION_FETCH: 2,
  /** 3: linear access (read or write) during event delivery. */
  LINEAR_EVENT_DELIVERY: 3,
  /** 10: guest-physical access during event delivery. */
  GUEST_PHYSICAL_EVENT_DELIVERY: 10,
  /** 15: guest-physical access for an instruction fetch or during instruction execution. */
  GUEST_PHYSICAL_INSTRUCTION: 15,
} as const;

const USED_TYPES: ReadonlySet<number> = new Set([0, 1, 2, 3, 10, 15]);

/**
 * The exit qualification for an APIC-access VM exit (SDM Vol. 3C §28.2.1, Table 28-6).
 * Bits 63:17 are not defined.
 */
export interface ApicAccessQualification {
  /** Bits 11:0: for a linear access, the offset of the access within the APIC page. */
  readonly offset: number;
  /** Bits 15:12: {@link ApicAccessType}. */
  readonly accessType: number;
  /** Bit 16: an access asynchronous to instruction execution and not part of event delivery. */
  readonly asynchronous: boolean;
}

/**
 * Encodes an APIC-access exit qualification.
 *
 * @param q - the fields
 * @returns the qualification
 * @throws {@link VmxError} `INVALID_FIELD` for an offset past 0xfff or an unused access type
 * @example
 * ```ts
 * encodeApicAccessQualification({ offset: 0xb0, accessType: ApicAccessType.LINEAR_DATA_WRITE,
 *   asynchronous: false }); // 0x10b0 (a write to EOI)
 * ```
 */
export function encodeApicAccessQualification(q: ApicAccessQualification): number {
  if (!USED_TYPES.has(q.accessType)) {
    throw new VmxError(
      'INVALID_FIELD',
      `APIC access type ${q.accessType} is not used`,
      'accessType',
    );
  }
  return (
    fit(q.offset, 12, 'offset') |
    (q.accessType << 12) |
    (flag(q.asynchronous, 'asynchronous') << 16)
  );
}

/**
 * Decodes an APIC-access exit qualification.
 *
 * @param value - the qualification (a number, or the natural-width field as a bigint)
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` for a non-integer value or an access type the SDM
 *   does not use
 * @example
 * ```ts
 * decodeApicAccessQualification(0x10b0).offset; // 0xb0
 * ```
 */
export function decodeApicAccessQualification(value: number | bigint): ApicAccessQualification {
  const v = low32(value, 'APIC-access qualification');
  const accessType = (v >>> 12) & 0xf;
  if (!USED_TYPES.has(accessType)) {
    throw new VmxError('INVALID_VALUE', `APIC access type ${accessType} is not used`);
  }
  return { offset: v & 0xfff, accessType, asynchronous: ((v >>> 16) & 1) === 1 };
}
