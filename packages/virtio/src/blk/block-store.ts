/** Bytes per sector: virtio-blk addresses storage in 512-byte sectors (virtio 1.2 §5.2.6). */
export const SECTOR_SIZE = 512;

/**
 * The storage behind a virtio-blk device. Offsets are in 512-byte sectors; lengths of `read`
 * and `write` are multiples of 512. The device checks ranges against `sectors` before calling;
 * an implementation throws on an I/O failure, which the device reports as VIRTIO_BLK_S_IOERR.
 */
export interface BlockStore {
  /** Capacity in 512-byte sectors. */
  readonly sectors: number;
  /** Reads `dest.length` bytes starting at `sector`. */
  read(sector: number, dest: Uint8Array): void;
  /** Writes all of `src` starting at `sector`. */
  write(sector: number, src: Uint8Array): void;
  /** Makes previous writes durable. */
  flush(): void;
  /** Drops `count` sectors starting at `sector`; later reads may return anything. */
  discard(sector: number, count: number): void;
  /** Sets `count` sectors starting at `sector` to zero. */
  writeZeroes(sector: number, count: number): void;
}

const CHUNK = 64 * 1024;

/**
 * A sparse in-memory {@link BlockStore}: 64 KiB chunks allocated on first write, so a large
 * virtual disk costs only what is written. Discarded and zeroed ranges free whole chunks.
 *
 * @example
 * ```ts
 * const disk = new MemoryBlockStore(2 ** 21); // 1 GiB
 * disk.write(8, new Uint8Array(512).fill(7));
 * ```
 */
export class MemoryBlockStore implements BlockStore {
  readonly sectors: number;
  private readonly chunks = new Map<number, Uint8Array>();

  /** @param sectors - capacity in 512-byte sectors */
  constructor(sectors: number) {
    if (!Number.isSafeInteger(sectors) || sectors < 0)
      throw new RangeError(`bad capacity ${sectors}`);
    this.sectors = sectors;
  }

  /** Number of 64 KiB chunks allocated. */
  get allocatedChunks(): number {
    return this.chunks.size;
  }

  read(sector: number, dest: Uint8Array): void {
    this.each(sector * SECTOR_SIZE, dest.length, (chunk, at, from, n) => {
      if (chunk === undefined) dest.fill(0, from, from + n);
      else dest.set(chunk.subarray(at, at + n), from);
    });
  }

  write(sector: number, src: Uint8Array): void {
    this.each(sector * SECTOR_SIZE, src.length, (_, at, from, n, index) => {
      let chunk = this.chunks.get(index);
      if (chunk === undefined) {
        chunk = new Uint8Array(CHUNK);
        this.chunks.set(index, chunk);
      }
      chunk.set(src.subarray(from, from + n), at);
    });
  }

  flush(): void {}

  discard(sector: number, count: number): void {
    this.writeZeroes(sector, count);
  }

  writeZeroes(sector: number, count: number): void {
    this.each(sector * SECTOR_SIZE, count * SECTOR_SIZE, (chunk, at, _from, n, index) => {
      if (chunk === undefined) return;
      if (n === CHUNK) this.chunks.delete(index);
      else chunk.fill(0, at, at + n);
    });
  }

  private each(
    offset: number,
    length: number,
    body: (
      chunk: Uint8Array | undefined,
      at: number,
      from: number,
      n: number,
      index: number,
    ) => void,
  ): void {
    let done = 0;
    while (done < length) {
      const pos = offset + done;
      const index = Math.floor(pos / CHUNK);
      const at = pos - index * CHUNK;
      const n = Math.min(CHUNK - at, length - done);
      body(this.chunks.get(index), at, done, n, index);
      done += n;
    }
  }
}
