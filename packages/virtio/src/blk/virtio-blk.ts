import type { DescriptorChain } from '../chain.js';
import { ConfigSpace } from '../config-space.js';
import { DeviceId, featureMask, hasFeature } from '../constants.js';
import type { DeviceContext, VirtioDeviceModel } from '../device-model.js';
import { VirtioError } from '../errors.js';
import { type BlockStore, SECTOR_SIZE } from './block-store.js';

/** virtio-blk feature bits, virtio 1.2 §5.2.3. */
export const BlkFeature = {
  /** Maximum size of any single segment is in size_max. */
  SIZE_MAX: 1,
  /** Maximum number of segments in a request is in seg_max. */
  SEG_MAX: 2,
  /** Disk-style geometry specified in geometry. */
  GEOMETRY: 4,
  /** Device is read-only. */
  RO: 5,
  /** Block size of disk is in blk_size. */
  BLK_SIZE: 6,
  /** Cache flush command support. */
  FLUSH: 9,
  /** Device exports information on optimal I/O alignment. */
  TOPOLOGY: 10,
  /** Device can toggle its cache between writeback and writethrough modes. */
  CONFIG_WCE: 11,
  /** Device supports multiqueue. */
  MQ: 12,
  /** Device can support discard command. */
  DISCARD: 13,
  /** Device can support write zeroes command. */
  WRITE_ZEROES: 14,
} as const;

/** Request types (struct virtio_blk_req.type), §5.2.6. */
export const BlkRequestType = {
  /** Read. */
  IN: 0,
  /** Write. */
  OUT: 1,
  /** Flush the write cache. */
  FLUSH: 4,
  /** Get the device ID string (20 bytes). */
  GET_ID: 8,
  /** Discard sectors. */
  DISCARD: 11,
  /** Write zeroes to sectors. */
  WRITE_ZEROES: 13,
} as const;

/** Request status values, §5.2.6. */
export const BlkStatus = {
  /** Success. */
  OK: 0,
  /** Device or driver error. */
  IOERR: 1,
  /** Request unsupported by the device. */
  UNSUPP: 2,
} as const;

/** Length of the GET_ID string, VIRTIO_BLK_ID_BYTES (§5.2.6). */
export const BLK_ID_BYTES = 20;

/** Byte offsets of struct virtio_blk_config (§5.2.4) fields this device fills. */
export const BlkConfig = {
  /** le64 capacity, in 512-byte sectors. */
  capacity: 0,
  /** le32 size_max. */
  sizeMax: 8,
  /** le32 seg_max. */
  segMax: 12,
  /** le32 blk_size. */
  blkSize: 20,
  /** le16 num_queues. */
  numQueues: 34,
  /** le32 max_discard_sectors. */
  maxDiscardSectors: 36,
  /** le32 max_discard_seg. */
  maxDiscardSeg: 40,
  /** le32 discard_sector_alignment. */
  discardSectorAlignment: 44,
  /** le32 max_write_zeroes_sectors. */
  maxWriteZeroesSectors: 48,
  /** le32 max_write_zeroes_seg. */
  maxWriteZeroesSeg: 52,
  /** u8 write_zeroes_may_unmap. */
  writeZeroesMayUnmap: 56,
  /** Size of the structure up to and including unused1[3]. */
  size: 60,
} as const;

/** Options of a {@link VirtioBlk}. */
export interface VirtioBlkOptions {
  /** Offer VIRTIO_BLK_F_RO and refuse writes. */
  readonly readOnly?: boolean;
  /** The GET_ID string (at most 20 bytes of ASCII). */
  readonly id?: string;
  /** Maximum size of each request queue (default 256). */
  readonly queueSize?: number;
  /** Number of request queues (default 1; more offers VIRTIO_BLK_F_MQ). */
  readonly numQueues?: number;
  /** Largest sector count of one discard or write-zeroes segment (default 2^22). */
  readonly maxDiscardSectors?: number;
  /** Most segments in one discard or write-zeroes request (default 16). */
  readonly maxDiscardSegments?: number;
}

/** A segment of a DISCARD / WRITE_ZEROES request (struct virtio_blk_discard_write_zeroes). */
const SEGMENT_SIZE = 16;
const HEADER_SIZE = 16;
/** Bounce buffers are at most this large; bigger requests are moved in pieces. */
const BOUNCE = 128 * 1024;

