/**
 * What went wrong in a {@link SimError}.
 *
 * - `INVALID_PROFILE`: a cost profile failed validation; `field` names the bad field by path.
 * - `UNKNOWN_EVENT`: an event kind that the cost model does not define.
 * - `INVALID_CYCLES`: a cycle count that is not a non-negative safe integer.
 * - `INVALID_CONFIG`: a scheduler, lock or simulation option is out of range.
 * - `UNKNOWN_VCPU`: a vCPU id that was never added.
 * - `NOT_RUNNING`: an operation that needs the vCPU to be on a pCPU (charge, complete).
 * - `BAD_STATE`: an operation in a state that forbids it (dispatch while a dispatch is open,
 *   waking a vCPU that is not blocked, releasing a lock that is not held...).
 */
export type SimErrorCode =
  | 'INVALID_PROFILE'
  | 'UNKNOWN_EVENT'
  | 'INVALID_CYCLES'
  | 'INVALID_CONFIG'
  | 'UNKNOWN_VCPU'
  | 'NOT_RUNNING'
  | 'BAD_STATE';

/**
 * The typed error every `@vmkit/sim` operation throws on bad input. Profile validation errors
 * carry the dotted path of the offending field (e.g. `vmexit.handlers.io.value`).
 *
 * @example
 * ```ts
 * try {
 *   loadProfile(JSON.parse(text));
 * } catch (e) {
 *   if (e instanceof SimError && e.code === 'INVALID_PROFILE') console.error(e.field);
 * }
 * ```
 */
export class SimError extends Error {
  /** The kind of failure. */
  readonly code: SimErrorCode;
  /** For `INVALID_PROFILE` and `INVALID_CONFIG`: the dotted path of the bad field. */
  readonly field: string | undefined;

  /**
   * @param code - the kind of failure
   * @param message - a human-readable description
   * @param field - the dotted path of the bad field, if any
   */
  constructor(code: SimErrorCode, message: string, field?: string) {
    super(message);
    this.name = 'SimError';
    this.code = code;
    this.field = field;
  }
}

/**
 * Checks that `n` is a cycle count: a non-negative safe integer. Simulated time is exact, so a
 * fractional or negative charge is a bug in the caller, reported rather than rounded away.
 */
export function checkCycles(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new SimError('INVALID_CYCLES', `${what} must be a non-negative safe integer, got ${n}`);
  }
  return n;
}
