/**
 * What was wrong in a {@link ShadowError}.
 *
 * - `UNSUPPORTED_MODE`: the guest uses a paging mode or setting the shadow MMU does not
 *   virtualize (only 4-level paging with CR0.WP = 1 is supported).
 * - `INVALID_CONFIG`: bad options (shadow memory range, root-cache size, marker width, alpha).
 * - `OUT_OF_SHADOW_MEMORY`: no free page for a new shadow table.
 * - `INVALID_ARGUMENT`: a host-side argument is malformed.
 */
export type ShadowErrorCode =
  | 'UNSUPPORTED_MODE'
  | 'INVALID_CONFIG'
  | 'OUT_OF_SHADOW_MEMORY'
  | 'INVALID_ARGUMENT';

/**
 * The typed error of `@vmkit/shadow-paging`, thrown for host-side misuse only: guest page
 * tables and accesses produce fault kinds, never exceptions.
 *
 * @example
 * ```ts
 * try {
 *   shadow.setRegisters({ cr0: 0x8000_0001 }); // CR0.WP = 0
 * } catch (e) {
 *   if (e instanceof ShadowError) console.log(e.code); // 'UNSUPPORTED_MODE'
 * }
 * ```
 */
export class ShadowError extends Error {
  /** The kind of failure. */
  readonly code: ShadowErrorCode;

  /**
   * @param code - the kind of failure
   * @param message - a human-readable description
   */
  constructor(code: ShadowErrorCode, message: string) {
    super(message);
    this.name = 'ShadowError';
    this.code = code;
  }
}
