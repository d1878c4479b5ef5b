import { PAGE_SIZE } from './guest-memory.js';

const PAGES_PER_DIR = 512;
const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

/**
 * Sparse byte storage for one RAM region: 4 KiB pages in a two-level directory (512 pages,
 * 2 MiB, per directory entry), materialized on first write. Reads of untouched pages see zeros
 * without allocating. Offsets are region-relative and already bounds-checked by the caller.
 */
export class SparsePages {
  private readonly dirs: (Uint8Array | undefined)[][] = [];
  private materialized = 0;

  /** Number of 4 KiB pages that have been allocated. */
  get materializedPages(): number {
    return this.materialized;
  }

  /** The page holding `offset` for reading: the shared zero page when untouched. */
  pageForRead(pageIndex: number): Uint8Array {
    const dir = this.dirs[Math.floor(pageIndex / PAGES_PER_DIR)];
    return dir?.[pageIndex % PAGES_PER_DIR] ?? ZERO_PAGE;
  }

  /** The page holding `offset` for writing, allocated on first use. */
  pageForWrite(pageIndex: number): Uint8Array {
    const d = Math.floor(pageIndex / PAGES_PER_DIR);
    let dir = this.dirs[d];
    if (dir === undefined) {
      dir = new Array(PAGES_PER_DIR);
      this.dirs[d] = dir;
    }
    const slot = pageIndex % PAGES_PER_DIR;
    let page = dir[slot];
    if (page === undefined) {
      page = new Uint8Array(PAGE_SIZE);
      dir[slot] = page;
      this.materialized++;
    }
    return page;
  }

  /** Whether a write ever touched the page. */
  isMaterialized(pageIndex: number): boolean {
    return (
      this.dirs[Math.floor(pageIndex / PAGES_PER_DIR)]?.[pageIndex % PAGES_PER_DIR] !== undefined
    );
  }

  /** Copies `dest.length` bytes starting at `offset` into `dest`. */
  read(offset: number, dest: Uint8Array): void {
    forEachPage(offset, dest.length, (index, inPage, n, done) => {
      dest.set(this.pageForRead(index).subarray(inPage, inPage + n), done);
    });
  }

  /** Copies `src` into storage starting at `offset`. */
  write(offset: number, src: Uint8Array): void {
    forEachPage(offset, src.length, (index, inPage, n, done) => {
      this.pageForWrite(index).set(src.subarray(done, done + n), inPage);
    });
  }

  /**
   * Sets `length` bytes at `offset` to `byte`. Filling untouched pages with zero allocates
   * nothing, so zeroing a large guest stays cheap.
   */
  fill(offset: number, length: number, byte: number): void {
    forEachPage(offset, length, (index, inPage, n) => {
      if (byte !== 0 || this.isMaterialized(index)) {
        this.pageForWrite(index).fill(byte, inPage, inPage + n);
      }
    });
  }
}

/**
 * Splits `[offset, offset + length)` at page boundaries and calls `piece` for each part: the
 * page index, the offset inside the page, the part's length and how many bytes came before it.
 */
function forEachPage(
  offset: number,
  length: number,
  piece: (index: number, inPage: number, n: number, done: number) => void,
): void {
  let done = 0;
  while (done < length) {
    const at = offset + done;
    const index = Math.floor(at / PAGE_SIZE);
    const inPage = at - index * PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - inPage, length - done);
    piece(index, inPage, n, done);
    done += n;
  }
}