/**
 * The virtio block device (virtio 1.2 §5.2) over a pluggable {@link BlockStore}: IN, OUT,
 * FLUSH, GET_ID, DISCARD and WRITE_ZEROES. A request is a 16-byte header (type, reserved,
 * sector) in the device-readable part, data, and a status byte as the last device-writable byte.
 * Requests the device cannot even answer (no header, no status byte) put the device into
 * DEVICE_NEEDS_RESET, as QEMU does; everything else is answered with a status.
 *
 * @example
 * ```ts
 * const blk = new VirtioBlk(new MemoryBlockStore(2048), { id: 'vmkit-disk' });
 * const device = new VirtioDevice(blk, mem);
 * ```
 */
export class VirtioBlk implements VirtioDeviceModel {
  readonly deviceId = DeviceId.BLOCK;
  readonly features: bigint;
  readonly queueMaxSizes: readonly number[];
  readonly configSize = BlkConfig.size;
  /** The storage. */
  readonly store: BlockStore;
  private readonly config = new ConfigSpace(BlkConfig.size);
  private readonly readOnly: boolean;
  private readonly id: Uint8Array;
  private readonly maxSectors: number;
  private readonly maxSegments: number;
  private context: DeviceContext | undefined;

  /**
   * @param store - the storage
   * @param options - read-only, ID string, queue sizes, discard limits
   */
  constructor(store: BlockStore, options: VirtioBlkOptions = {}) {
    this.store = store;
    this.readOnly = options.readOnly ?? false;
    this.id = new Uint8Array(BLK_ID_BYTES);
    this.id.set(
      new TextEncoder().encode(options.id ?? 'vmkit-virtio-blk').subarray(0, BLK_ID_BYTES),
    );
    this.maxSectors = options.maxDiscardSectors ?? 2 ** 22;
    this.maxSegments = options.maxDiscardSegments ?? 16;
    const queues = options.numQueues ?? 1;
    this.queueMaxSizes = Array.from({ length: queues }, () => options.queueSize ?? 256);
    let f = 0n;
    for (const bit of [
      BlkFeature.SEG_MAX,
      BlkFeature.BLK_SIZE,
      BlkFeature.FLUSH,
      BlkFeature.DISCARD,
      BlkFeature.WRITE_ZEROES,
    ]) {
      f |= featureMask(bit);
    }
    if (this.readOnly) f |= featureMask(BlkFeature.RO);
    if (queues > 1) f |= featureMask(BlkFeature.MQ);
    this.features = f;
    const c = this.config;
    c.set64(BlkConfig.capacity, store.sectors);
    c.set32(BlkConfig.segMax, (options.queueSize ?? 256) - 2);
    c.set32(BlkConfig.blkSize, SECTOR_SIZE);
    c.set16(BlkConfig.numQueues, queues);
    c.set32(BlkConfig.maxDiscardSectors, this.maxSectors);
    c.set32(BlkConfig.maxDiscardSeg, this.maxSegments);
    c.set32(BlkConfig.discardSectorAlignment, 1);
    c.set32(BlkConfig.maxWriteZeroesSectors, this.maxSectors);
    c.set32(BlkConfig.maxWriteZeroesSeg, this.maxSegments);
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    return this.config.read(offset, size);
  }

  writeConfig(): void {
    // Only writeback is writable, and only with VIRTIO_BLK_F_CONFIG_WCE, which is not offered.
  }

  activate(context: DeviceContext): void {
    this.context = context;
  }

  reset(): void {
    this.context = undefined;
  }

  notify(index: number): void {
    const ctx = this.context;
    const queue = ctx?.queue(index);
    if (ctx === undefined || queue === undefined) return;
    do {
      queue.disableNotification();
      for (let chain = queue.pop(); chain !== undefined; chain = queue.pop()) {
        const len = this.handle(chain, ctx);
        if (len === undefined) return;
        queue.addUsed(chain.head, len);
      }
    } while (queue.enableNotification());
    ctx.notifyUsed(index);
  }

