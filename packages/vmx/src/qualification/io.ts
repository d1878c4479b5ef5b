// Exit qualification for I/O instructions (basic exit reason 30), SDM Vol. 3C §28.2.1,
// Table 28-5 "Exit Qualification for I/O Instructions".
import { fit, flag, low32 } from '../bits.js';
import { VmxError } from '../errors.js';

/**
 * The exit qualification for an I/O instruction (SDM Vol. 3C §28.2.1, Table 28-5). Bits 15:7
 * and 63:32 are not defined.
 */
export interface IoQualification {
  /** Bits 2:0 "size of access" as a byte count: encoded 0 = 1-byte, 1 = 2-byte, 3 = 4-byte. */
  readonly size: 1 | 2 | 4;
  /** Bit 3 "direction of the attempted access": 0 = OUT, 1 = IN. */
  readonly in: boolean;
  /** Bit 4: string instruction (INS/OUTS). */
  readonly string: boolean;
  /** Bit 5: REP prefixed. */
  readonly rep: boolean;
  /** Bit 6 "operand encoding": 0 = DX, 1 = immediate. */
  readonly immediate: boolean;
  /** Bits 31:16: the port number (as specified in DX or in the immediate operand). */
  readonly port: number;
}

/**
 * Encodes an exit qualification for an I/O instruction.
 *
 * @param q - the fields
 * @returns the qualification
 * @throws {@link VmxError} `INVALID_FIELD` for a size other than 1, 2, 4 or a port past 0xffff
 * @example
 * ```ts
 * // OUT DX, AL with DX = 0x3f8
 * encodeIoQualification({ size: 1, in: false, string: false, rep: false,
 *   immediate: false, port: 0x3f8 }); // 0x03f80000
 * ```
 */
export function encodeIoQualification(q: IoQualification): number {
  if (q.size !== 1 && q.size !== 2 && q.size !== 4) {
    throw new VmxError('INVALID_FIELD', `I/O size ${q.size} is not 1, 2 or 4`, 'size');
  }
  return (
    ((q.size - 1) |
      (flag(q.in, 'in') << 3) |
      (flag(q.string, 'string') << 4) |
      (flag(q.rep, 'rep') << 5) |
      (flag(q.immediate, 'immediate') << 6) |
      (fit(q.port, 16, 'port') << 16)) >>>
    0
  );
}

/**
 * Decodes an exit qualification for an I/O instruction. The size encoding 2 is not used by the
 * SDM (and encodings 4..7 are outside its "0, 1, 3" list), so those are refused.
 *
 * @param value - the qualification (a number, or the natural-width field as a bigint)
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` for a non-integer value or the unused size encoding 2
 * @example
 * ```ts
 * decodeIoQualification(0x0060_0008).port; // 0x60 (IN AL, DX)
 * ```
 */
export function decodeIoQualification(value: number | bigint): IoQualification {
  const v = low32(value, 'I/O qualification');
  const sizeCode = v & 7;
  if (sizeCode !== 0 && sizeCode !== 1 && sizeCode !== 3) {
    throw new VmxError('INVALID_VALUE', `I/O qualification size encoding ${sizeCode} is not used`);
  }
  return {
    size: (sizeCode + 1) as 1 | 2 | 4,
    in: ((v >>> 3) & 1) === 1,
    string: ((v >>> 4) & 1) === 1,
    rep: ((v >>> 5) & 1) === 1,
    immediate: ((v >>> 6) & 1) === 1,
    port: v >>> 16,
  };
}
