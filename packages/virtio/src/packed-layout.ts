import { MAX_QUEUE_SIZE } from './constants.js';

/**
 * Where the three parts of a packed virtqueue live (virtio 1.2 §2.8): the Descriptor Ring
 * (Descriptor Area), the Driver Event Suppression structure (Driver Area) and the Device Event
 * Suppression structure (Device Area).
 */
export interface PackedQueueLayout {
  /** Queue Size: 1..32768, not necessarily a power of two. */
  readonly size: number;
  /** Guest-physical address of the descriptor ring (16-byte aligned). */
  readonly descRing: number;
  /** Guest-physical address of the driver event suppression structure (4-byte aligned). */
  readonly driverEvent: number;
  /** Guest-physical address of the device event suppression structure (4-byte aligned). */
  readonly deviceEvent: number;
}

/** Minimum alignment of each packed-ring part, the table in §2.8 (Structure Size and Alignment). */
export const PACKED_ALIGNMENT = {
  /** Descriptor Ring. */
  descRing: 16,
  /** Driver Event Suppression. */
  driverEvent: 4,
  /** Device Event Suppression. */
  deviceEvent: 4,
} as const;

/** struct pvirtq_desc flag: the descriptor is available (driver wrap counter), §2.8.1. */
export const VIRTQ_DESC_F_AVAIL = 1 << 7;
/** struct pvirtq_desc flag: the descriptor is used (device wrap counter), §2.8.1. */
export const VIRTQ_DESC_F_USED = 1 << 15;
/** Event suppression flags value: notifications enabled (§2.8.10). */
export const RING_EVENT_FLAGS_ENABLE = 0;
/** Event suppression flags value: notifications disabled. */
export const RING_EVENT_FLAGS_DISABLE = 1;
/** Event suppression flags value: notify at a specific descriptor (needs EVENT_IDX). */
export const RING_EVENT_FLAGS_DESC = 2;

/** Byte offsets inside struct pvirtq_desc (§2.8.13) and struct pvirtq_event_suppress (§2.8.14). */
export const packedOffsets = {
  /** pvirtq_desc.addr (le64). */
  addr: 0,
  /** pvirtq_desc.len (le32). */
  len: 8,
  /** pvirtq_desc.id (le16). */
  id: 12,
  /** pvirtq_desc.flags (le16). */
  flags: 14,
  /** pvirtq_event_suppress.desc: offset in bits 0-14, wrap counter in bit 15. */
  eventOffWrap: 0,
  /** pvirtq_event_suppress.flags: RING_EVENT_FLAGS_* in bits 0-1. */
  eventFlags: 2,
} as const;

/** Whether `size` is a valid packed Queue Size: 1..32768 (§2.8; no power-of-two rule). */
export function isValidPackedQueueSize(size: number): boolean {
  return Number.isInteger(size) && size >= 1 && size <= MAX_QUEUE_SIZE;
}

/**
 * Whether a descriptor with `flags` is available in the lap whose wrap counter is `wrap`
 * (§2.8.1): its AVAIL bit equals the counter and its USED bit does not.
 */
export function isAvailableIn(flags: number, wrap: number): boolean {
  const avail = (flags & VIRTQ_DESC_F_AVAIL) !== 0 ? 1 : 0;
  const used = (flags & VIRTQ_DESC_F_USED) !== 0 ? 1 : 0;
  return avail === wrap && used !== wrap;
}

/**
 * The free-running (mod 2^16) index of the descriptor an event suppression structure names
 * (§2.8.10: offset in bits 0-14, wrap counter in bit 15), relative to ring position `pos` in the
 * lap with wrap counter `posWrap`, whose free-running index is `now`: in the current lap if the
 * wrap counters match, otherwise in the previous one.
 */
export function eventIndex(
  offWrap: number,
  pos: number,
  posWrap: number,
  now: number,
  size: number,
): number {
  const lapStart = now - pos;
  return (lapStart + (offWrap & 0x7fff) - (offWrap >>> 15 === posWrap ? 0 : size)) & 0xffff;
}
