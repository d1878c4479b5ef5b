import type { GuestMemory } from '@vmkit/memory';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT } from './constants.js';
import { VirtioError } from './errors.js';
import { needEvent } from './event-idx.js';
import {
  eventIndex,
  isValidPackedQueueSize,
  type PackedQueueLayout,
  RING_EVENT_FLAGS_DESC,
  RING_EVENT_FLAGS_DISABLE,
  RING_EVENT_FLAGS_ENABLE,
  VIRTQ_DESC_F_AVAIL,
  VIRTQ_DESC_F_USED,
} from './packed-layout.js';
import { type BufferSpec, bufferParts, type UsedBuffer } from './split-driver.js';
import type { QueueFeatures } from './split-queue.js';

/** A raw packed-ring descriptor (struct pvirtq_desc, §2.8.13). */
export interface RawPackedDescriptor {
  /** Buffer address. */
  readonly addr: number;
  /** Buffer length. */
  readonly len: number;
  /** Buffer ID. */
  readonly id: number;
  /** Flags, including AVAIL/USED. */
  readonly flags: number;
}

/**
 * The driver side of a packed virtqueue (virtio 1.2 §2.8.21 Supplying Buffers and §2.8.22 Receiving Used Buffers), the packed
 * counterpart of {@link SplitQueueDriver}: it writes descriptors with the Driver Ring Wrap
 * Counter, makes the first descriptor of a list available last, decides notifications from the
 * Device Event Suppression structure and reclaims used descriptors by Buffer ID.
 *
 * @example
 * ```ts
 * const driver = new PackedQueueDriver(mem, PackedQueueDriver.layoutAt(0x10000, 16));
 * const id = driver.add([{ addr: 0x20000, len: 64 }]);
 * driver.kick();
 * ```
 */
export class PackedQueueDriver {
  /** Where the rings are. */
  readonly layout: PackedQueueLayout;
  private readonly mem: GuestMemory;
  private readonly size: number;
  private readonly eventIdx: boolean;
  private readonly inOrder: boolean;
  private nextAvail = 0;
  private availWrap = 1;
  private nextUsed = 0;
  private usedWrap = 1;
  private freeSlots: number;
  private readonly freeIds: number[];
  /** Ring slots each outstanding Buffer ID took. */
  private readonly sgs = new Map<number, number>();
  private readonly outstanding: number[] = [];
  /** Total device-writable bytes of each outstanding Buffer ID. */
  private readonly writableBytes = new Map<number, number>();
  private availLinear = 0;
  private kickedLinear = 0;

  /**
   * A correctly aligned layout (§2.8 alignment table): ring, then the driver and device event
   * suppression structures.
   *
   * @param base - 16-byte aligned address
   * @param size - Queue Size
   * @returns the layout
   */
  static layoutAt(base: number, size: number): PackedQueueLayout {
    return {
      size,
      descRing: base,
      driverEvent: base + 16 * size,
      deviceEvent: base + 16 * size + 4,
    };
  }

  /**
   * Zeroes the ring (§2.8.13: the descriptor ring is zero-initialized) and both structures.
   *
   * @param mem - guest memory
   * @param layout - where the parts go
   * @param features - negotiated EVENT_IDX / IN_ORDER
   */
  constructor(mem: GuestMemory, layout: PackedQueueLayout, features: QueueFeatures = {}) {
    if (!isValidPackedQueueSize(layout.size)) {
      throw new VirtioError('INVALID_QUEUE_SIZE', `queue size ${layout.size} is invalid`);
    }
    this.mem = mem;
    this.layout = layout;
    this.size = layout.size;
    this.eventIdx = features.eventIdx ?? false;
    this.inOrder = features.inOrder ?? false;
    mem.fill(layout.descRing, 16 * layout.size, 0);
    mem.fill(layout.driverEvent, 4, 0);
    mem.fill(layout.deviceEvent, 4, 0);
    this.freeSlots = layout.size;
    this.freeIds = Array.from({ length: layout.size }, (_, i) => layout.size - 1 - i);
  }

  /** Ring slots not taken by outstanding buffers. */
  get freeDescriptors(): number {
    return this.freeSlots;
  }

  /**
   * Writes a buffer into the ring (§2.8.21.1) and makes it available.
   *
   * @param readable - device-readable parts
   * @param writable - device-writable parts
   * @param indirectTable - if given, the parts go into an indirect table there
   * @returns the Buffer ID
   * @throws VirtioError `QUEUE_FULL` when the ring has no room
   */
  add(
    readable: readonly BufferSpec[],
    writable: readonly BufferSpec[] = [],
    indirectTable?: number,
  ): number {
    const parts = bufferParts(readable, writable, this.size);
    const needed = indirectTable === undefined ? parts.length : 1;
    if (needed > this.freeSlots || this.freeIds.length === 0) {
      throw new VirtioError('QUEUE_FULL', `${needed} slots needed, ${this.freeSlots} free`);
    }
    const id = this.freeIds.pop()!;
    const entries =
      indirectTable === undefined
        ? parts
        : [{ addr: indirectTable, len: 16 * parts.length, flags: VIRTQ_DESC_F_INDIRECT }];
    if (indirectTable !== undefined) {
      parts.forEach((p, k) => {
        this.writeAt(indirectTable + 16 * k, { addr: p.addr, len: p.len, id: 0, flags: p.flags });
      });
    }
    const first = this.nextAvail;
    let firstFlags = 0;
    entries.forEach((p, k) => {
      const wrapBits = this.availWrap === 1 ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
      const flags = p.flags | wrapBits | (k < entries.length - 1 ? VIRTQ_DESC_F_NEXT : 0);
      const at = this.layout.descRing + 16 * this.nextAvail;
      // The id goes in the last descriptor of the list (§2.8.6); the first one's flags last.
      this.writeAt(at, { addr: p.addr, len: p.len, id, flags: k === 0 ? 0 : flags });
      if (k === 0) firstFlags = flags;
      this.nextAvail++;
      if (this.nextAvail === this.size) {
        this.nextAvail = 0;
        this.availWrap ^= 1;
      }
    });
    this.mem.write16(this.layout.descRing + 16 * first + 14, firstFlags);
    this.freeSlots -= entries.length;
    this.sgs.set(id, entries.length);
    this.writableBytes.set(
      id,
      writable.reduce((n, b) => n + b.len, 0),
    );
    this.outstanding.push(id);
    this.availLinear = (this.availLinear + entries.length) & 0xffff;
    return id;
  }

