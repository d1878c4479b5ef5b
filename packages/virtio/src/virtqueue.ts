import type { DescriptorChain } from './chain.js';
import { VirtioError } from './errors.js';
import type { VirtqueueState } from './queue-state.js';

/**
 * The device side of a virtqueue, the same for split (§2.7) and packed (§2.8) rings: what a
 * device model uses to take buffers from the driver and give them back.
 *
 * None of these methods throws on guest-controlled input: a malformed ring or chain sets
 * {@link Virtqueue.fault}, after which the queue hands out nothing and writes nothing.
 */
export interface Virtqueue {
  /** Queue Size: the number of descriptors. */
  readonly size: number;
  /** The guest fault that stopped this queue, if any. */
  readonly fault: VirtioError | undefined;
  /** Whether the driver has made a buffer available that has not been popped yet. */
  hasAvailable(): boolean;
  /**
   * The device-writable bytes of the available chains, summed in ring order until `limit` is
   * reached, without taking them (QEMU's virtqueue_avail_bytes): how a network device learns
   * whether a packet fits before it commits buffers. The chains are validated as `pop` would.
   *
   * @param limit - stop once this many bytes are found
   * @returns the bytes found (at least `limit` when enough are available)
   */
  availableWritableBytes(limit: number): number;
  /** Takes the next available chain, or `undefined` when there is none or the queue faulted. */
  pop(): DescriptorChain | undefined;
  /**
   * Returns a popped chain to the driver.
   *
   * @param head - the chain's `head`
   * @param len - bytes written into its device-writable buffers
   */
  addUsed(head: number, len: number): void;
  /**
   * With VIRTIO_F_IN_ORDER, returns the next `count` popped chains with one used entry for the
   * last of them (§2.7.9, §2.8.8); throws `INVALID_STATE` without IN_ORDER.
   *
   * @param count - chains in the batch, in pop order
   * @param len - bytes written into the last chain of the batch
   */
  addUsedBatch(count: number, len: number): void;
  /**
   * Whether the driver wants a used buffer notification for the buffers returned since the last
   * call (flag-based or VIRTIO_F_EVENT_IDX suppression). Call once after a batch of `addUsed`.
   */
  needsNotification(): boolean;
  /** Asks the driver not to send available buffer notifications (a hint, §2.7.10). */
  disableNotification(): void;
  /**
   * The device-side state for a snapshot, taken between notifications (nothing in flight).
   *
   * @throws VirtioError `INVALID_STATE` while chains are in flight
   */
  save(): VirtqueueState;
  /**
   * Asks the driver to send available buffer notifications again.
   *
   * @returns whether buffers arrived meanwhile, which the device must then process itself
   */
  enableNotification(): boolean;
}

/**
 * The host-side argument rule of {@link Virtqueue.addUsed}: the used length is a u32.
 *
 * @throws VirtioError `INVALID_ARGUMENT` otherwise
 */
export function checkUsedLength(len: number, head: number): void {
  if (!Number.isInteger(len) || len < 0 || len >= 2 ** 32) {
    throw new VirtioError('INVALID_ARGUMENT', `used length ${len} is not a u32`, head);
  }
}

/**
 * The host-side rules of {@link Virtqueue.addUsedBatch} (§2.7.9, §2.8.8): VIRTIO_F_IN_ORDER was
 * negotiated, and the batch covers 1..`inFlight` chains.
 *
 * @param unit - what the ring format calls a used element, for the message
 * @throws VirtioError `INVALID_STATE` without IN_ORDER, `INVALID_ARGUMENT` for a bad count
 */
export function checkUsedBatch(
  inOrder: boolean,
  count: number,
  inFlight: number,
  unit: 'entries' | 'descriptors',
): void {
  if (!inOrder) {
    throw new VirtioError('INVALID_STATE', `batched used ${unit} need VIRTIO_F_IN_ORDER`);
  }
  if (!Number.isInteger(count) || count < 1 || count > inFlight) {
    throw new VirtioError('INVALID_ARGUMENT', `batch of ${count} with ${inFlight} in flight`);
  }
}
