import { type CacheGeometry, type Replacement, TranslationCache } from './translation-cache.js';

/** Configuration of a {@link Tlb}. */
export interface TlbConfig {
  /** The TLB for 4-KByte pages; default 128 sets x 8 ways. */
  readonly small?: CacheGeometry;
  /** The TLB for 2-MByte and 4-MByte pages; default 32 sets x 4 ways. */
  readonly large?: CacheGeometry;
  /** The TLB for 1-GByte pages; default 4 sets x 4 ways. */
  readonly huge?: CacheGeometry;
  /** Replacement policy of all three; default `lru`. */
  readonly replacement?: Replacement;
}

/** Attribute bits of a TLB entry (the `attr` payload word). */
export const TLB_ATTR = {
  /** Bits 2:0: the combined rights (RIGHT_WRITABLE, RIGHT_USER, RIGHT_XD). */
  RIGHTS: 7,
  /** Bit 3: the dirty flag was 1 in the entry mapping the page when cached. */
  DIRTY: 8,
  /** Bits 7:4: the protection key. */
  KEY_SHIFT: 4,
} as const;

/**
 * Translation lookaside buffers (SDM Vol. 3A §4.10.2): one set-associative cache per page
 * size, as processors have separate TLBs for 4-KByte, 2/4-MByte and 1-GByte pages. An entry
 * maps a page number, tagged with a PCID (or global), to the page frame, the combined access
 * rights, the dirty flag and the protection key; the permission checks are applied at use.
 *
 * The tag of an entry is the page number: linear-address bits 63:12, 63:21 (or 31:22 for
 * 4-MByte pages of 32-bit paging) or 63:30, computed from the two halves of the address.
 *
 * @example
 * ```ts
 * const tlb = new Tlb({ small: { sets: 64, ways: 4 }, replacement: 'fifo' });
 * tlb.small.capacity; // 256
 * ```
 */
export class Tlb {
  /** Entries for 4-KByte pages. */
  readonly small: TranslationCache;
  /** Entries for 2-MByte and 4-MByte pages. */
  readonly large: TranslationCache;
  /** Entries for 1-GByte pages. */
  readonly huge: TranslationCache;

  /** @param config - geometry and replacement policy */
  constructor(config: TlbConfig = {}) {
    const replacement = config.replacement ?? 'lru';
    this.small = new TranslationCache(config.small ?? { sets: 128, ways: 8 }, replacement);
    this.large = new TranslationCache(config.large ?? { sets: 32, ways: 4 }, replacement);
    this.huge = new TranslationCache(config.huge ?? { sets: 4, ways: 4 }, replacement);
  }

  /** Invalidates every entry, global ones included. */
  clear(): void {
    this.small.clear();
    this.large.clear();
    this.huge.clear();
  }

  /**
   * Invalidates the entries tagged with `pcid`; global entries too when `includeGlobal`.
   *
   * @param pcid - the PCID
   * @param includeGlobal - whether global entries tagged with the PCID go as well
   */
  clearPcid(pcid: number, includeGlobal: boolean): void {
    for (const c of [this.small, this.large, this.huge]) {
      c.invalidateWhere((i) => c.pcid[i] === pcid && (includeGlobal || c.global[i] === 0));
    }
  }

  /** Invalidates every non-global entry, for all PCIDs. */
  clearNonGlobal(): void {
    for (const c of [this.small, this.large, this.huge])
      c.invalidateWhere((i) => c.global[i] === 0);
  }

  /**
   * Invalidates the entries for the page containing a linear address, in every page size.
   *
   * @param hi - bits 63:32 of the linear address
   * @param lo - bits 31:0
   * @param pcid - entries of this PCID go
   * @param includeGlobal - global entries for the page go too, whatever their PCID
   * @param largeShift - 21, or 22 with 32-bit paging
   */
  invalidatePage(
    hi: number,
    lo: number,
    pcid: number,
    includeGlobal: boolean,
    largeShift: number,
  ): void {
    this.small.invalidateTag(hi * 0x10_0000 + (lo >>> 12), pcid, includeGlobal);
    const large = largeShift === 22 ? lo >>> 22 : hi * 0x800 + (lo >>> 21);
    this.large.invalidateTag(large, pcid, includeGlobal);
    this.huge.invalidateTag(hi * 4 + (lo >>> 30), pcid, includeGlobal);
  }

  /** Number of valid entries in all three. @returns the count */
  occupancy(): number {
    return this.small.occupancy() + this.large.occupancy() + this.huge.occupancy();
  }
}
