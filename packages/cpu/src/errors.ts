/**
 * What went wrong in a {@link CpuError} (host-side misuse, never a guest event).
 *
 * - `INVALID_REGISTER`: a register name or index that does not exist.
 * - `INVALID_VALUE`: a value out of range for the register or field it was given to.
 * - `INVALID_STATE`: an operation that the CPU's current state does not allow.
 */
export type CpuErrorCode = 'INVALID_REGISTER' | 'INVALID_VALUE' | 'INVALID_STATE';

/**
 * The typed error the CPU throws when the host (not the guest) passes bad input. Guest
 * misbehaviour never throws: it becomes an architectural exception reported by `Cpu.run`.
 *
 * @example
 * ```ts
 * try {
 *   cpu.setRip(2n ** 63n);
 * } catch (e) {
 *   if (e instanceof CpuError && e.code === 'INVALID_VALUE') console.log(e.message);
 * }
 * ```
 */
export class CpuError extends Error {
  /** The kind of failure. */
  readonly code: CpuErrorCode;

  /**
   * @param code - the kind of failure
   * @param message - a human-readable description
   */
  constructor(code: CpuErrorCode, message: string) {
    super(message);
    this.name = 'CpuError';
    this.code = code;
  }
}
