import { IommuError } from './errors.js';

/** One cached translation. */
export interface IotlbEntry {
  /** Host address of the page. */
  readonly pageBase: number;
  /** Page size in bytes. */
  readonly pageSize: number;
  /** Reads permitted. */
  readonly read: boolean;
  /** Writes permitted. */
  readonly write: boolean;
}

/** An IOTLB invalidation request (VT-d §6.5.1.2, IOTLB Invalidate Register IIRG field). */
export type IotlbInvalidation =
  | {
      /** Every entry. */
      readonly granularity: 'global';
    }
  | {
      /** Entries of one domain. */
      readonly granularity: 'domain';
      /** The domain. */
      readonly domainId: number;
    }
  | {
      /** A page range of one domain. */
      readonly granularity: 'page';
      /** The domain. */
      readonly domainId: number;
      /** An address in the range; the range is aligned down to 2^(addressMask + 12). */
      readonly address: number;
      /** AM: invalidate 2^AM contiguous 4 KiB pages (0 to the unit's MAMV). */
      readonly addressMask: number;
    };

const SIZES = [4096, 2 ** 21, 2 ** 30] as const;

/**
 * The IOTLB: translations tagged by domain ID and page number, one table per page size
 * (4 KiB, 2 MiB, 1 GiB) so a superpage is one entry. Not-present and faulting walks are never
 * cached (CAP.CM = 0, VT-d §6.2.2). Invalidation is global, domain-selective, or page-selective
 * within a domain, where a page-selective request removes every entry, of any page size, that
 * overlaps the 2^AM-page range. Capacity is bounded; the oldest entry goes first.
 */
export class Iotlb {
  /** Maximum entries held. */
  readonly capacity: number;
  /** Lookups that hit. */
  hits = 0;
  /** Lookups that missed. */
  misses = 0;
  private readonly domains = new Map<number, Map<number, IotlbEntry>[]>();
  private count = 0;
  private order: [number, number, number][] = [];
  private head = 0;

  /** @param capacity - entries held before eviction (default 4096) */
  constructor(capacity = 4096) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new IommuError(
        'INVALID_CONFIG',
        `IOTLB capacity ${capacity} is not a positive integer`,
      );
    }
    this.capacity = capacity;
  }

  /** Number of cached entries. */
  get size(): number {
    return this.count;
  }

  /**
   * Looks up the translation of `iova` in `domainId`.
   *
   * @param domainId - domain tag
   * @param iova - input address
   * @returns the entry or undefined
   */
  lookup(domainId: number, iova: number): IotlbEntry | undefined {
    const tables = this.domains.get(domainId);
    if (tables !== undefined) {
      const small = tables[0]!.get(Math.floor(iova / 4096));
      if (small !== undefined) {
        this.hits++;
        return small;
      }
      for (let s = 1; s < 3; s++) {
        const e = tables[s]!.get(Math.floor(iova / SIZES[s]!));
        if (e !== undefined) {
          this.hits++;
          return e;
        }
      }
    }
    this.misses++;
    return undefined;
  }

  /**
   * Caches a translation.
   *
   * @param domainId - domain tag
   * @param iova - an address in the page
   * @param e - the translation
   */
  insert(domainId: number, iova: number, e: IotlbEntry): void {
    const s = SIZES.indexOf(e.pageSize as (typeof SIZES)[number]);
    if (s < 0) return;
    let tables = this.domains.get(domainId);
    if (tables === undefined) {
      tables = [new Map(), new Map(), new Map()];
      this.domains.set(domainId, tables);
    }
    const key = Math.floor(iova / e.pageSize);
    if (!tables[s]!.has(key)) {
      this.count++;
      this.order.push([domainId, s, key]);
    }
    tables[s]!.set(key, e);
    while (this.count > this.capacity) this.evictOldest();
    if (this.order.length - this.head > 4 * this.capacity) this.compact();
  }

  /**
   * Invalidates entries as the request says.
   *
   * @param req - global, domain-selective or page-selective
   */
  invalidate(req: IotlbInvalidation): void {
    if (req.granularity === 'global') {
      this.domains.clear();
      this.order = [];
      this.head = 0;
      this.count = 0;
      return;
    }
    const tables = this.domains.get(req.domainId);
    if (tables === undefined) return;
    if (req.granularity === 'domain') {
      for (const t of tables) this.count -= t.size;
      this.domains.delete(req.domainId);
      return;
    }
    const { addressMask } = req;
    if (!Number.isInteger(addressMask) || addressMask < 0 || addressMask > 40) {
      throw new IommuError('INVALID_CONFIG', `address mask ${addressMask} is out of range`);
    }
    const span = 2 ** (addressMask + 12);
    const start = Math.floor(req.address / span) * span;
    const end = start + span;
    for (let s = 0; s < 3; s++) {
      const t = tables[s]!;
      const size = SIZES[s]!;
      const first = Math.floor(start / size);
      const last = Math.floor((end - 1) / size);
      if (last - first + 1 <= t.size) {
        for (let k = first; k <= last; k++) if (t.delete(k)) this.count--;
      } else {
        for (const k of [...t.keys()]) if (k >= first && k <= last && t.delete(k)) this.count--;
      }
    }
  }

  /** Drops order records whose entries are gone (invalidated or re-inserted). */
  private compact(): void {
    const seen = new Set<string>();
    const kept: [number, number, number][] = [];
    for (let i = this.order.length - 1; i >= this.head; i--) {
      const o = this.order[i]!;
      const id = `${o[0]}/${o[1]}/${o[2]}`;
      if (seen.has(id) || !this.domains.get(o[0])?.[o[1]]?.has(o[2])) continue;
      seen.add(id);
      kept.push(o);
    }
    this.order = kept.reverse();
    this.head = 0;
  }

  private evictOldest(): void {
    while (this.head < this.order.length) {
      const victim = this.order[this.head++]!;
      const t = this.domains.get(victim[0])?.[victim[1]];
      if (t?.delete(victim[2])) {
        this.count--;
        return;
      }
    }
  }
}
