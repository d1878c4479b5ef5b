// The cache of compiled blocks, per 4 KiB frame of physical memory, with the bookkeeping that
// keeps self- and cross-modifying code correct: which 64-byte lines of a frame hold cached
// instruction bytes (a quick filter for stores), which bytes exactly (so that a store into data
// that merely shares a line with code, such as a variable placed right after `.text`, leaves the
// code cached), and an epoch that a running block compares to notice its own code changing.
//
// Keying by physical address (the address the CpuMemory reads: guest-physical for one-stage
// paging, host-physical behind EPT) is what lets blocks survive CR3 loads and TLB invalidations,
// and what lets a store reach the cached code whatever linear mapping, CPU or host it comes
// from: the memory implementations report every store with its physical address (CodeWatch).
// Several CPUs over one guest memory share one CodeCache, so a store by one drops the blocks
// every CPU would run (SDM Vol. 3A §8.1.3, "Handling Self- and Cross-Modifying Code").
import type { Block } from './block.js';

/** Bytes per page of the cache (the x86 4 KiB page). */
export const PAGE = 4096;

// Frames the store filter's bitmap covers at most (2^24 frames: 64 GiB of physical address
// space, a 2 MiB bitmap); it starts at 4 GiB's worth (128 KiB) when the first block is cached.
const FRAME_BITMAP_LIMIT = 1 << 24;

/**
 * What a {@link CpuMemory} reports its stores to: the code cache(s) of the CPUs that execute
 * from that memory. An implementation calls `noteStore` with the physical address of every
 * byte range it writes, before the next instruction executes.
 */
export interface CodeWatch {
  /**
   * A store of `size` bytes at physical address `physical` is happening (or just happened).
   *
   * @param physical - the physical address of the first byte written
   * @param size - bytes written, all in one 4 KiB frame or spilling into the next
   */
  noteStore(physical: number, size: number): void;
}

// Several code caches behind one CodeWatch, for a memory that more than one CPU with its own
// cache registered with.
class CodeWatchers implements CodeWatch {
  constructor(readonly list: CodeWatch[]) {}
  noteStore(physical: number, size: number): void {
    for (const w of this.list) w.noteStore(physical, size);
  }
}

/**
 * The watch a memory reports to after `watch` registers in addition to `current` (internal to
 * the package: `FlatMemory` and `MmuMemory` keep one field, usually the one cache).
 *
 * @param current - what the memory reports to so far
 * @param watch - the cache registering
 * @returns the watch to report to from now on
 */
export function addWatch(current: CodeWatch | undefined, watch: CodeWatch): CodeWatch {
  if (current === undefined || current === watch) return watch;
  if (current instanceof CodeWatchers) {
    if (!current.list.includes(watch)) current.list.push(watch);
    return current;
  }
  return new CodeWatchers([current, watch]);
}

/** Cached blocks of one 4 KiB physical frame and the 64-byte lines their instructions occupy. */
export interface CodePage {
  /**
   * Compiled blocks by offset of their first byte; blocks of other linear aliases or CPLs at
   * the same offset hang off `Block.alias`.
   */
  readonly slots: (Block | undefined)[];
  /** Bitmap of the 64-byte lines holding bytes of cached instructions. */
  readonly lines: Uint32Array;
  /** How many instructions the blocks of `slots` hold. */
  count: number;
  /** Frames holding blocks whose last instruction ends in this frame. */
  readonly crossFrom: number[];
}

/**
 * Counters of a {@link CodeCache}, for tests and benches. They only ever grow.
 */
export interface CodeCacheStats {
  /** Block entries served by a physical lookup (not counting the successor chain). */
  hits: number;
  /** Blocks decoded (and compiled, or bound to a compiled factory) because none was cached. */
  decodes: number;
  /** Frames whose blocks were dropped because a store or `invalidate` reached their code. */
  invalidatedPages: number;
  /** Times the whole cache was emptied (full, or `clear`). */
  clears: number;
}

function hitsLines(entry: CodePage, from: number, to: number): boolean {
  for (let line = from >> 6; line <= to >> 6; line++) {
    if ((entry.lines[line >> 5]! & (1 << (line & 31))) !== 0) return true;
  }
  return false;
}

// Whether any of the page offsets from..to (inclusive) is marked in the byte bitmap `bytes`.
function hitsBytes(bytes: Uint32Array, from: number, to: number): boolean {
  for (let word = from >> 5; word <= to >> 5; word++) {
    const lo = word === from >> 5 ? from & 31 : 0;
    const hi = word === to >> 5 ? to & 31 : 31;
    // Bits lo..hi of the word.
    const mask = (0xffffffff >>> (31 - hi + lo)) << lo;
    if ((bytes[word]! & mask) !== 0) return true;
  }
  return false;
}