  /**
   * Decides whether to notify the device (§2.8.21.2) from the Device Event Suppression
   * structure: ENABLE, DISABLE, or DESC with the offset/wrap of the descriptor it waits for.
   *
   * @returns whether to send an available buffer notification
   */
  kick(): boolean {
    const old = this.kickedLinear;
    const now = this.availLinear;
    this.kickedLinear = now;
    if (old === now) return false;
    const flags = this.mem.read16(this.layout.deviceEvent + 2) & 3;
    if (flags === RING_EVENT_FLAGS_ENABLE) return true;
    if (flags === RING_EVENT_FLAGS_DISABLE || !this.eventIdx) return false;
    const offWrap = this.mem.read16(this.layout.deviceEvent);
    return needEvent(eventIndex(offWrap, this.nextAvail, this.availWrap, now, this.size), now, old);
  }

  /**
   * Takes back used buffers (§2.8.22): polls the descriptor at the driver's used position while
   * its USED flag matches the Used Ring Wrap Counter, skipping by the size of each list. With
   * VIRTIO_F_IN_ORDER a used descriptor may stand for a batch.
   *
   * @returns the used buffers in the order the device wrote them
   */
  reclaim(): UsedBuffer[] {
    const out: UsedBuffer[] = [];
    for (;;) {
      const at = this.layout.descRing + 16 * this.nextUsed;
      const flags = this.mem.read16(at + 14);
      const used = (flags & VIRTQ_DESC_F_USED) !== 0 ? 1 : 0;
      const avail = (flags & VIRTQ_DESC_F_AVAIL) !== 0 ? 1 : 0;
      if (used !== this.usedWrap || avail !== this.usedWrap) return out;
      const id = this.mem.read16(at + 12);
      const len = this.mem.read32(at + 8);
      if (!this.sgs.has(id))
        throw new VirtioError('NOT_IN_FLIGHT', `device used unknown id ${id}`, id);
      // With IN_ORDER one used descriptor closes a batch: every buffer before `id` (§2.8.8).
      const position = this.outstanding.indexOf(id);
      const ids = this.inOrder
        ? this.outstanding.splice(0, position + 1)
        : this.outstanding.splice(position, 1);
      for (const done of ids) {
        const n = this.sgs.get(done)!;
        this.sgs.delete(done);
        this.freeIds.push(done);
        this.freeSlots += n;
        this.nextUsed += n;
        if (this.nextUsed >= this.size) {
          this.nextUsed -= this.size;
          this.usedWrap ^= 1;
        }
        // §2.8.8: skipped buffers count as completely used.
        out.push({ id: done, len: done === id ? len : this.writableBytes.get(done)! });
        this.writableBytes.delete(done);
      }
    }
  }

  /**
   * Enables or disables used buffer notifications through the Driver Event Suppression
   * structure: ENABLE/DISABLE, or with EVENT_IDX, DESC at the driver's next used position.
   *
   * @param enabled - whether the driver wants used buffer notifications
   */
  setUsedNotifications(enabled: boolean): void {
    if (!enabled) {
      this.mem.write16(this.layout.driverEvent + 2, RING_EVENT_FLAGS_DISABLE);
    } else if (this.eventIdx) {
      this.mem.write16(this.layout.driverEvent, this.nextUsed | (this.usedWrap << 15));
      this.mem.write16(this.layout.driverEvent + 2, RING_EVENT_FLAGS_DESC);
    } else {
      this.mem.write16(this.layout.driverEvent + 2, RING_EVENT_FLAGS_ENABLE);
    }
  }

  /** Writes a raw descriptor at ring slot `index` (fault injection). */
  writeDescriptor(index: number, d: RawPackedDescriptor): void {
    this.writeAt(this.layout.descRing + 16 * index, d);
  }

  /** The flags a list's first descriptor would get now that marks it available. */
  availFlags(): number {
    return this.availWrap === 1 ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
  }

  private writeAt(at: number, d: RawPackedDescriptor): void {
    this.mem.write32(at, d.addr % 2 ** 32);
    this.mem.write32(at + 4, Math.floor(d.addr / 2 ** 32));
    this.mem.write32(at + 8, d.len);
    this.mem.write16(at + 12, d.id);
    this.mem.write16(at + 14, d.flags);
  }
}
