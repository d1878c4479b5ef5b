/** Reference-info flag: the reference was a write. */
export const REF_WRITE = 0x08;
/** Reference-info flag: the reference was to a guest paging-structure entry (not EPT). */
export const REF_GUEST = 0x10;

/**
 * The memory references of two-dimensional walks, in order: EPT paging-structure entries read
 * (and accessed/dirty flags written) by the EPT walk, and the guest paging-structure entries
 * the guest walk read or updated through it. Addresses are host-physical. The final data
 * access itself is not a walk reference and is not logged.
 *
 * Info per reference: level in bits 2:0 (1 = PTE .. 5 = PML5E, 0 = final address),
 * {@link REF_WRITE}, {@link REF_GUEST}.
 */
export class ReferenceLog {
  /** Host-physical address of each reference. */
  readonly address: Float64Array;
  /** Per reference: level, {@link REF_WRITE}, {@link REF_GUEST}. */
  readonly info: Uint8Array;
  /** References recorded since the last {@link ReferenceLog.clear} (may exceed capacity). */
  count = 0;

  /** @param capacity - how many references are kept (later ones are only counted) */
  constructor(capacity = 512) {
    this.address = new Float64Array(capacity);
    this.info = new Uint8Array(capacity);
  }

  /** Forgets the recorded references. */
  clear(): void {
    this.count = 0;
  }

  /**
   * Records one reference.
   *
   * @param address - host-physical address
   * @param info - level and flags
   */
  push(address: number, info: number): void {
    const n = this.count++;
    if (n < this.address.length) {
      this.address[n] = address;
      this.info[n] = info;
    }
  }

  /**
   * Removes the guest-entry writes recorded since the last guest-entry read (accessed/dirty
   * updates that were translated but then abandoned), keeping the others in order.
   */
  removePendingGuestWrites(): void {
    const end = Math.min(this.count, this.address.length);
    let start = end;
    while (start > 0 && (this.info[start - 1]! & (REF_GUEST | REF_WRITE)) !== REF_GUEST) start--;
    let n = start;
    for (let i = start; i < end; i++) {
      const flags = REF_GUEST | REF_WRITE;
      if ((this.info[i]! & flags) === flags) continue;
      this.address[n] = this.address[i]!;
      this.info[n++] = this.info[i]!;
    }
    this.count -= end - n;
  }

  /**
   * Counts the recorded references matching a mask.
   *
   * @param mask - info bits to test
   * @param value - required value of those bits
   * @returns the count
   * @example
   * ```ts
   * log.countWhere(REF_GUEST | REF_WRITE, REF_GUEST); // guest entry reads
   * ```
   */
  countWhere(mask: number, value: number): number {
    let n = 0;
    const end = Math.min(this.count, this.address.length);
    for (let i = 0; i < end; i++) if ((this.info[i]! & mask) === value) n++;
    return n;
  }
}