  /** Serves one request; returns the used length, or `undefined` if the device failed. */
  private handle(chain: DescriptorChain, ctx: DeviceContext): number | undefined {
    const reader = chain.reader();
    const header = new Uint8Array(HEADER_SIZE);
    if (reader.read(header) < HEADER_SIZE || chain.writableBytes < 1) {
      ctx.fail(
        new VirtioError(
          'BAD_REQUEST',
          'virtio-blk request without header or status byte',
          chain.head,
        ),
      );
      return undefined;
    }
    const view = new DataView(header.buffer);
    const type = view.getUint32(0, true);
    const sector = view.getUint32(8, true) + view.getUint32(12, true) * 2 ** 32;
    const writer = chain.writer();
    const dataBytes = chain.writableBytes - 1;
    let status: number;
    try {
      status = this.execute(type, sector, reader, writer, dataBytes, ctx.features);
    } catch {
      status = BlkStatus.IOERR; // the store failed
    }
    // The status byte is the last device-writable byte (§5.2.6).
    const contiguous = writer.written === dataBytes;
    writer.skip(dataBytes - writer.written);
    writer.write(Uint8Array.of(status));
    return contiguous ? writer.written : writer.written - 1;
  }

  private execute(
    type: number,
    sector: number,
    reader: ReturnType<DescriptorChain['reader']>,
    writer: ReturnType<DescriptorChain['writer']>,
    dataBytes: number,
    features: bigint,
  ): number {
    switch (type) {
      case BlkRequestType.IN: {
        if (!this.inRange(sector, dataBytes)) return BlkStatus.IOERR;
        const buf = new Uint8Array(Math.min(dataBytes, BOUNCE));
        for (let done = 0; done < dataBytes; done += buf.length) {
          const piece = buf.subarray(0, Math.min(buf.length, dataBytes - done));
          this.store.read(sector + done / SECTOR_SIZE, piece);
          writer.write(piece);
        }
        return BlkStatus.OK;
      }
      case BlkRequestType.OUT: {
        const bytes = reader.remaining;
        // §5.2.6.2: a device offering VIRTIO_BLK_F_RO fails writes without writing.
        if (this.readOnly || !this.inRange(sector, bytes)) return BlkStatus.IOERR;
        const buf = new Uint8Array(Math.min(bytes, BOUNCE));
        for (let done = 0; done < bytes; done += buf.length) {
          const piece = buf.subarray(0, Math.min(buf.length, bytes - done));
          reader.read(piece);
          this.store.write(sector + done / SECTOR_SIZE, piece);
        }
        return BlkStatus.OK;
      }
      case BlkRequestType.FLUSH:
        this.store.flush();
        return BlkStatus.OK;
      case BlkRequestType.GET_ID:
        writer.write(this.id.subarray(0, Math.min(BLK_ID_BYTES, dataBytes)));
        return BlkStatus.OK;
      case BlkRequestType.DISCARD:
      case BlkRequestType.WRITE_ZEROES:
        return this.segments(type, reader, features);
      default:
        return BlkStatus.UNSUPP;
    }
  }

  /** DISCARD and WRITE_ZEROES: a list of 16-byte segments (§5.2.6). */
  private segments(
    type: number,
    reader: ReturnType<DescriptorChain['reader']>,
    features: bigint,
  ): number {
    const discard = type === BlkRequestType.DISCARD;
    if (!hasFeature(features, discard ? BlkFeature.DISCARD : BlkFeature.WRITE_ZEROES)) {
      return BlkStatus.UNSUPP;
    }
    if (this.readOnly) return BlkStatus.IOERR;
    const bytes = reader.remaining;
    const count = bytes / SEGMENT_SIZE;
    if (!Number.isInteger(count) || count === 0 || count > this.maxSegments) return BlkStatus.IOERR;
    const raw = new Uint8Array(bytes);
    reader.read(raw);
    const view = new DataView(raw.buffer);
    const list: [number, number][] = [];
    for (let k = 0; k < count; k++) {
      const at = k * SEGMENT_SIZE;
      const sector = view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
      const n = view.getUint32(at + 8, true);
      const flags = view.getUint32(at + 12, true);
      // flags: bit 0 unmap, the rest reserved. Discard must not set unmap (§5.2.6.2).
      if ((flags & ~1) !== 0 || (discard && flags !== 0)) return BlkStatus.UNSUPP;
      if (n > this.maxSectors || !this.inRange(sector, n * SECTOR_SIZE)) return BlkStatus.IOERR;
      list.push([sector, n]);
    }
    for (const [sector, n] of list) {
      if (discard) this.store.discard(sector, n);
      else this.store.writeZeroes(sector, n);
    }
    return BlkStatus.OK;
  }

  private inRange(sector: number, bytes: number): boolean {
    return bytes % SECTOR_SIZE === 0 && sector + bytes / SECTOR_SIZE <= this.store.sectors;
  }
}
