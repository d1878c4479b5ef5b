import type { VirtioErrorCode } from './errors.js';
import type { PackedQueueLayout } from './packed-layout.js';
import type { SplitQueueLayout } from './split-layout.js';

/** A recorded guest fault in a saved state. */
export interface FaultState {
  /** The fault code. */
  readonly code: VirtioErrorCode;
  /** Its message. */
  readonly message: string;
  /** The chain head involved, if any. */
  readonly head?: number;
}

/** The negotiated queue features, as saved. */
export interface QueueFeatureState {
  /** VIRTIO_F_EVENT_IDX. */
  readonly eventIdx: boolean;
  /** VIRTIO_F_INDIRECT_DESC. */
  readonly indirect: boolean;
  /** VIRTIO_F_IN_ORDER. */
  readonly inOrder: boolean;
}

/**
 * The device-side state of a split virtqueue between notifications: everything that is not in
 * guest memory. Plain data (JSON-encodable), versioned by the enclosing device state.
 */
export interface SplitQueueState {
  /** Ring format. */
  readonly kind: 'split';
  /** Where the rings are. */
  readonly layout: SplitQueueLayout;
  /** Negotiated features. */
  readonly features: QueueFeatureState;
  /** Next available-ring index the device will read. */
  readonly lastAvail: number;
  /** Used idx published. */
  readonly usedIdx: number;
  /** Used idx at the last notification decision. */
  readonly signalledUsed: number;
  /** Whether available buffer notifications are enabled. */
  readonly notificationsEnabled: boolean;
  /** The fault that stopped the queue, if any. */
  readonly fault?: FaultState;
}

/** The device-side state of a packed virtqueue between notifications. */
export interface PackedQueueState {
  /** Ring format. */
  readonly kind: 'packed';
  /** Where the ring and event structures are. */
  readonly layout: PackedQueueLayout;
  /** Negotiated features. */
  readonly features: QueueFeatureState;
  /** Next ring slot the device will read. */
  readonly nextAvail: number;
  /** Device's view of the Driver Ring Wrap Counter. */
  readonly availWrap: number;
  /** Next ring slot the device will write a used descriptor to. */
  readonly nextUsed: number;
  /** Device Ring Wrap Counter. */
  readonly usedWrap: number;
  /** Free-running count of used slots. */
  readonly usedLinear: number;
  /** usedLinear at the last notification decision. */
  readonly signalledLinear: number;
  /** Whether available buffer notifications are enabled. */
  readonly notificationsEnabled: boolean;
  /** The fault that stopped the queue, if any. */
  readonly fault?: FaultState;
}

/** The saved state of either ring format. */
export type VirtqueueState = SplitQueueState | PackedQueueState;
