/**
 * What went wrong in a {@link VirtioError}.
 *
 * Guest faults (the driver broke a rule of the specification; the device records the error,
 * enters DEVICE_NEEDS_RESET and stops the queue, it never throws them out of the device):
 *
 * - `HEAD_OUT_OF_RANGE`: an available-ring entry names a descriptor index >= Queue Size
 *   (virtio 1.2 §2.7.6).
 * - `NEXT_OUT_OF_RANGE`: a `next` field points outside the descriptor table or the indirect
 *   table (§2.7.5).
 * - `DESCRIPTOR_LOOP`: a chain visits the same descriptor twice; loops are forbidden (§2.7.5.2).
 * - `CHAIN_TOO_LONG`: a chain has more buffer descriptors than the Queue Size (§2.7.5.3.1).
 * - `NESTED_INDIRECT`: VIRTQ_DESC_F_INDIRECT inside an indirect table (§2.7.5.3.1).
 * - `INDIRECT_WITH_NEXT`: a descriptor sets both INDIRECT and NEXT (§2.7.5.3.1).
 * - `INDIRECT_NOT_NEGOTIATED`: INDIRECT used without VIRTIO_F_INDIRECT_DESC (§2.7.5.3.1).
 * - `INDIRECT_BAD_LENGTH`: an indirect table length that is zero or not a multiple of 16
 *   (§2.7.5.3).
 * - `TOTAL_LENGTH_OVERFLOW`: a chain longer than 2^32 bytes in total (§2.7.5.2).
 * - `AVAIL_IDX_JUMP`: the available `idx` moved by more than Queue Size since the device last
 *   looked (§2.7.13: the ring can never hold more than Queue Size entries).
 * - `WRITABLE_BEFORE_READABLE`: a device-readable descriptor follows a device-writable one
 *   (§2.7.4.2).
 * - `ADDRESS_OUT_OF_RANGE`: a buffer, an indirect table or a ring lies outside guest RAM.
 * - `MISALIGNED_RING`: a ring part is not aligned as §2.7 requires.
 * - `INVALID_QUEUE_SIZE`: a queue size that is zero, above the device maximum, or (split ring) not
 *   a power of two (§2.7).
 * - `PACKED_BAD_ID`: a packed-ring Buffer ID >= Queue Size, or one already in flight (§2.8).
 * - `PACKED_INCOMPLETE_CHAIN`: a packed-ring list whose next descriptor is not available
 *   (§2.8.6: the driver makes the first descriptor available after the rest).
 * - `BAD_REQUEST`: a device-type request too short for its header or its status/ack byte
 *   (virtio-blk §5.2.6, virtio-net control queue §5.1.6.5).
 * - `DEVICE_ERROR`: a device model threw while handling a notification.
 *
 * Host misuse (a bug in vmkit code calling the API, thrown):
 *
 * - `INVALID_ARGUMENT`: an argument out of its documented range.
 * - `NOT_IN_FLIGHT`: `addUsed` for a head the device never popped or already returned.
 * - `OUT_OF_ORDER`: with VIRTIO_F_IN_ORDER, a buffer returned out of the order it was made
 *   available (§2.7.9).
 * - `QUEUE_FULL`: the driver-side helper has no free descriptors for a buffer.
 * - `INVALID_STATE`: an operation not allowed in the current device status.
 */
export type VirtioErrorCode =
  | 'HEAD_OUT_OF_RANGE'
  | 'NEXT_OUT_OF_RANGE'
  | 'DESCRIPTOR_LOOP'
  | 'CHAIN_TOO_LONG'
  | 'NESTED_INDIRECT'
  | 'INDIRECT_WITH_NEXT'
  | 'INDIRECT_NOT_NEGOTIATED'
  | 'INDIRECT_BAD_LENGTH'
  | 'TOTAL_LENGTH_OVERFLOW'
  | 'AVAIL_IDX_JUMP'
  | 'WRITABLE_BEFORE_READABLE'
  | 'ADDRESS_OUT_OF_RANGE'
  | 'MISALIGNED_RING'
  | 'INVALID_QUEUE_SIZE'
  | 'PACKED_BAD_ID'
  | 'PACKED_INCOMPLETE_CHAIN'
  | 'BAD_REQUEST'
  | 'DEVICE_ERROR'
  | 'INVALID_ARGUMENT'
  | 'NOT_IN_FLIGHT'
  | 'OUT_OF_ORDER'
  | 'QUEUE_FULL'
  | 'INVALID_STATE';

/**
 * The typed error of this package. Guest faults are recorded as instances (see
 * {@link SplitVirtqueue.fault}) rather than thrown; host misuse of the API is thrown.
 *
 * @example
 * ```ts
 * const fault = queue.fault;
 * if (fault?.code === 'DESCRIPTOR_LOOP') console.log(`loop in chain ${fault.head}`);
 * ```
 */
export class VirtioError extends Error {
  /** The kind of failure. */
  readonly code: VirtioErrorCode;
  /** The head descriptor index of the chain involved, when there is one. */
  readonly head: number | undefined;

  /**
   * @param code - the kind of failure
   * @param message - a human-readable description
   * @param head - the head index of the chain involved, if any
   */
  constructor(code: VirtioErrorCode, message: string, head?: number) {
    super(message);
    this.name = 'VirtioError';
    this.code = code;
    this.head = head;
  }
}
