// The cache of compiled blocks, per 4 KiB page of linear addresses, with the bookkeeping that
// keeps self-modifying code correct: which 64-byte lines of a page hold cached instruction
// bytes (a quick filter for stores), which bytes exactly (so that a store into data that
// merely shares a line with code, such as a variable placed right after `.text`, leaves the
// code cached), and an epoch that a running block compares to notice its own code changing.
import type { Block } from './block.js';

/** Bytes per page of the cache (the x86 4 KiB page). */
export const PAGE = 4096;

/** Cached blocks of one 4 KiB page and the 64-byte lines their instructions occupy. */
export interface CodePage {
  /** Compiled blocks by offset of their first byte. */
  readonly slots: (Block | undefined)[];
  /** Bitmap of the 64-byte lines holding bytes of cached instructions. */
  readonly lines: Uint32Array;
  /** How many instructions the blocks of `slots` hold. */
  count: number;
  /** Whether an instruction of a block cached on the previous page ends on this one. */
  crossFromPrevious: boolean;
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
 * Compiled blocks keyed by the linear address of their first instruction.
 *
 * @example
 * ```ts
 * const cache = new CodeCache(16384);
 * cache.lookup(0x1000); // undefined until a block is inserted
 * ```
 */
export class CodeCache {
  /** Pages holding cached blocks. */
  readonly pages = new Map<number, CodePage>();
  /** Incremented whenever cached code is dropped, so a running block can stop. */
  epoch = 0;
  private readonly capacity: number;
  private count = 0;
  // Per page of `pages`: a bitmap of the page's bytes that hold instruction bytes of cached
  // blocks (4096 bits), consulted only when a store hits a marked line.
  private readonly codeBytes = new Map<number, Uint32Array>();
  private lastPage = Number.NaN;
  private lastSlots: (Block | undefined)[] = [];

  /** @param capacity - the most instructions kept; 0 keeps nothing */
  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /**
   * The block starting at `rip`, if cached.
   *
   * @param rip - a linear address
   * @returns the block, or undefined
   */
  lookup(rip: number): Block | undefined {
    const page = Math.floor(rip / PAGE);
    if (page === this.lastPage) return this.lastSlots[rip - page * PAGE];
    const entry = this.pages.get(page);
    if (entry === undefined) return undefined;
    this.lastPage = page;
    this.lastSlots = entry.slots;
    return entry.slots[rip - page * PAGE];
  }

  /**
   * Caches `block` in the page of its first byte and marks the 64-byte lines its
   * instructions occupy on every page they span. When full, the cache is emptied first.
   *
   * @param block - a block just compiled
   */
  insert(block: Block): void {
    const n = block.instructions.length;
    if (this.capacity === 0) return;
    if (this.count + n > this.capacity) this.clear();
    const home = Math.floor(block.start / PAGE);
    let rip = block.start;
    for (let k = 0; k < n; k++) {
      const end = rip + block.instructions[k]!.length - 1;
      const last = Math.floor(end / PAGE);
      for (let page = Math.floor(rip / PAGE); page <= last; page++) {
        let entry = this.pages.get(page);
        if (entry === undefined) {
          entry = {
            slots: new Array(PAGE),
            lines: new Uint32Array(2),
            count: 0,
            crossFromPrevious: false,
          };
          this.pages.set(page, entry);
          this.codeBytes.set(page, new Uint32Array(PAGE / 32));
        }
        if (k === 0 && page === home) {
          entry.slots[rip - page * PAGE] = block;
          entry.count += n;
          this.count += n;
        }
        if (page !== home) entry.crossFromPrevious = true;
        const from = Math.max(rip, page * PAGE) - page * PAGE;
        const to = Math.min(end, page * PAGE + PAGE - 1) - page * PAGE;
        for (let line = from >> 6; line <= to >> 6; line++) {
          entry.lines[line >> 5] = entry.lines[line >> 5]! | (1 << (line & 31));
        }
        markBytes(this.codeBytes.get(page)!, from, to);
      }
      rip = end + 1;
    }
  }

  /** Drops every block. */
  clear(): void {
    this.pages.clear();
    this.codeBytes.clear();
    this.count = 0;
    this.lastPage = Number.NaN;
    this.epoch++;
  }

  /**
   * Drops every block with an instruction byte in linear page `page`.
   *
   * @param page - a page number (linear address / 4096)
   */
  invalidatePage(page: number): void {
    const entry = this.pages.get(page);
    if (entry === undefined) return;
    this.pages.delete(page);
    this.codeBytes.delete(page);
    this.count -= entry.count;
    this.lastPage = Number.NaN;
    this.epoch++;
    // Blocks that start on the previous page and end on this one are cached there.
    if (entry.crossFromPrevious) this.invalidatePage(page - 1);
  }

  /**
   * Drops the blocks on the pages of `[linear, linear + length)`.
   *
   * @param linear - first linear address written
   * @param length - bytes written
   */
  invalidate(linear: number, length: number): void {
    const last = Math.floor((linear + Math.max(length, 1) - 1) / PAGE);
    for (let page = Math.floor(linear / PAGE); page <= last; page++) this.invalidatePage(page);
  }

  /**
   * A store of `size` bytes at `linear` is happening: drops the blocks of a page when the
   * store writes one of its bytes that hold a cached instruction's bytes (the 64-byte line
   * bitmap filters first; the byte bitmap decides).
   *
   * @param linear - the store's linear address
   * @param size - its width in bytes
   */
  noteStore(linear: number, size: number): void {
    const last = linear + size - 1;
    const page = Math.floor(linear / PAGE);
    const entry = this.pages.get(page);
    if (entry !== undefined) {
      const from = linear - page * PAGE;
      const to = Math.min(last - page * PAGE, PAGE - 1);
      if (hitsLines(entry, from, to) && hitsBytes(this.codeBytes.get(page)!, from, to))
        this.invalidatePage(page);
    }
    const lastPage = Math.floor(last / PAGE);
    if (lastPage !== page) {
      const next = this.pages.get(lastPage);
      const to = last - lastPage * PAGE;
      if (
        next !== undefined &&
        hitsLines(next, 0, to) &&
        hitsBytes(this.codeBytes.get(lastPage)!, 0, to)
      )
        this.invalidatePage(lastPage);
    }
  }
}
