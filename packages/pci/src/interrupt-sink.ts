/**
 * One message-signalled interrupt as it leaves a function: a DWORD memory write of `data` to
 * `addressHigh:addressLow` (PCI Local Bus 3.0 §6.8), tagged with the requester's routing ID so
 * that an interrupt-remapping unit can validate the source (VT-d §9.10 SID/SQ/SVT).
 */
export interface MsiMessage {
  /** Bits 31:0 of the message address (bits 1:0 are always 0). */
  readonly addressLow: number;
  /** Bits 63:32 of the message address (0 for a 32-bit message). */
  readonly addressHigh: number;
  /** The DWORD written: the 16-bit Message Data for MSI, 32 bits for MSI-X. */
  readonly data: number;
  /** Routing ID (bus << 8 | devfn) of the function that sent it. */
  readonly requesterId: number;
}

/**
 * Where a function's interrupts go: the consumer-side seam to an interrupt controller, an
 * IOMMU's interrupt-remapping unit or a test recorder. `@vmkit/pci` delivers; it does not decide
 * what a message means.
 */
export interface InterruptSink {
  /** Receives a message-signalled interrupt (MSI or MSI-X). */
  deliverMsi(message: MsiMessage): void;
  /**
   * Receives a change of the function's INTx line level (pins 1-4 = INTA#-INTD#), already
   * gated by the Command register's Interrupt Disable bit.
   */
  setIntx(requesterId: number, pin: number, asserted: boolean): void;
}

/** An {@link InterruptSink} that drops everything: the default until a VMM connects one. */
export const NO_INTERRUPTS: InterruptSink = {
  deliverMsi: () => {},
  setIntx: () => {},
};

/** Sends one message if the function may (Bus Master Enable set); used by MSI and MSI-X. */
export type MessageSender = (addressLow: number, addressHigh: number, data: number) => boolean;
