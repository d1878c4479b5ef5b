/**
 * What went wrong in an {@link InterruptError}.
 *
 * - `EXHAUSTED`: no free vector is left for the request under the allocation policy.
 * - `INVALID_VECTOR`: a vector is outside 0-255 or in the reserved range.
 * - `INVALID_CONFIG`: a constructor option is out of range.
 * - `GENERAL_PROTECTION`: an x2APIC MSR access the SDM answers with #GP (unknown MSR, write to a
 *   read-only register, non-zero EOI write, reserved bits set).
 * - `UNKNOWN_HANDLE`: freeing a vector that was not allocated.
 */
export type InterruptErrorCode =
  | 'EXHAUSTED'
  | 'INVALID_VECTOR'
  | 'INVALID_CONFIG'
  | 'GENERAL_PROTECTION'
  | 'UNKNOWN_HANDLE';

/**
 * The typed error of `@vmkit/interrupts`. A VMM turns `GENERAL_PROTECTION` into a #GP for the
 * guest; `EXHAUSTED` is the vector shortage seed 003 reports.
 *
 * @example
 * ```ts
 * try {
 *   allocator.allocate({ trigger: 'edge' });
 * } catch (e) {
 *   if (e instanceof InterruptError && e.code === 'EXHAUSTED') console.log('out of vectors');
 * }
 * ```
 */
export class InterruptError extends Error {
  /** The kind of failure. */
  readonly code: InterruptErrorCode;

  /**
   * @param code - the kind of failure
   * @param message - a human-readable description
   */
  constructor(code: InterruptErrorCode, message: string) {
    super(message);
    this.name = 'InterruptError';
    this.code = code;
  }
}
