// A deterministic model of the data caches that page-walk references go through: set-associative
// levels with true LRU replacement, filled inclusively, so the latency of each reference depends
// on where its line was found.
import { SimError } from './errors.js';
import type { CostProfile, MemoryLevel } from './profile.js';

/** The geometry of one cache level as the model uses it. */
export interface CacheLevelGeometry {
  /** Number of sets, a positive integer (need not be a power of two: indexing is modulo). */
  readonly sets: number;
  /** Lines per set (associativity), a positive integer. */
  readonly ways: number;
  /** Bytes per line, a power of two. */
  readonly lineSize: number;
}

/** The three cache levels a hierarchy is built from, by name. */
export interface CacheHierarchyGeometry {
  /** The first-level data cache. */
  readonly l1: CacheLevelGeometry;
  /** The second-level cache. */
  readonly l2: CacheLevelGeometry;
  /** The last-level cache. */
  readonly l3: CacheLevelGeometry;
}

/** The most lines one level may hold (2^22: 256 MiB of 64-byte lines). */
const MAX_SLOTS = 2 ** 22;

function checkGeometry(g: CacheLevelGeometry, what: string): void {
  const ok = (n: number) => Number.isSafeInteger(n) && n > 0;
  const power = ok(g.lineSize) && Number.isInteger(Math.log2(g.lineSize));
  if (!ok(g.sets) || !ok(g.ways) || !power || g.sets * g.ways > MAX_SLOTS) {
    throw new SimError(
      'INVALID_CONFIG',
      `${what}: sets and ways must be positive integers (at most ${MAX_SLOTS} lines) and lineSize a power of two, got ${JSON.stringify(g)}`,
      what,
    );
  }
}

/**
 * One set-associative cache level with least-recently-used replacement. Lines are identified by
 * their line number (physical address divided by the line size); the set is the line number
 * modulo the number of sets. A level may be shared by several {@link CacheHierarchy} objects
 * (a last-level cache shared by cores): a line it evicts is back-invalidated in all the levels
 * above it, so each level always holds a superset of the levels above (inclusion).
 *
 * @example
 * ```ts
 * const l3 = new CacheLevel({ sets: 8192, ways: 16, lineSize: 64 }); // 8 MiB, shared
 * ```
 */
export class CacheLevel {
  /** The level's geometry. */
  readonly geometry: CacheLevelGeometry;
  /** The levels directly above this one (back-invalidated when this level evicts a line). */
  readonly uppers: CacheLevel[] = [];
  /** Line number held by each slot (set x ways + way), or -1 when the slot is empty. */
  private readonly lines: Float64Array;
  /** Time of last use of each slot, from {@link CacheLevel.clock}. */
  private readonly stamps: Float64Array;
  private clock = 0;

  /**
   * @param geometry - sets, ways and line size
   * @throws {@link SimError} `INVALID_CONFIG` for a geometry that is not positive integers with a
   *   power-of-two line size
   */
  constructor(geometry: CacheLevelGeometry) {
    checkGeometry(geometry, 'cache level');
    this.geometry = { sets: geometry.sets, ways: geometry.ways, lineSize: geometry.lineSize };
    this.lines = new Float64Array(geometry.sets * geometry.ways).fill(-1);
    this.stamps = new Float64Array(geometry.sets * geometry.ways);
  }

  /**
   * Looks a line up and, on a hit, makes it the most recently used of its set.
   *
   * @param line - the line number
   * @returns whether the level holds the line
   */
  lookup(line: number): boolean {
    const ways = this.geometry.ways;
    const base = (line % this.geometry.sets) * ways;
    const lines = this.lines;
    for (let i = base, end = base + ways; i < end; i++) {
      if (lines[i] === line) {
        this.stamps[i] = ++this.clock;
        return true;
      }
    }
    return false;
  }

  /**
   * Places a line that the level does not hold as the most recently used of its set: into an
   * empty way if there is one, else over the least recently used line, which is then
   * back-invalidated in every level above.
   *
   * @param line - the line number
   */
  fill(line: number): void {
    const ways = this.geometry.ways;
    const base = (line % this.geometry.sets) * ways;
    const lines = this.lines;
    const stamps = this.stamps;
    let victim = base;
    for (let i = base, end = base + ways; i < end; i++) {
      if (lines[i] === -1) {
        victim = i;
        break;
      }
      if (stamps[i]! < stamps[victim]!) victim = i;
    }
    const evicted = lines[victim]!;
    lines[victim] = line;
    stamps[victim] = ++this.clock;
    if (evicted !== -1) for (const u of this.uppers) u.invalidate(evicted);
  }

  /**
   * Drops a line from this level and, to keep inclusion, from every level above.
   *
   * @param line - the line number
   */
  invalidate(line: number): void {
    const ways = this.geometry.ways;
    const base = (line % this.geometry.sets) * ways;
    for (let i = base, end = base + ways; i < end; i++) {
      if (this.lines[i] === line) {
        this.lines[i] = -1;
        this.stamps[i] = 0;
        break;
      }
    }
    for (const u of this.uppers) u.invalidate(line);
  }
}