// Marks the page offsets from..to (inclusive) in the byte bitmap `bytes`.
function markBytes(bytes: Uint32Array, from: number, to: number): void {
  for (let word = from >> 5; word <= to >> 5; word++) {
    const lo = word === from >> 5 ? from & 31 : 0;
    const hi = word === to >> 5 ? to & 31 : 31;
    bytes[word] = bytes[word]! | ((0xffffffff >>> (31 - hi + lo)) << lo);
  }
}

/**
 * Compiled blocks keyed by the physical address of their first instruction byte. One cache may
 * serve several CPUs that execute from the same memory (pass it as `CpuOptions.codeCache`):
 * blocks are CPU-independent, and a store reported by any CPU's memory drops them for all.
 *
 * @example
 * ```ts
 * const cache = new CodeCache(16384);
 * cache.lookup(0x1000); // undefined until a block is inserted
 * const cpu0 = new Cpu({ memory: memory0, codeCache: cache });
 * const cpu1 = new Cpu({ memory: memory1, codeCache: cache });
 * ```
 */
export class CodeCache implements CodeWatch {
  /** Frames holding cached blocks, by frame number (physical address / 4096). */
  readonly pages = new Map<number, CodePage>();
  /** Incremented whenever cached code is dropped, so a running block can stop. */
  epoch = 0;
  /** The most instructions kept; 0 means nothing is cached (see `CpuOptions.decodeCacheSize`). */
  readonly capacity: number;
  /** What the cache has done so far. */
  readonly stats: CodeCacheStats = { hits: 0, decodes: 0, invalidatedPages: 0, clears: 0 };
  private count = 0;
  // Per frame of `pages`: a bitmap of the frame's bytes that hold instruction bytes of cached
  // blocks (4096 bits), consulted only when a store hits a marked line.
  private readonly codeBytes = new Map<number, Uint32Array>();
  private lastPage = Number.NaN;
  private lastSlots: (Block | undefined)[] = [];
  // One bit per frame below `frameLimit`: set while `pages` holds the frame. The store check's
  // first filter (most stores hit frames without code, and a bit test is cheaper than a Map
  // lookup). Grown on demand up to FRAME_BITMAP_LIMIT frames; frames above that are only in
  // `pages`.
  private frames = new Uint32Array(0);
  private frameLimit = 0;

  /** @param capacity - the most instructions kept; 0 keeps nothing */
  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /**
   * The first cached block whose first byte is at `physical` (others follow `Block.alias`).
   *
   * @param physical - a physical address
   * @returns the block, or undefined
   */
  lookup(physical: number): Block | undefined {
    const page = Math.floor(physical / PAGE);
    if (page === this.lastPage) return this.lastSlots[physical - page * PAGE];
    const entry = this.pages.get(page);
    if (entry === undefined) return undefined;
    this.lastPage = page;
    this.lastSlots = entry.slots;
    return entry.slots[physical - page * PAGE];
  }

  private entry(page: number): CodePage {
    let entry = this.pages.get(page);
    if (entry === undefined) {
      entry = { slots: new Array(PAGE), lines: new Uint32Array(2), count: 0, crossFrom: [] };
      this.pages.set(page, entry);
      this.codeBytes.set(page, new Uint32Array(PAGE / 32));
      if (page < FRAME_BITMAP_LIMIT) {
        if (page >= this.frameLimit) this.growFrames(page);
        this.frames[page >>> 5] = this.frames[page >>> 5]! | (1 << (page & 31));
      }
    }
    return entry;
  }

  // Makes the frame bitmap cover `page` (doubling, from 4 GiB of frames on).
  private growFrames(page: number): void {
    let words = Math.max(this.frames.length, (1 << 20) >>> 5);
    while (words * 32 <= page) words *= 2;
    const grown = new Uint32Array(Math.min(words, FRAME_BITMAP_LIMIT >>> 5));
    grown.set(this.frames);
    this.frames = grown;
    this.frameLimit = grown.length * 32;
  }

  // Whether frame `page` may hold cached code: false only when the bitmap says it does not.
  private mayHoldCode(page: number): boolean {
    if (page < this.frameLimit) return (this.frames[page >>> 5]! & (1 << (page & 31))) !== 0;
    // Frames below the bitmap's reach that it does not cover yet hold no code.
    return page >= FRAME_BITMAP_LIMIT;
  }

