/**
 * What was wrong in a {@link PagingError}.
 *
 * - `INVALID_CONFIG`: a feature set or cache configuration is malformed (MAXPHYADDR outside
 *   [32, 52], a cache size that is not a power of two, ...).
 * - `INVALID_ADDRESS`: a linear address or register value given by the caller is not a valid
 *   64-bit quantity (a bigint out of range, a half that is not a uint32).
 * - `INVALID_ACCESS`: an access descriptor combines flags that cannot occur together.
 * - `INVALID_OPERATION`: an instruction operand the SDM defines as #GP-raising that the caller
 *   should have checked, e.g. an INVPCID type above 3.
 */
export type PagingErrorCode =
  | 'INVALID_CONFIG'
  | 'INVALID_ADDRESS'
  | 'INVALID_ACCESS'
  | 'INVALID_OPERATION';

/**
 * The typed error of `@vmkit/paging`. It is thrown only for bad input from the host side
 * (configuration, API misuse); anything the guest controls (page tables, CR3, linear addresses)
 * produces an architectural outcome ({@link WalkOutcome}) instead, never an exception.
 *
 * @example
 * ```ts
 * try {
 *   new PagingState({ features: { maxPhyAddr: 60 } });
 * } catch (e) {
 *   if (e instanceof PagingError && e.code === 'INVALID_CONFIG') console.log(e.message);
 * }
 * ```
 */
export class PagingError extends Error {
  /** The kind of failure. */
  readonly code: PagingErrorCode;

  /**
   * @param code - the kind of failure
   * @param message - a human-readable description
   */
  constructor(code: PagingErrorCode, message: string) {
    super(message);
    this.name = 'PagingError';
    this.code = code;
  }
}
