/**
 * Counters of an {@link Ept}: EPT walks, cache hits, EPT entry reads and A/D writes by level
 * (index 1 = PTE .. 5 = PML5E), violations and misconfigurations.
 */
export class EptStats {
  /** EPT walks (translations not served by a guest-physical mapping). */
  walks = 0;
  /** Translations served by a cached guest-physical mapping. */
  mappingHits = 0;
  /** Translations that missed the guest-physical-mapping cache (when it is enabled). */
  mappingMisses = 0;
  /** EPT paging-structure-cache hits by level of the cached entry. */
  readonly pscHits = new Float64Array(6);
  /** EPT entry reads by level. */
  readonly reads = new Float64Array(6);
  /** EPT accessed/dirty-flag writes by level. */
  readonly writes = new Float64Array(6);
  /** EPT violations. */
  violations = 0;
  /** EPT misconfigurations. */
  misconfigurations = 0;

  /** Total EPT entry reads. @returns the sum over levels */
  totalReads(): number {
    let n = 0;
    for (let l = 1; l <= 5; l++) n += this.reads[l]!;
    return n;
  }

  /** Sets every counter to zero. */
  reset(): void {
    this.walks = 0;
    this.mappingHits = 0;
    this.mappingMisses = 0;
    this.pscHits.fill(0);
    this.reads.fill(0);
    this.writes.fill(0);
    this.violations = 0;
    this.misconfigurations = 0;
  }
}