  /**
   * Caches `block` at `block.physical` and marks the bytes its instructions occupy in its frame
   * and, for a last instruction that reaches into the next page, in the frame at
   * `block.crossPhysical`. A cached block with the same linear start and CPL at that address is
   * replaced. When full, the cache is emptied first.
   *
   * @param block - a block just compiled, with its physical addresses set
   */
  insert(block: Block): void {
    const n = block.instructions.length;
    if (this.capacity === 0) return;
    if (this.count + n > this.capacity) this.clear();
    const home = Math.floor(block.physical / PAGE);
    const homeEntry = this.entry(home);
    const offset = block.physical - home * PAGE;
    // Unlink a block this one replaces (same linear start and CPL: its second page changed).
    let first = homeEntry.slots[offset];
    let previous: Block | undefined;
    for (let b = first; b !== undefined; b = b.alias) {
      if (b.start === block.start && b.cpl === block.cpl) {
        if (previous === undefined) first = b.alias;
        else previous.alias = b.alias;
        homeEntry.count -= b.instructions.length;
        this.count -= b.instructions.length;
      } else previous = b;
    }
    block.alias = first;
    homeEntry.slots[offset] = block;
    homeEntry.count += n;
    this.count += n;
    let length = 0;
    for (let k = 0; k < n; k++) length += block.instructions[k]!.length;
    const inHome = Math.min(length, PAGE - offset);
    this.mark(home, offset, offset + inHome - 1);
    if (inHome < length && block.crossPhysical >= 0) {
      const next = Math.floor(block.crossPhysical / PAGE);
      const nextEntry = this.entry(next);
      if (!nextEntry.crossFrom.includes(home)) nextEntry.crossFrom.push(home);
      this.mark(next, 0, length - inHome - 1);
    }
  }

  private mark(page: number, from: number, to: number): void {
    const entry = this.pages.get(page)!;
    for (let line = from >> 6; line <= to >> 6; line++) {
      entry.lines[line >> 5] = entry.lines[line >> 5]! | (1 << (line & 31));
    }
    markBytes(this.codeBytes.get(page)!, from, to);
  }

  /** Drops every block. */
  clear(): void {
    this.pages.clear();
    this.codeBytes.clear();
    this.frames.fill(0);
    this.count = 0;
    this.lastPage = Number.NaN;
    this.epoch++;
    this.stats.clears++;
  }

  /**
   * Drops every block with an instruction byte in physical frame `page`.
   *
   * @param page - a frame number (physical address / 4096)
   */
  invalidatePage(page: number): void {
    const entry = this.pages.get(page);
    if (entry === undefined) return;
    this.pages.delete(page);
    this.codeBytes.delete(page);
    if (page < this.frameLimit)
      this.frames[page >>> 5] = this.frames[page >>> 5]! & ~(1 << (page & 31));
    this.count -= entry.count;
    this.lastPage = Number.NaN;
    this.epoch++;
    this.stats.invalidatedPages++;
    // Blocks that start in another frame and end in this one are cached there.
    for (const other of entry.crossFrom) this.invalidatePage(other);
  }

  /**
   * Drops the blocks on the frames of `[physical, physical + length)`.
   *
   * @param physical - first physical address written
   * @param length - bytes written
   */
  invalidate(physical: number, length: number): void {
    const last = Math.floor((physical + Math.max(length, 1) - 1) / PAGE);
    for (let page = Math.floor(physical / PAGE); page <= last; page++) this.invalidatePage(page);
  }

  /**
   * A store of `size` bytes at `physical` is happening: drops the blocks of a frame when the
   * store writes one of its bytes that hold a cached instruction's bytes (the 64-byte line
   * bitmap filters first; the byte bitmap decides). Any size works, so a host write of a whole
   * buffer is checked as exactly as a guest store.
   *
   * @param physical - the store's physical address
   * @param size - its width in bytes
   */
  noteStore(physical: number, size: number): void {
    if (this.count === 0 || size <= 0) return;
    const page = Math.floor(physical / PAGE);
    const from = physical - page * PAGE;
    // The common case first: a guest store inside one frame, most often one without code.
    if (from + size <= PAGE) {
      if (!this.mayHoldCode(page)) return;
      const entry = this.pages.get(page);
      if (
        entry !== undefined &&
        hitsLines(entry, from, from + size - 1) &&
        hitsBytes(this.codeBytes.get(page)!, from, from + size - 1)
      )
        this.invalidatePage(page);
      return;
    }
    this.noteSpan(physical, size);
  }

  // A store reaching several frames (one crossing a page boundary, or a host write).
  private noteSpan(physical: number, size: number): void {
    const last = physical + size - 1;
    const lastPage = Math.floor(last / PAGE);
    for (let page = Math.floor(physical / PAGE); page <= lastPage; page++) {
      const entry = this.pages.get(page);
      if (entry === undefined) continue;
      const from = Math.max(physical - page * PAGE, 0);
      const to = Math.min(last - page * PAGE, PAGE - 1);
      if (hitsLines(entry, from, to) && hitsBytes(this.codeBytes.get(page)!, from, to))
        this.invalidatePage(page);
    }
  }
}
