import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  writeSync,
} from 'node:fs';
import { type BlockStore, SECTOR_SIZE } from './block-store.js';

/**
 * A {@link BlockStore} backed by a host file (Node only, synchronous I/O). The capacity is the
 * file size rounded down to whole sectors, or the size given when the file is created. Flush is
 * fsync; discard and write-zeroes write zeros.
 *
 * @example
 * ```ts
 * const disk = FileBlockStore.create('/tmp/disk.img', 2048); // 1 MiB
 * disk.close();
 * ```
 */
export class FileBlockStore implements BlockStore {
  readonly sectors: number;
  private fd: number | undefined;

  /**
   * Opens an existing image.
   *
   * @param path - the image file
   * @param readOnly - open without write access
   */
  constructor(path: string, readOnly = false) {
    this.fd = openSync(path, readOnly ? 'r' : 'r+');
    this.sectors = Math.floor(fstatSync(this.fd).size / SECTOR_SIZE);
  }

  /**
   * Creates (or truncates) an image of `sectors` sectors and opens it.
   *
   * @param path - the image file
   * @param sectors - capacity in 512-byte sectors
   * @returns the open store
   */
  static create(path: string, sectors: number): FileBlockStore {
    const fd = openSync(path, 'w+');
    ftruncateSync(fd, sectors * SECTOR_SIZE);
    closeSync(fd);
    return new FileBlockStore(path);
  }

  read(sector: number, dest: Uint8Array): void {
    let done = 0;
    while (done < dest.length) {
      const n = readSync(
        this.handle(),
        dest,
        done,
        dest.length - done,
        sector * SECTOR_SIZE + done,
      );
      if (n === 0) {
        dest.fill(0, done);
        return;
      }
      done += n;
    }
  }

  write(sector: number, src: Uint8Array): void {
    let done = 0;
    while (done < src.length) {
      done += writeSync(this.handle(), src, done, src.length - done, sector * SECTOR_SIZE + done);
    }
  }

  flush(): void {
    fsyncSync(this.handle());
  }

  discard(sector: number, count: number): void {
    this.writeZeroes(sector, count);
  }

  writeZeroes(sector: number, count: number): void {
    const zeros = new Uint8Array(Math.min(count * SECTOR_SIZE, 1 << 20));
    for (let done = 0; done < count * SECTOR_SIZE; done += zeros.length) {
      const n = Math.min(zeros.length, count * SECTOR_SIZE - done);
      this.write(sector + done / SECTOR_SIZE, zeros.subarray(0, n));
    }
  }

  /** Closes the file; the store cannot be used afterwards. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private handle(): number {
    if (this.fd === undefined) throw new Error('FileBlockStore is closed');
    return this.fd;
  }
}
