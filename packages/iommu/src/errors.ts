import { GuestMemoryError } from '@vmkit/memory';
import type { FaultReason } from './fault-reasons.js';

/**
 * What went wrong in an {@link IommuError}.
 *
 * - `INVALID_ADDRESS`: a table address or mapping address is unaligned or outside the host address width.
 * - `INVALID_MAPPING`: a mapping's size, alignment or permissions are malformed, or it overlaps a superpage.
 * - `INVALID_CONFIG`: an option is out of range (address width, fault-record count, table size).
 * - `INVALID_SOURCE_ID`: a routing ID is not 16 bits.
 */
export type IommuErrorCode =
  | 'INVALID_ADDRESS'
  | 'INVALID_MAPPING'
  | 'INVALID_CONFIG'
  | 'INVALID_SOURCE_ID';

/**
 * The error the VMM's own calls throw on bad arguments. Guest- and device-originated events never
 * throw it: a blocked DMA is a {@link DmaFaultError}, a blocked interrupt is a recorded fault.
 *
 * @example
 * ```ts
 * try {
 *   tables.map(0x1001, 0x2000, 4096, { read: true, write: true });
 * } catch (e) {
 *   if (e instanceof IommuError && e.code === 'INVALID_MAPPING') console.log(e.message);
 * }
 * ```
 */
export class IommuError extends Error {
  /** The kind of failure. */
  readonly code: IommuErrorCode;

  /**
   * @param code - the kind of failure
   * @param message - a human-readable description
   */
  constructor(code: IommuErrorCode, message: string) {
    super(message);
    this.name = 'IommuError';
    this.code = code;
  }
}

/**
 * A DMA request the remapping hardware blocked. It is a `GuestMemoryError` (code `OUT_OF_RANGE`,
 * the address being the I/O virtual address) so a device model sees a blocked DMA exactly like an
 * access outside its memory, plus the VT-d fault reason. Nothing of the request was performed.
 */
export class DmaFaultError extends GuestMemoryError {
  /** The VT-d fault reason (VT-d spec Appendix A / §7.1.3). */
  readonly reason: FaultReason;
  /** The requester (source) ID of the blocked request. */
  readonly sourceId: number;

  /**
   * @param reason - the fault reason
   * @param sourceId - the requester ID
   * @param address - the I/O virtual address of the request
   * @param size - the request's length in bytes
   * @param write - whether it was a write
   */
  constructor(
    reason: FaultReason,
    sourceId: number,
    address: number,
    size: number,
    write: boolean,
  ) {
    super(
      'OUT_OF_RANGE',
      `DMA ${write ? 'write' : 'read'} by ${sourceId.toString(16)} at 0x${address.toString(16)} blocked: fault reason 0x${reason.toString(16)}`,
      address,
      size,
    );
    this.name = 'DmaFaultError';
    this.reason = reason;
    this.sourceId = sourceId;
  }
}
