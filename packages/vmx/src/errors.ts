/**
 * What was wrong in a {@link VmxError}.
 *
 * - `INVALID_VALUE`: a raw field value (qualification, information field, MSR, TSC) is not an
 *   integer in the range its VMCS field can hold.
 * - `INVALID_FIELD`: a typed field given to an encoder does not fit its bit range, or names an
 *   encoding the SDM marks as not used.
 * - `INVALID_BITMAP`: a bitmap buffer has the wrong size for the structure it stands for.
 */
export type VmxErrorCode = 'INVALID_VALUE' | 'INVALID_FIELD' | 'INVALID_BITMAP';

/**
 * The typed error of `@vmkit/vmx`. It is thrown only for host-side misuse (an encoder given an
 * out-of-range field, a bitmap of the wrong size); guest-controlled inputs such as port numbers,
 * MSR indices or page-fault error codes are always answered, never thrown on.
 *
 * @example
 * ```ts
 * try {
 *   encodeIoQualification({ ...q, port: 0x1_0000 });
 * } catch (e) {
 *   if (e instanceof VmxError && e.code === 'INVALID_FIELD') console.log(e.field);
 * }
 * ```
 */
export class VmxError extends Error {
  /** The kind of failure. */
  readonly code: VmxErrorCode;
  /** The name of the offending field, when there is one. */
  readonly field: string | undefined;

  /**
   * @param code - the kind of failure
   * @param message - a human-readable description
   * @param field - the name of the offending field, if any
   */
  constructor(code: VmxErrorCode, message: string, field?: string) {
    super(message);
    this.name = 'VmxError';
    this.code = code;
    this.field = field;
  }
}
