/**
 * What went wrong in a {@link PciError}.
 *
 * - `INVALID_OFFSET`: a configuration-space offset or access size is outside the space.
 * - `INVALID_REGISTER`: a register definition overlaps another or has conflicting masks.
 * - `INVALID_BAR`: a BAR definition is malformed (size not a power of two, too small, index taken).
 * - `CAPABILITY_SPACE_FULL`: no room is left for a capability structure.
 * - `INVALID_CAPABILITY`: a capability's parameters break the spec's constraints.
 * - `INVALID_ADDRESS`: a bus/device/function triple or routing ID is out of range.
 * - `SLOT_OCCUPIED`: a function is already present at the routing ID.
 * - `NO_SUCH_FUNCTION`: no function is present at the routing ID.
 */
export type PciErrorCode =
  | 'INVALID_OFFSET'
  | 'INVALID_REGISTER'
  | 'INVALID_BAR'
  | 'CAPABILITY_SPACE_FULL'
  | 'INVALID_CAPABILITY'
  | 'INVALID_ADDRESS'
  | 'SLOT_OCCUPIED'
  | 'NO_SUCH_FUNCTION';

/**
 * The typed error of `@vmkit/pci`. Only the VMM's own set-up mistakes throw it (a bad register
 * definition, a slot already taken); guest configuration accesses never throw, they complete
 * the way the PCI specification says (ignored writes, zeros or all-ones reads).
 *
 * @example
 * ```ts
 * try {
 *   segment.remove(routingId(0, 3, 0));
 * } catch (e) {
 *   if (e instanceof PciError && e.code === 'NO_SUCH_FUNCTION') console.log(e.message);
 * }
 * ```
 */
export class PciError extends Error {
  /** The kind of failure. */
  readonly code: PciErrorCode;

  /**
   * @param code - the kind of failure
   * @param message - a human-readable description
   */
  constructor(code: PciErrorCode, message: string) {
    super(message);
    this.name = 'PciError';
    this.code = code;
  }
}

/** Formats a number as hex for messages. */
export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}
