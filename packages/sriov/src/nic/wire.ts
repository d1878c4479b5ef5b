/** Bits a frame occupies on 10GBASE media: preamble + SFD (8), FCS (4), inter-frame gap (12). */
export const WIRE_OVERHEAD_BYTES = 8 + 4 + 12;

/**
 * A simulated 10 Gb/s Ethernet link: counts frames and bytes each way and the time the frames
 * occupy the medium (IEEE 802.3 framing overhead: preamble/SFD, FCS, minimum inter-frame gap).
 * Frames leaving the NIC go to `onTransmit` (the far end); `receive` injects frames from it.
 */
export class Wire {
  /** Line rate in bits per second. */
  readonly bitsPerSecond: number;
  /** Frames sent out of the NIC. */
  framesOut = 0;
  /** Frame bytes (without FCS) sent out. */
  bytesOut = 0;
  /** Nanoseconds the outgoing frames occupied the link. */
  busyNsOut = 0;
  /** The far end: receives every frame the NIC transmits. */
  onTransmit: (frame: Uint8Array) => void = () => {};
  /** Set by the NIC: delivers a frame arriving from the far end. */
  deliver: (frame: Uint8Array) => void = () => {};

  /** @param bitsPerSecond - line rate (default 10 Gb/s) */
  constructor(bitsPerSecond = 10e9) {
    this.bitsPerSecond = bitsPerSecond;
  }

  /**
   * Time a frame of `length` bytes (without FCS, frames shorter than 60 are padded) occupies the link.
   *
   * @param length - frame length
   * @returns nanoseconds
   */
  frameTimeNs(length: number): number {
    return ((Math.max(length, 60) + WIRE_OVERHEAD_BYTES) * 8 * 1e9) / this.bitsPerSecond;
  }

  /** Called by the NIC for an outgoing frame. */
  transmit(frame: Uint8Array): void {
    this.framesOut++;
    this.bytesOut += frame.length;
    this.busyNsOut += this.frameTimeNs(frame.length);
    this.onTransmit(frame);
  }

  /**
   * Injects a frame from the far end into the NIC.
   *
   * @param frame - the frame
   */
  receive(frame: Uint8Array): void {
    this.deliver(frame);
  }

  /** Payload goodput of the outgoing direction if frames were sent back to back, in bits/s. */
  get utilisation(): number {
    return this.busyNsOut === 0
      ? 0
      : (this.bytesOut * 8) / (this.busyNsOut / 1e9) / this.bitsPerSecond;
  }
}
