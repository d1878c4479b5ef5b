/**
 * Counters of a {@link NestedMmu}: combined-TLB hits and misses, walks, the memory references
 * of those walks (guest entries and EPT entries, reads and A/D writes), combined
 * paging-structure-cache hits by level, guest faults and EPT exits.
 */
export class NestedStats {
  /** Translations served by the combined TLB. */
  hits = 0;
  /** Translations that walked. */
  misses = 0;
  /** Two-dimensional walks (each miss walks once). */
  walks = 0;
  /** Memory references of all walks (guest and EPT entries, reads and writes). */
  references = 0;
  /** Of those, references to guest paging-structure entries. */
  guestReferences = 0;
  /** Combined paging-structure-cache hits by level of the cached guest entry. */
  readonly pscHits = new Float64Array(6);
  /** Guest #PF, #GP and #SS outcomes. */
  faults = 0;
  /** EPT violations and misconfigurations. */
  eptExits = 0;

  /** Average memory references per walk. @returns the average, 0 without walks */
  referencesPerWalk(): number {
    return this.walks === 0 ? 0 : this.references / this.walks;
  }

  /** Sets every counter to zero. */
  reset(): void {
    this.hits = 0;
    this.misses = 0;
    this.walks = 0;
    this.references = 0;
    this.guestReferences = 0;
    this.pscHits.fill(0);
    this.faults = 0;
    this.eptExits = 0;
  }
}
