/**
 * Device status bits, virtio 1.2 §2.1 (Device Status Field).
 *
 * The driver sets ACKNOWLEDGE, DRIVER, FEATURES_OK and DRIVER_OK in that order (§3.1.1) and
 * FAILED when it gives up; the device sets DEVICE_NEEDS_RESET when it enters an error state.
 * Writing 0 resets the device (§2.4).
 */
export const DeviceStatus = {
  /** The guest OS has found the device and recognized it as a valid virtio device. */
  ACKNOWLEDGE: 1,
  /** The guest OS knows how to drive the device. */
  DRIVER: 2,
  /** The driver is set up and ready to drive the device. */
  DRIVER_OK: 4,
  /** The driver has acknowledged the features it understands; feature negotiation is complete. */
  FEATURES_OK: 8,
  /** The device has experienced an error from which it cannot recover. */
  DEVICE_NEEDS_RESET: 64,
  /** Something went wrong in the guest and it has given up on the device. */
  FAILED: 128,
} as const;

/**
 * Reserved (device-independent) feature bit numbers, virtio 1.2 §6 (Reserved Feature Bits).
 * Bits 0-23 and 50-127 are device-type specific; 24-41 are these transport bits.
 */
export const FeatureBit = {
  /** Driver may use descriptors with VIRTQ_DESC_F_INDIRECT (§2.7.5.3). */
  INDIRECT_DESC: 28,
  /** Enables the used_event and avail_event fields (§2.7.7, §2.7.10). */
  EVENT_IDX: 29,
  /** Compliance with virtio 1.x (as opposed to legacy). */
  VERSION_1: 32,
  /** The device is behind an IOMMU or other platform-specific translation. */
  ACCESS_PLATFORM: 33,
  /** Support for the packed virtqueue layout (§2.8). */
  RING_PACKED: 34,
  /** All buffers are used by the device in the order they were made available (§2.7.9). */
  IN_ORDER: 35,
  /** Memory accesses are ordered in a platform-specific way. */
  ORDER_PLATFORM: 36,
  /** The device supports Single Root I/O Virtualization (PCI only). */
  SR_IOV: 37,
  /** The driver passes extra data in its device notifications (§2.9). */
  NOTIFICATION_DATA: 38,
  /** The driver uses data provided by the device as a virtqueue identifier (§2.9). */
  NOTIF_CONFIG_DATA: 39,
  /** The driver can reset a queue individually (§2.6.1). */
  RING_RESET: 40,
} as const;

/** A feature bit as a 64-bit mask. */
export function featureMask(bit: number): bigint {
  return 1n << BigInt(bit);
}

/** Whether the feature set `features` contains bit `bit`. */
export function hasFeature(features: bigint, bit: number): boolean {
  return ((features >> BigInt(bit)) & 1n) === 1n;
}

/** Split-ring descriptor flags, virtio 1.2 §2.7.5 (struct virtq_desc). */
export const VIRTQ_DESC_F_NEXT = 1;
/** Marks a buffer as device write-only (otherwise device read-only), §2.7.5. */
export const VIRTQ_DESC_F_WRITE = 2;
/** The buffer contains a list of buffer descriptors, §2.7.5.3. */
export const VIRTQ_DESC_F_INDIRECT = 4;
/** Available-ring flag: the driver does not want used buffer notifications, §2.7.6. */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** Used-ring flag: the device does not want available buffer notifications, §2.7.8. */
export const VIRTQ_USED_F_NO_NOTIFY = 1;

/** Largest queue size the specification allows (§2.7, §2.8). */
export const MAX_QUEUE_SIZE = 32768;

/** Device IDs of the device types this package implements, virtio 1.2 §5. */
export const DeviceId = {
  /** Network card, §5.1. */
  NET: 1,
  /** Block device, §5.2. */
  BLOCK: 2,
} as const;
