import { PagingError } from './errors.js';

/** How a full set picks the entry to replace. */
export type Replacement = 'lru' | 'fifo' | 'random';

/** The shape of one set-associative cache. `ways: 0` disables the cache. */
export interface CacheGeometry {
  /** Number of sets, a power of two. */
  readonly sets: number;
  /** Entries per set (associativity), 0..64. */
  readonly ways: number;
}

/**
 * A set-associative cache of translation information tagged with a PCID, the building block of
 * the TLBs and paging-structure caches (SDM Vol. 3A §4.10.2, §4.10.3). Each entry has a tag
 * (a linear-address prefix), a PCID, a global flag and three payload words whose meaning the
 * owner defines. Invalid entries have tag -1.
 *
 * @example
 * ```ts
 * const cache = new TranslationCache({ sets: 16, ways: 4 }, 'lru');
 * const slot = cache.fill(0x12345, 1, false);
 * cache.value[slot] = 0x9000;
 * cache.lookup(0x12345, 1); // slot
 * cache.lookup(0x12345, 2); // -1: another PCID
 * ```
 */
export class TranslationCache {
  /** Number of sets. */
  readonly sets: number;
  /** Entries per set. */
  readonly ways: number;
  /** The replacement policy. */
  readonly replacement: Replacement;
  /** Tag of each entry, -1 when invalid. */
  readonly tag: Float64Array;
  /** PCID of each entry. */
  readonly pcid: Int32Array;
  /** 1 for a global entry (matches every PCID). */
  readonly global: Uint8Array;
  /** First payload word (a page frame or a table address). */
  readonly value: Float64Array;
  /** Second payload word (attributes, or the AND of the entries' low halves). */
  readonly attr: Int32Array;
  /** Third payload word (the OR of the entries' high halves). */
  readonly attrHi: Int32Array;
  /** `sets - 1`: the set of a tag is `tag & setMask`. */
  readonly setMask: number;
  /** LRU time stamp of each entry. */
  readonly stamp: Float64Array;
  private readonly next: Uint8Array;
  /** The LRU clock. */
  clock = 0;
  private seed = 0x9e37_79b9;

  /**
   * @param geometry - sets (a power of two) and ways
   * @param replacement - the replacement policy
   */
  constructor(geometry: CacheGeometry, replacement: Replacement) {
    const { sets, ways } = geometry;
    if (!Number.isInteger(sets) || sets < 1 || sets > 1 << 20 || (sets & (sets - 1)) !== 0) {
      throw new PagingError('INVALID_CONFIG', `cache sets ${sets} is not a power of two`);
    }
    if (!Number.isInteger(ways) || ways < 0 || ways > 64) {
      throw new PagingError('INVALID_CONFIG', `cache ways ${ways} is not an integer in [0, 64]`);
    }
    if (replacement !== 'lru' && replacement !== 'fifo' && replacement !== 'random') {
      throw new PagingError('INVALID_CONFIG', `unknown replacement policy ${String(replacement)}`);
    }
    this.sets = sets;
    this.ways = ways;
    this.replacement = replacement;
    this.setMask = sets - 1;
    const n = sets * ways;
    this.tag = new Float64Array(n).fill(-1);
    this.pcid = new Int32Array(n);
    this.global = new Uint8Array(n);
    this.value = new Float64Array(n);
    this.attr = new Int32Array(n);
    this.attrHi = new Int32Array(n);
    this.stamp = new Float64Array(n);
    this.next = new Uint8Array(sets);
  }

  /** Total number of entries. */
  get capacity(): number {
    return this.sets * this.ways;
  }

  /**
   * Finds the entry for `tag` usable with `pcid`: same PCID, or global.
   *
   * @param tag - the linear-address prefix
   * @param pcid - the current PCID
   * @returns the slot index, or -1
   */
  lookup(tag: number, pcid: number): number {
    const ways = this.ways;
    const base = (tag & this.setMask) * ways;
    const tags = this.tag;
    for (let i = base; i < base + ways; i++) {
      if (tags[i] === tag && (this.pcid[i] === pcid || this.global[i] === 1)) {
        if (this.replacement === 'lru') this.stamp[i] = ++this.clock;
        return i;
      }
    }
    return -1;
  }

  /**
   * Allocates the entry for `tag` and `pcid`, replacing an existing entry for the same tag and
   * PCID, else an invalid entry, else the victim the policy chooses. The caller fills the
   * payload words.
   *
   * @param tag - the linear-address prefix
   * @param pcid - the PCID to tag the entry with
   * @param global - whether the entry is global
   * @returns the slot index, or -1 when the cache has no ways
   */
  fill(tag: number, pcid: number, global: boolean): number {
    const ways = this.ways;
    if (ways === 0) return -1;
    const set = tag & this.setMask;
    const base = set * ways;
    let slot = -1;
    for (let i = base; i < base + ways; i++) {
      if (this.tag[i] === tag && this.pcid[i] === pcid) {
        slot = i;
        break;
      }
      if (slot < 0 && this.tag[i] === -1) slot = i;
    }
    if (slot < 0) slot = this.victim(set, base);
    this.tag[slot] = tag;
    this.pcid[slot] = pcid;
    this.global[slot] = global ? 1 : 0;
    this.stamp[slot] = ++this.clock;
    return slot;
  }

  /**
   * Invalidates the entries for which `match` returns true.
   *
   * @param match - called with each valid slot index
   * @returns how many entries were invalidated
   */
  invalidateWhere(match: (slot: number) => boolean): number {
    let n = 0;
    for (let i = 0; i < this.tag.length; i++) {
      if (this.tag[i] !== -1 && match(i)) {
        this.tag[i] = -1;
        n++;
      }
    }
    return n;
  }

  /**
   * Invalidates the non-global entries with this tag for this PCID, and the global entries
   * with this tag (whatever their PCID) when `includeGlobal` is set.
   *
   * @param tag - the linear-address prefix
   * @param pcid - the PCID
   * @param includeGlobal - also invalidate global entries with the tag, whatever their PCID
   */
  invalidateTag(tag: number, pcid: number, includeGlobal: boolean): void {
    const base = (tag & this.setMask) * this.ways;
    for (let i = base; i < base + this.ways; i++) {
      if (this.tag[i] !== tag) continue;
      if (this.global[i] === 1 ? includeGlobal : this.pcid[i] === pcid) this.tag[i] = -1;
    }
  }

  /** Invalidates every entry. */
  clear(): void {
    this.tag.fill(-1);
  }

  /** Number of valid entries. @returns the count */
  occupancy(): number {
    let n = 0;
    for (let i = 0; i < this.tag.length; i++) if (this.tag[i] !== -1) n++;
    return n;
  }

  private victim(set: number, base: number): number {
    const ways = this.ways;
    if (this.replacement === 'fifo') {
      const w = this.next[set]!;
      this.next[set] = (w + 1) % ways;
      return base + w;
    }
    if (this.replacement === 'random') {
      // xorshift32: deterministic, so runs are reproducible.
      let x = this.seed;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.seed = x >>> 0;
      return base + (this.seed % ways);
    }
    let oldest = base;
    for (let i = base + 1; i < base + ways; i++)
      if (this.stamp[i]! < this.stamp[oldest]!) oldest = i;
    return oldest;
  }
}
