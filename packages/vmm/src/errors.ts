/**
 * What went wrong in a {@link VmmError}.
 *
 * - `BAD_IMAGE`: the guest image is not a loadable ELF64 x86-64 executable, or a segment lies
 *   below 1 MiB or outside guest RAM (boot protocol, "Image").
 * - `BAD_CONFIG`: a {@link VmConfig} field is out of range (RAM size, command line, quantum).
 * - `PORT_CONFLICT`: a device was registered on I/O ports another device already owns.
 * - `MMIO_CONFLICT`: an MMIO region was misaligned, beyond MAXPHYADDR, or overlapped RAM or
 *   another device.
 * - `BAD_RUN`: `run` was called with a bad budget, or after the guest already exited.
 * - `UNSUPPORTED`: a valid configuration a build cannot run (the message says which part and
 *   what it needs). This build runs every configuration `VmConfig` accepts; the code stays so
 *   callers that skip such configurations keep working.
 */
export type VmmErrorCode =
  | 'BAD_IMAGE'
  | 'BAD_CONFIG'
  | 'PORT_CONFLICT'
  | 'MMIO_CONFLICT'
  | 'BAD_RUN'
  | 'UNSUPPORTED';

/**
 * The typed error of `@vmkit/vmm`: thrown on bad host input (images, configuration, device
 * registration), never because of what a running guest does.
 *
 * @example
 * ```ts
 * try {
 *   new Vm({ image: new Uint8Array(16) });
 * } catch (e) {
 *   if (e instanceof VmmError && e.code === 'BAD_IMAGE') console.log(e.message);
 * }
 * ```
 */
export class VmmError extends Error {
  /** The kind of failure. */
  readonly code: VmmErrorCode;

  /**
   * @param code - the kind of failure
   * @param message - a human-readable description
   * @param options - the underlying error, if any
   */
  constructor(code: VmmErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VmmError';
    this.code = code;
  }
}
