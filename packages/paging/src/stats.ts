/**
 * Counters of an {@link Mmu}: TLB hits and misses, walks, faults, paging-structure-cache hits
 * and the memory references of walks, by level (index 1 = PTE .. 5 = PML5E).
 */
export class TranslationStats {
  /** Translations served by a TLB entry. */
  hits = 0;
  /** Translations that needed a walk (incl. writes to TLB entries with D = 0). */
  misses = 0;
  /** Walks performed. */
  walks = 0;
  /** Translations that ended in #PF, #GP or #SS. */
  faults = 0;
  /** Paging-structure-cache hits by level of the cached entry (2 = PDE cache ... 5). */
  readonly pscHits = new Float64Array(6);
  /** Paging-structure entry reads by level. */
  readonly reads = new Float64Array(6);
  /** Accessed/dirty-flag writes by level. */
  readonly writes = new Float64Array(6);

  /** Average memory references (reads and writes) per walk. @returns the average, 0 without walks */
  referencesPerWalk(): number {
    let n = 0;
    for (let l = 1; l <= 5; l++) n += this.reads[l]! + this.writes[l]!;
    return this.walks === 0 ? 0 : n / this.walks;
  }

  /** Sets every counter to zero. */
  reset(): void {
    this.hits = 0;
    this.misses = 0;
    this.walks = 0;
    this.faults = 0;
    this.pscHits.fill(0);
    this.reads.fill(0);
    this.writes.fill(0);
  }
}