/**
 * The caches one core's memory references go through: L1, L2 and L3, the last possibly shared
 * with other hierarchies. {@link CacheHierarchy.access} looks a physical address up level by
 * level, reports the first level that holds its line (or `dram`), makes it the most recently
 * used there and fills it into every level above that missed (inclusive fill). A hit refreshes
 * recency only at the level that served it, as a real hit in L1 is not seen by L2.
 *
 * The model is deterministic: the same sequence of accesses gives the same levels. It has no
 * timing, prefetching, write-back traffic or coherence other than inclusion.
 *
 * @example
 * ```ts
 * const caches = CacheHierarchy.forWalks(defaultProfile);
 * caches.access(0x1000); // 'dram' (cold)
 * caches.access(0x1008); // 'l1' (same 64-byte line)
 * caches.served; // Float64Array [1, 0, 0, 1]: references served by l1, l2, l3, dram
 * ```
 */
export class CacheHierarchy {
  /** L1, L2 and L3, in lookup order. */
  readonly levels: readonly [CacheLevel, CacheLevel, CacheLevel];
  /** Accesses served by each level so far, indexed as `MEMORY_LEVELS` (l1, l2, l3, dram). */
  readonly served = new Float64Array(4);
  private readonly lineSize: number;

  /**
   * Links three levels into one hierarchy (each becomes an upper of the next, for inclusion).
   * Pass the same `l3` to several hierarchies to share it.
   *
   * @param l1 - the first level
   * @param l2 - the second level
   * @param l3 - the last level
   * @throws {@link SimError} `INVALID_CONFIG` if the levels' line sizes differ
   */
  constructor(l1: CacheLevel, l2: CacheLevel, l3: CacheLevel) {
    const size = l1.geometry.lineSize;
    if (l2.geometry.lineSize !== size || l3.geometry.lineSize !== size) {
      throw new SimError('INVALID_CONFIG', 'every cache level must have the same line size');
    }
    this.levels = [l1, l2, l3];
    this.lineSize = size;
    l2.uppers.push(l1);
    l3.uppers.push(l2);
  }

  /**
   * A hierarchy with the effective geometry of {@link walkCacheGeometry} for `profile`.
   *
   * @param profile - the cost profile (its `memory.caches` and `memory.pageTableShare`)
   * @param sharedL3 - an L3 shared with other hierarchies (default: a private one)
   * @returns the hierarchy
   */
  static forWalks(profile: CostProfile, sharedL3?: CacheLevel): CacheHierarchy {
    const g = walkCacheGeometry(profile);
    return new CacheHierarchy(
      new CacheLevel(g.l1),
      new CacheLevel(g.l2),
      sharedL3 ?? new CacheLevel(g.l3),
    );
  }

  /**
   * One memory reference.
   *
   * @param physicalAddress - a non-negative physical address (any byte of the line)
   * @returns the level that served it
   */
  access(physicalAddress: number): MemoryLevel {
    const line = Math.floor(physicalAddress / this.lineSize);
    const [l1, l2, l3] = this.levels;
    if (l1.lookup(line)) {
      this.served[0]!++;
      return 'l1';
    }
    if (l2.lookup(line)) {
      this.served[1]!++;
      l1.fill(line);
      return 'l2';
    }
    if (l3.lookup(line)) {
      this.served[2]!++;
      l2.fill(line);
      l1.fill(line);
      return 'l3';
    }
    this.served[3]!++;
    // Outermost first, so a victim back-invalidated from an outer level is never the new line.
    l3.fill(line);
    l2.fill(line);
    l1.fill(line);
    return 'dram';
  }
}

/**
 * The geometry page-walk references see in each level: the profile's cache (size,
 * associativity, line size) shrunk to the share page-table lines may occupy
 * (`memory.pageTableShare`), because the guest's own data competes for the same caches and is
 * not fed into the model. Capacity `size x share` is rounded to whole sets (at least one); the
 * associativity is kept.
 *
 * @param profile - the cost profile
 * @returns the effective geometry of L1, L2 and L3
 * @example
 * ```ts
 * walkCacheGeometry(defaultProfile).l1; // { sets: 16, ways: 8, lineSize: 64 } at share 0.25
 * ```
 */
export function walkCacheGeometry(profile: CostProfile): CacheHierarchyGeometry {
  const share = profile.memory.pageTableShare.value;
  const level = (name: 'l1' | 'l2' | 'l3'): CacheLevelGeometry => {
    const c = profile.memory.caches[name];
    const ways = c.associativity.value;
    const lineSize = c.lineSize.value;
    const sets = Math.max(1, Math.round((c.size.value * share) / (ways * lineSize)));
    return { sets, ways, lineSize };
  };
  return { l1: level('l1'), l2: level('l2'), l3: level('l3') };
}
