/**
 * What went wrong in a {@link GuestError}.
 *
 * - `BAD_ELF`: the bytes are not an x86-64 ELF64 executable as the boot protocol requires.
 * - `BAD_OPTIONS`: a run or boot-info option is out of range (CPU count, memory, command line).
 * - `KVM_UNAVAILABLE`: `/dev/kvm` cannot be opened for reading and writing on this host.
 * - `RUNNER_MISSING`: the KVM runner binary was not built (run the package build).
 * - `RUN_FAILED`: the runner could not be started or ended without a guest status.
 */
export type GuestErrorCode =
  | 'BAD_ELF'
  | 'BAD_OPTIONS'
  | 'KVM_UNAVAILABLE'
  | 'RUNNER_MISSING'
  | 'RUN_FAILED';

/**
 * The typed error of `@vmkit/guest`: bad input is reported with a code, never a crash or hang.
 *
 * @example
 * ```ts
 * try {
 *   parseElfImage(new Uint8Array(4));
 * } catch (e) {
 *   if (e instanceof GuestError && e.code === 'BAD_ELF') console.log(e.message);
 * }
 * ```
 */
export class GuestError extends Error {
  /** The kind of failure. */
  readonly code: GuestErrorCode;

  /**
   * @param code - the kind of failure
   * @param message - a human-readable description
   */
  constructor(code: GuestErrorCode, message: string) {
    super(message);
    this.name = 'GuestError';
    this.code = code;
  }
}
