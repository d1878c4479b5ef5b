/**
 * The notification test of VIRTIO_F_EVENT_IDX (virtio 1.2 §2.7.7 and §2.7.10; the spec's
 * `vring_need_event` helper in the virtio_ring.h appendix): after the other side moved its
 * index from `oldIdx` to `newIdx`, a notification is due exactly when `eventIdx` lies in the
 * half-open window [oldIdx, newIdx) modulo 2^16, i.e. when one of the entries just published sat
 * at index `eventIdx`.
 *
 * @param eventIdx - the used_event (device side) or avail_event (driver side) value
 * @param newIdx - the index after publishing
 * @param oldIdx - the index at the previous notification decision
 * @returns whether a notification must be sent
 * @example
 * ```ts
 * needEvent(0, 1, 0); // true: entry 0 was published and the driver asked for it
 * needEvent(5, 3, 0); // false: entry 5 not reached yet
 * ```
 */
export function needEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  // (u16)(new_idx - event_idx - 1) < (u16)(new_idx - old)
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}
