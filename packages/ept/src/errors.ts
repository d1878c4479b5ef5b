/**
 * What was wrong in an {@link EptError}.
 *
 * - `INVALID_EPTP`: an EPTP that VM entry would reject (SDM Vol. 3C §27.2.1.1).
 * - `INVALID_CONFIG`: a capability set or cache geometry that cannot exist.
 * - `INVALID_ARGUMENT`: an address, size or permission given by the host is malformed.
 * - `OUT_OF_TABLE_MEMORY`: an {@link EptBuilder} ran out of room for new tables.
 */
export type EptErrorCode =
  | 'INVALID_EPTP'
  | 'INVALID_CONFIG'
  | 'INVALID_ARGUMENT'
  | 'OUT_OF_TABLE_MEMORY';

/**
 * The typed error of `@vmkit/ept`. It is thrown only for host-side misuse; guest-controlled
 * input (EPT entries the VMM wrote wrongly included) yields EPT violations and
 * misconfigurations, never an exception.
 *
 * @example
 * ```ts
 * try {
 *   new Ept(memory, { eptp: 0x1000n }); // memory type 0 is fine, walk length 1 is not
 * } catch (e) {
 *   if (e instanceof EptError && e.code === 'INVALID_EPTP') console.log(e.message);
 * }
 * ```
 */
export class EptError extends Error {
  /** The kind of failure. */
  readonly code: EptErrorCode;

  /**
   * @param code - the kind of failure
   * @param message - a human-readable description
   */
  constructor(code: EptErrorCode, message: string) {
    super(message);
    this.name = 'EptError';
    this.code = code;
  }
}
