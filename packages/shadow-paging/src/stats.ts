/** Shadow page-fault kinds, as a VMM's fault handler classifies them. */
export const ShadowFaultKind = {
  /** A true guest fault: the guest's own tables deny the access; inject #PF with `errorCode`. */
  GUEST: 0,
  /** Hidden fault: the shadow entry was missing and has been filled; retry the access. */
  NOT_PRESENT: 1,
  /**
   * Hidden fault: a write through a read-only shadow entry the guest allows (dirty-flag
   * emulation or log-dirty tracking); the entry was made writable; retry.
   */
  WRITE_PROTECT: 2,
  /** A write to a write-protected guest page table: the VMM emulates it (`emulateWrite`). */
  PAGE_TABLE_WRITE: 3,
  /** The guest-physical address has no RAM behind it: the VMM emulates the MMIO access. */
  MMIO: 4,
} as const;

/**
 * The lock a VMM holds while it changes shadow tables (Xen's shadow lock, KVM's mmu_lock).
 * It counts acquisitions and the work done while held (shadow entries written plus guest
 * entries read), so a simulator can charge hold times and contention (seed 003).
 */
export class ShadowLock {
  /** Times acquired. */
  acquisitions = 0;
  /** Work units done while held, summed. */
  workUnits = 0;
  /** Work units of the current (or last) hold. */
  currentHold = 0;
  /** Whether held now. */
  held = false;

  /** Acquires the lock. */
  acquire(): void {
    this.acquisitions++;
    this.currentHold = 0;
    this.held = true;
  }

  /** Charges `n` units of work to the current hold. @param n - units */
  charge(n: number): void {
    this.currentHold += n;
    this.workUnits += n;
  }

  /** Releases the lock. */
  release(): void {
    this.held = false;
  }
}

/** Counters of a {@link ShadowMmu}. */
export class ShadowStats {
  /** Shadow page faults by {@link ShadowFaultKind} (index = kind). */
  readonly faults = new Float64Array(5);
  /** Shadow pages allocated. */
  pagesAllocated = 0;
  /** Shadow pages freed. */
  pagesFreed = 0;
  /** Times shadow memory ran out and every shadow table was dropped to make room. */
  reclaims = 0;
  /** Guest page-table writes emulated. */
  emulatedWrites = 0;
  /** Guest CR3 loads whose shadow root was cached. */
  rootHits = 0;
  /** Guest CR3 loads that built a new shadow root. */
  rootMisses = 0;
  /** INVLPGs handled. */
  invlpgs = 0;
  /** Hardware TLB flushes (each vCPU's TLB counts once). */
  tlbFlushes = 0;
  /** Of those, flushes of vCPUs other than the one whose operation caused them (IPIs). */
  remoteTlbFlushes = 0;
  /** Log-dirty: entries made writable by prediction. */
  predicted = 0;
  /** Log-dirty: predicted entries that were written (shadow D set) before the harvest. */
  predictedWritten = 0;
  /** Log-dirty: written pages that had been predicted (the recall numerator = predictedWritten). */
  writtenPages = 0;
  /** Log-dirty: shadow entries scanned at epoch boundaries. */
  scanned = 0;

  /** Total shadow page faults. @returns the sum over kinds */
  totalFaults(): number {
    let n = 0;
    for (const v of this.faults) n += v;
    return n;
  }

  /** Precision of write-fault prediction: written / predicted. @returns a ratio, 0 without predictions */
  precision(): number {
    return this.predicted === 0 ? 0 : this.predictedWritten / this.predicted;
  }

  /** Recall of write-fault prediction: predicted-and-written / written pages. @returns a ratio */
  recall(): number {
    return this.writtenPages === 0 ? 0 : this.predictedWritten / this.writtenPages;
  }
}
