import { type CacheGeometry, type Replacement, TranslationCache } from './translation-cache.js';

/** Configuration of {@link PagingStructureCaches}. `ways: 0` disables one cache. */
export interface PscConfig {
  /** PML5-cache geometry; default 1 set x 2 ways. */
  readonly pml5e?: CacheGeometry;
  /** PML4-cache geometry; default 2 sets x 2 ways. */
  readonly pml4e?: CacheGeometry;
  /** PDPTE-cache geometry; default 4 sets x 4 ways. */
  readonly pdpte?: CacheGeometry;
  /** PDE-cache geometry; default 8 sets x 4 ways. */
  readonly pde?: CacheGeometry;
  /** Replacement policy of all four; default `lru`. */
  readonly replacement?: Replacement;
}

/**
 * The paging-structure caches of 4-level and 5-level paging (SDM Vol. 3A §4.10.3.1): the
 * PML5-, PML4-, PDPTE- and PDE-cache. An entry is tagged with the linear-address bits that
 * select the cached entry (e.g. bits 56:21 for the PDE cache) and a PCID, and holds the
 * physical address of the next paging structure, the AND of the R/W and U/S flags (low halves)
 * and the OR of the XD flags (high halves) of the entries down to the cached one. Only entries
 * that reference another paging structure are cached (a PDE that maps a 2-MByte page is a TLB
 * matter), and never global ones (§4.10.3.1).
 *
 * Caches are indexed by the level of the cached entry: `byLevel[2]` is the PDE cache.
 *
 * @example
 * ```ts
 * const psc = new PagingStructureCaches({ pde: { sets: 16, ways: 4 } });
 * psc.pde.capacity; // 64
 * ```
 */
export class PagingStructureCaches {
  /** The PML5 cache. */
  readonly pml5e: TranslationCache;
  /** The PML4 cache. */
  readonly pml4e: TranslationCache;
  /** The PDPTE cache. */
  readonly pdpte: TranslationCache;
  /** The PDE cache. */
  readonly pde: TranslationCache;
  /** The caches by level of the cached entry (index 2..5; 0 and 1 unused). */
  readonly byLevel: readonly (TranslationCache | undefined)[];

  /** @param config - geometry and replacement policy */
  constructor(config: PscConfig = {}) {
    const r = config.replacement ?? 'lru';
    this.pml5e = new TranslationCache(config.pml5e ?? { sets: 1, ways: 2 }, r);
    this.pml4e = new TranslationCache(config.pml4e ?? { sets: 2, ways: 2 }, r);
    this.pdpte = new TranslationCache(config.pdpte ?? { sets: 4, ways: 4 }, r);
    this.pde = new TranslationCache(config.pde ?? { sets: 8, ways: 4 }, r);
    this.byLevel = [undefined, undefined, this.pde, this.pdpte, this.pml4e, this.pml5e];
  }

  /**
   * The tag of the entry at `level` that a linear address uses: bits 56:21 (PDE), 56:30
   * (PDPTE), 56:39 (PML4E) or 56:48 (PML5E) of the address (and the sign bits above them).
   *
   * @param level - 2..5
   * @param hi - bits 63:32 of the linear address
   * @param lo - bits 31:0
   * @returns the tag
   */
  static tagFor(level: number, hi: number, lo: number): number {
    switch (level) {
      case 2:
        return hi * 0x800 + (lo >>> 21);
      case 3:
        return hi * 4 + (lo >>> 30);
      case 4:
        return hi >>> 7;
      default:
        return hi >>> 16;
    }
  }

  /** Invalidates every entry. */
  clear(): void {
    for (const c of [this.pml5e, this.pml4e, this.pdpte, this.pde]) c.clear();
  }

  /** Invalidates the entries of one PCID. @param pcid - the PCID */
  clearPcid(pcid: number): void {
    for (const c of [this.pml5e, this.pml4e, this.pdpte, this.pde]) {
      c.invalidateWhere((i) => c.pcid[i] === pcid);
    }
  }

  /**
   * Invalidates the entries a linear address would use, for one PCID.
   *
   * @param hi - bits 63:32 of the linear address
   * @param lo - bits 31:0
   * @param pcid - the PCID
   */
  invalidateAddress(hi: number, lo: number, pcid: number): void {
    for (let level = 2; level <= 5; level++) {
      this.byLevel[level]!.invalidateTag(PagingStructureCaches.tagFor(level, hi, lo), pcid, false);
    }
  }

  /** Number of valid entries in all four. @returns the count */
  occupancy(): number {
    return (
      this.pml5e.occupancy() +
      this.pml4e.occupancy() +
      this.pdpte.occupancy() +
      this.pde.occupancy()
    );
  }
}
