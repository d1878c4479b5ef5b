/**
 * What went wrong in an {@link SriovError}.
 *
 * - `INVALID_CONFIG`: an SR-IOV capability parameter breaks the spec's constraints.
 * - `RANGE`: more VFs requested than TotalVFs (Linux `sriov_numvfs` answers -ERANGE).
 * - `BUSY`: VFs are enabled and a different non-zero count was requested (-EBUSY: disable first).
 * - `NO_CAPABILITY`: the function has no SR-IOV Extended Capability.
 * - `NO_RESOURCES`: the VF BAR window cannot hold the VFs' BARs.
 */
export type SriovErrorCode = 'INVALID_CONFIG' | 'RANGE' | 'BUSY' | 'NO_CAPABILITY' | 'NO_RESOURCES';

/**
 * The typed error of `@vmkit/sriov`: set-up mistakes and the PF driver's refusals. Guest
 * configuration writes never throw it.
 *
 * @example
 * ```ts
 * try {
 *   driver.setNumVfs(100);
 * } catch (e) {
 *   if (e instanceof SriovError && e.code === 'RANGE') console.log('more than TotalVFs');
 * }
 * ```
 */
export class SriovError extends Error {
  /** The kind of failure. */
  readonly code: SriovErrorCode;

  /**
   * @param code - the kind of failure
   * @param message - a human-readable description
   */
  constructor(code: SriovErrorCode, message: string) {
    super(message);
    this.name = 'SriovError';
    this.code = code;
  }
}
