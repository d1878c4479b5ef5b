import { MAX_QUEUE_SIZE } from './constants.js';

/**
 * Where the three parts of a split virtqueue live in guest-physical memory (virtio 1.2 §2.7:
 * Descriptor Area, Driver Area, Device Area) and how many entries it has.
 */
export interface SplitQueueLayout {
  /** Queue Size: a power of two from 1 to 32768. */
  readonly size: number;
  /** Guest-physical address of the descriptor table (16-byte aligned). */
  readonly descTable: number;
  /** Guest-physical address of the available ring (2-byte aligned). */
  readonly availRing: number;
  /** Guest-physical address of the used ring (4-byte aligned). */
  readonly usedRing: number;
}

/**
 * Minimum alignment of each split-ring part, the table in virtio 1.2 §2.7.
 */
export const SPLIT_ALIGNMENT = {
  /** Descriptor Table. */
  descTable: 16,
  /** Available Ring. */
  availRing: 2,
  /** Used Ring. */
  usedRing: 4,
} as const;

/** Size in bytes of one descriptor (struct virtq_desc), §2.7.5. */
export const DESCRIPTOR_SIZE = 16;
/** Size in bytes of one used-ring element (struct virtq_used_elem), §2.7.8. */
export const USED_ELEM_SIZE = 8;

/** Byte sizes of the three parts of a split virtqueue. */
export interface SplitQueueSizes {
  /** Descriptor Table: 16 · Queue Size. */
  readonly descTable: number;
  /** Available Ring: 6 + 2 · Queue Size. */
  readonly availRing: number;
  /** Used Ring: 6 + 8 · Queue Size. */
  readonly usedRing: number;
}

/**
 * Byte sizes of the three parts for a queue of `size` entries, the table in virtio 1.2 §2.7:
 * 16·size, 6 + 2·size and 6 + 8·size. The trailing 2 bytes of each ring are used_event and
 * avail_event, present in memory whether or not VIRTIO_F_EVENT_IDX is negotiated.
 *
 * @param size - Queue Size
 * @returns the size in bytes of each part
 * @example
 * ```ts
 * splitQueueSizes(256); // { descTable: 4096, availRing: 518, usedRing: 2054 }
 * ```
 */
export function splitQueueSizes(size: number): SplitQueueSizes {
  return { descTable: 16 * size, availRing: 6 + 2 * size, usedRing: 6 + 8 * size };
}

/**
 * Byte offsets of the fields inside the rings of a queue of `size` entries (struct virtq_avail,
 * §2.7.6, and struct virtq_used, §2.7.8).
 */
export const splitOffsets = {
  /** Available ring `flags`. */
  availFlags: 0,
  /** Available ring `idx`. */
  availIdx: 2,
  /** Available ring `ring[slot]`. */
  availRing: (slot: number): number => 4 + 2 * slot,
  /** Available ring `used_event` (only meaningful with VIRTIO_F_EVENT_IDX). */
  usedEvent: (size: number): number => 4 + 2 * size,
  /** Used ring `flags`. */
  usedFlags: 0,
  /** Used ring `idx`. */
  usedIdx: 2,
  /** Used ring `ring[slot]` (`id` at +0, `len` at +4). */
  usedRing: (slot: number): number => 4 + 8 * slot,
  /** Used ring `avail_event` (only meaningful with VIRTIO_F_EVENT_IDX). */
  availEvent: (size: number): number => 4 + 8 * size,
} as const;

/** Whether `size` is a valid split-ring Queue Size: a power of two, 1..32768 (§2.7). */
export function isValidSplitQueueSize(size: number): boolean {
  return Number.isInteger(size) && size >= 1 && size <= MAX_QUEUE_SIZE && (size & (size - 1)) === 0;
}
