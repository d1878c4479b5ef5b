import { GuestMemoryError } from './errors.js';

const MAX_PAGES = 2 ** 31;

/**
 * A two-level bitmap with one bit per page and one summary bit per 32-bit word of page bits.
 *
 * Marking a page costs two word writes. Harvesting visits only the summary words plus the words
 * that hold dirty pages, so its cost follows the number of dirty pages, not the guest size:
 * 1 M pages need 1 024 summary words.
 *
 * @example
 * ```ts
 * const bitmap = new DirtyBitmap(1 << 20);
 * bitmap.markRange(10, 3);
 * bitmap.harvest(); // [10, 11, 12], and the bitmap is clear again
 * ```
 */
export class DirtyBitmap {
  /** Number of pages the bitmap covers. */
  readonly pageCount: number;
  private readonly words: Uint32Array;
  private readonly summary: Uint32Array;

  /** @param pageCount - number of pages covered; a non-negative safe integer */
  constructor(pageCount: number) {
    // Bit arithmetic below is on int32 words, which bounds a bitmap at 2^31 pages (8 TiB).
    if (!Number.isSafeInteger(pageCount) || pageCount < 0 || pageCount > MAX_PAGES) {
      throw new GuestMemoryError(
        'INVALID_LENGTH',
        `dirty bitmap page count ${pageCount} is not an integer in [0, 2^31]`,
      );
    }
    this.pageCount = pageCount;
    this.words = new Uint32Array(Math.ceil(pageCount / 32));
    this.summary = new Uint32Array(Math.ceil(this.words.length / 32));
  }

  /** Marks one page dirty. Pages outside the bitmap are a {@link GuestMemoryError}. */
  mark(page: number): void {
    this.check(page, 1);
    this.setBit(page);
  }

  /** Marks `count` pages starting at `first` dirty. */
  markRange(first: number, count: number): void {
    this.check(first, count);
    for (let p = first; p < first + count; p++) this.setBit(p);
  }

  /** Whether the page is marked dirty. */
  isDirty(page: number): boolean {
    this.check(page, 1);
    return ((this.words[page >>> 5]! >>> (page & 31)) & 1) === 1;
  }

  /** Number of dirty pages (walks only the non-empty words). */
  count(): number {
    let n = 0;
    this.forEachDirtyWord((_, word) => {
      n += popcount32(word);
    });
    return n;
  }

  /** Returns the dirty page numbers in ascending order and clears them, in one step. */
  harvest(): number[] {
    const pages: number[] = [];
    const { words, summary } = this;
    for (let s = 0; s < summary.length; s++) {
      let sbits = summary[s]!;
      if (sbits === 0) continue;
      summary[s] = 0;
      while (sbits !== 0) {
        const low = sbits & -sbits;
        const w = (s << 5) | (31 - Math.clz32(low));
        sbits ^= low;
        let bits = words[w]!;
        words[w] = 0;
        while (bits !== 0) {
          const lowBit = bits & -bits;
          pages.push((w << 5) | (31 - Math.clz32(lowBit)));
          bits ^= lowBit;
        }
      }
    }
    return pages;
  }

  /** Clears every bit. */
  clear(): void {
    this.words.fill(0);
    this.summary.fill(0);
  }

  private setBit(page: number): void {
    const w = page >>> 5;
    this.words[w]! |= 1 << (page & 31);
    this.summary[w >>> 5]! |= 1 << (w & 31);
  }

  private forEachDirtyWord(visit: (index: number, word: number) => void): void {
    const { words, summary } = this;
    for (let s = 0; s < summary.length; s++) {
      let sbits = summary[s]!;
      while (sbits !== 0) {
        const low = sbits & -sbits;
        const w = (s << 5) | (31 - Math.clz32(low));
        sbits ^= low;
        visit(w, words[w]!);
      }
    }
  }

  private check(first: number, count: number): void {
    if (
      !Number.isSafeInteger(first) ||
      !Number.isSafeInteger(count) ||
      first < 0 ||
      count < 0 ||
      first + count > this.pageCount
    ) {
      throw new GuestMemoryError(
        'OUT_OF_RANGE',
        `pages [${first}, ${first + count}) outside dirty bitmap of ${this.pageCount} pages`,
      );
    }
  }
}

function popcount32(v: number): number {
  let x = v - ((v >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
