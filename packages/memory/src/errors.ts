/**
 * What went wrong in a {@link GuestMemoryError}.
 *
 * - `OUT_OF_RANGE`: the access starts outside every region.
 * - `CROSSES_REGION`: the access starts inside a region but runs past its end.
 * - `INVALID_ADDRESS`: the address is not an integer in [0, 2^52).
 * - `INVALID_LENGTH`: a length or size is not a non-negative safe integer.
 * - `INVALID_REGION`: a region definition is malformed (size, alignment, name).
 * - `OVERLAPPING_REGION`: a new region overlaps an existing one.
 * - `UNKNOWN_REGION`: no region has the given name.
 * - `MMIO_BULK_ACCESS`: a bulk operation touched an MMIO range, which only takes sized accesses.
 */
export type GuestMemoryErrorCode =
  | 'OUT_OF_RANGE'
  | 'CROSSES_REGION'
  | 'INVALID_ADDRESS'
  | 'INVALID_LENGTH'
  | 'INVALID_REGION'
  | 'OVERLAPPING_REGION'
  | 'UNKNOWN_REGION'
  | 'MMIO_BULK_ACCESS';

/**
 * The typed error every guest-memory operation throws on bad input. It names the address and
 * size that were refused, so a VMM can turn it into the right guest-visible event (an EPT
 * violation, a DMA fault) instead of crashing.
 *
 * @example
 * ```ts
 * try {
 *   mem.read32(0xdead_0000);
 * } catch (e) {
 *   if (e instanceof GuestMemoryError && e.code === 'OUT_OF_RANGE') console.log(e.address);
 * }
 * ```
 */
export class GuestMemoryError extends Error {
  /** The kind of failure. */
  readonly code: GuestMemoryErrorCode;
  /** The guest-physical address of the refused access, when there is one. */
  readonly address: number | undefined;
  /** The size in bytes of the refused access, when there is one. */
  readonly size: number | undefined;

  /**
   * @param code - the kind of failure
   * @param message - a human-readable description
   * @param address - the guest-physical address involved, if any
   * @param size - the access size in bytes, if any
   */
  constructor(code: GuestMemoryErrorCode, message: string, address?: number, size?: number) {
    super(message);
    this.name = 'GuestMemoryError';
    this.code = code;
    this.address = address;
    this.size = size;
  }
}

/** Formats a guest-physical address for error messages. */
export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}
