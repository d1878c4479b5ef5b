import type { GuestMemory } from '@vmkit/memory';
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_USED_F_NO_NOTIFY,
} from './constants.js';
import { VirtioError } from './errors.js';
import { needEvent } from './event-idx.js';
import { isValidSplitQueueSize, type SplitQueueLayout, splitQueueSizes } from './split-layout.js';
import type { QueueFeatures } from './split-queue.js';

/** A guest buffer: where it is and how long. */
export interface BufferSpec {
  /** Guest-physical address. */
  readonly addr: number;
  /** Length in bytes. */
  readonly len: number;
}

/** A raw split-ring descriptor, as the driver writes it (struct virtq_desc, §2.7.5). */
export interface RawDescriptor {
  /** Guest-physical address (up to 2^53). */
  readonly addr: number;
  /** Length in bytes (u32). */
  readonly len: number;
  /** VIRTQ_DESC_F_* flags (u16). */
  readonly flags: number;
  /** Next descriptor index (u16). */
  readonly next: number;
}

/** One buffer the driver got back from the used ring. */
export interface UsedBuffer {
  /** The head index the buffer was added under. */
  readonly id: number;
  /**
   * Bytes the device wrote. A buffer covered by a later IN_ORDER batch entry counts as completely
   * used (§2.7.9, §2.8.8): its length is all of its device-writable bytes.
   */
  readonly len: number;
}

/**
 * The driver side of a split virtqueue (virtio 1.2 §2.7.13 and §2.7.14), for tests of device
 * models and for users who want to drive a device from the host, like rust-vmm's
 * MockSplitQueue. It writes real rings into guest memory, so the device under test sees exactly
 * what a guest driver would produce; `writeDescriptor` and friends write raw (possibly
 * malformed) entries for fault-injection tests.
 *
 * @example
 * ```ts
 * const driver = new SplitQueueDriver(mem, SplitQueueDriver.layoutAt(0x10000, 16));
 * const head = driver.add([{ addr: 0x20000, len: 64 }], [{ addr: 0x30000, len: 64 }]);
 * driver.kick(); // true: the device wants a notification
 * // ... the device processes the queue ...
 * driver.reclaim(); // [{ id: head, len: <bytes written> }]
 * ```
 */
export class SplitQueueDriver {
  /** Where the rings are. */
  readonly layout: SplitQueueLayout;
  private readonly mem: GuestMemory;
  private readonly eventIdx: boolean;
  private readonly inOrder: boolean;
  private readonly size: number;
  /** Free descriptor indices as a FIFO ring (in-order drivers then use them sequentially). */
  private readonly free: Uint16Array;
  private freeHead = 0;
  private freeCount: number;
  /** Descriptors each outstanding head occupies. */
  private readonly chains = new Map<number, number[]>();
  /** Total device-writable bytes of each outstanding head. */
  private readonly writableBytes = new Map<number, number>();
  /** Heads in the order they were added, for IN_ORDER reclaim. */
  private readonly outstanding: number[] = [];
  private availIdx = 0;
  private added = 0;
  private kickedIdx = 0;
  private lastUsed = 0;

  /**
   * A contiguous, correctly aligned layout (§2.7) for a queue of `size` entries at `base`:
   * descriptor table, then the available ring, then the used ring at the next 4-byte boundary.
   *
   * @param base - 16-byte aligned guest-physical address
   * @param size - Queue Size
   * @returns the layout
   */
  static layoutAt(base: number, size: number): SplitQueueLayout {
    const sizes = splitQueueSizes(size);
    const availRing = base + sizes.descTable;
    const usedRing = Math.ceil((availRing + sizes.availRing) / 4) * 4;
    return { size, descTable: base, availRing, usedRing };
  }

  /** Bytes of guest memory {@link SplitQueueDriver.layoutAt} uses for `size` entries. */
  static bytesFor(size: number): number {
    const l = SplitQueueDriver.layoutAt(0, size);
    return l.usedRing + splitQueueSizes(size).usedRing;
  }

  /**
   * Zeroes the rings (§2.7.10.1: the driver initializes the used flags to 0) and starts with all
   * descriptors free.
   *
   * @param mem - guest memory
   * @param layout - where the rings go
   * @param features - negotiated EVENT_IDX / IN_ORDER (INDIRECT is per `add`)
   */
  constructor(mem: GuestMemory, layout: SplitQueueLayout, features: QueueFeatures = {}) {
    if (!isValidSplitQueueSize(layout.size)) {
      throw new VirtioError('INVALID_QUEUE_SIZE', `queue size ${layout.size} is invalid`);
    }
    this.mem = mem;
    this.layout = layout;
    this.size = layout.size;
    this.eventIdx = features.eventIdx ?? false;
    this.inOrder = features.inOrder ?? false;
    const sizes = splitQueueSizes(layout.size);
    mem.fill(layout.descTable, sizes.descTable, 0);
    mem.fill(layout.availRing, sizes.availRing, 0);
    mem.fill(layout.usedRing, sizes.usedRing, 0);
    this.free = Uint16Array.from({ length: this.size }, (_, i) => i);
    this.freeCount = this.size;
  }

  /**
   * A copy of this driver's bookkeeping bound to another memory that holds a copy of the rings,
   * without touching them: the driver half of a snapshot test.
   *
   * @param mem - the memory the copy drives
   * @returns the copy
   */
  fork(mem: GuestMemory): SplitQueueDriver {
    const copy: SplitQueueDriver = Object.create(SplitQueueDriver.prototype);
    Object.assign(copy, this, {
      mem,
      free: this.free.slice(),
      chains: new Map([...this.chains].map(([k, v]) => [k, [...v]])),
      writableBytes: new Map(this.writableBytes),
      outstanding: [...this.outstanding],
    });
    return copy;
  }

  /** Descriptors not in use by any outstanding buffer. */
  get freeDescriptors(): number {
    return this.freeCount;
  }

  /** The free-running used index up to which the driver has reclaimed buffers. */
  get lastUsedIndex(): number {
    return this.lastUsed;
  }

  /** Buffers added and not yet reclaimed. */
  get inFlight(): number {
    return this.chains.size;
  }

  /**
   * Places a buffer (device-readable parts first, then device-writable ones, §2.7.13.1) into free
   * descriptors and its head into the next available-ring entry. The device sees it after
   * {@link SplitQueueDriver.publish} or {@link SplitQueueDriver.kick}.
   *
   * @param readable - device-readable parts
   * @param writable - device-writable parts
   * @param indirectTable - if given, the parts go into an indirect table written at this
   *   16-byte aligned address, and the buffer takes one ring descriptor (§2.7.5.3)
   * @returns the head descriptor index
   * @throws VirtioError `QUEUE_FULL` when there are not enough free descriptors
   */
  add(
    readable: readonly BufferSpec[],
    writable: readonly BufferSpec[] = [],
    indirectTable?: number,
  ): number {
    const parts = bufferParts(readable, writable, this.size);
    const needed = indirectTable === undefined ? parts.length : 1;
    if (needed > this.freeCount) {
      throw new VirtioError('QUEUE_FULL', `${needed} descriptors needed, ${this.freeCount} free`);
    }
    const used: number[] = [];
    for (let k = 0; k < needed; k++) {
      used.push(this.free[this.freeHead]!);
      this.freeHead = (this.freeHead + 1) % this.size;
      this.freeCount--;
    }
    if (indirectTable === undefined) {
      parts.forEach((p, k) => {
        const last = k === parts.length - 1;
        this.writeDescriptor(used[k]!, {
          addr: p.addr,
          len: p.len,
          flags: p.flags | (last ? 0 : VIRTQ_DESC_F_NEXT),
          next: last ? 0 : used[k + 1]!,
        });
      });
    } else {
      // §2.7.5.3: indirect descriptors are chained by next, index 0 first (sequential, which
      // also satisfies the IN_ORDER rule for indirect tables).
      parts.forEach((p, k) => {
        const last = k === parts.length - 1;
        writeRaw(this.mem, indirectTable + 16 * k, {
          addr: p.addr,
          len: p.len,
          flags: p.flags | (last ? 0 : VIRTQ_DESC_F_NEXT),
          next: last ? 0 : k + 1,
        });
      });
      this.writeDescriptor(used[0]!, {
        addr: indirectTable,
        len: 16 * parts.length,
        flags: VIRTQ_DESC_F_INDIRECT,
        next: 0,
      });
    }
    const head = used[0]!;
    this.chains.set(head, used);
    this.writableBytes.set(
      head,
      writable.reduce((n, b) => n + b.len, 0),
    );
    this.outstanding.push(head);
    this.pushHead(head);
    return head;
  }

  /**
   * Writes a head index into the next available-ring entry without touching descriptors, for
   * tests that build rings by hand.
   *
   * @param head - the value to place in ring[(idx + added) % size]
   */
  pushHead(head: number): void {
    const slot = (this.availIdx + this.added) % this.size;
    this.mem.write16(this.layout.availRing + 4 + 2 * slot, head);
    this.added++;
  }

  /** Makes the added buffers visible: available `idx` += added (§2.7.13.3). */
  publish(): void {
    this.availIdx = (this.availIdx + this.added) & 0xffff;
    this.added = 0;
    this.mem.write16(this.layout.availRing + 2, this.availIdx);
  }

  /**
   * Publishes the added buffers and decides whether the device must be notified (§2.7.10.1):
   * with VIRTIO_F_EVENT_IDX when avail_event lies among the entries published since the last
   * kick, otherwise unless the device set VIRTQ_USED_F_NO_NOTIFY.
   *
   * @returns whether to send an available buffer notification
   */
  kick(): boolean {
    this.publish();
    const old = this.kickedIdx;
    const now = this.availIdx;
    this.kickedIdx = now;
    if (old === now) return false;
    if (this.eventIdx) {
      const availEvent = this.mem.read16(this.layout.usedRing + 4 + 8 * this.size);
      return needEvent(availEvent, now, old);
    }
    return (this.mem.read16(this.layout.usedRing) & VIRTQ_USED_F_NO_NOTIFY) === 0;
  }

  /**
   * Takes back every buffer the device has used (§2.7.14) and frees its descriptors. With
   * VIRTIO_F_IN_ORDER one used element may stand for a batch (§2.7.9): the driver reads the
   * element before used `idx` and returns every outstanding buffer up to and including its id,
   * the ones before it as completely used.
   *
   * @returns the used buffers, in the order the device returned them
   */
  reclaim(): UsedBuffer[] {
    const usedIdx = this.mem.read16(this.layout.usedRing + 2);
    const out: UsedBuffer[] = [];
    if (this.inOrder) {
      if (usedIdx === this.lastUsed) return out;
      // The element before used idx is always written: it closes the last batch.
      const slot = this.layout.usedRing + 4 + 8 * ((usedIdx - 1) & (this.size - 1));
      const lastId = this.mem.read32(slot);
      const lastLen = this.mem.read32(slot + 4);
      const count = (usedIdx - this.lastUsed) & 0xffff;
      for (let k = 0; k < count; k++) {
        const id = this.outstanding.shift();
        if (id === undefined)
          throw new VirtioError('INVALID_STATE', 'device used too many buffers');
        // §2.7.9: buffers skipped by a batch count as completely used.
        out.push({ id, len: k === count - 1 ? lastLen : this.writableBytes.get(id)! });
        this.release(id);
      }
      if (out[out.length - 1]!.id !== lastId) {
        throw new VirtioError('OUT_OF_ORDER', `device used ${lastId} out of order`, lastId);
      }
      this.lastUsed = usedIdx;
      return out;
    }
    while (this.lastUsed !== usedIdx) {
      const slot = this.layout.usedRing + 4 + 8 * (this.lastUsed & (this.size - 1));
      const id = this.mem.read32(slot);
      const len = this.mem.read32(slot + 4);
      if (!this.chains.has(id)) {
        throw new VirtioError('NOT_IN_FLIGHT', `device returned head ${id} it does not own`, id);
      }
      out.push({ id, len });
      this.release(id);
      const at = this.outstanding.indexOf(id);
      this.outstanding.splice(at, 1);
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
    }
    return out;
  }

  /**
   * Enables or disables used buffer notifications (§2.7.7.1): the NO_INTERRUPT flag without
   * EVENT_IDX; with EVENT_IDX, used_event set to the next used entry (enable) or to the entry
   * furthest away (disable).
   *
   * @param enabled - whether the driver wants used buffer notifications
   */
  setUsedNotifications(enabled: boolean): void {
    if (this.eventIdx) {
      const event = enabled ? this.lastUsed : (this.lastUsed - 1) & 0xffff;
      this.setUsedEvent(event);
    } else {
      this.mem.write16(this.layout.availRing, enabled ? 0 : VIRTQ_AVAIL_F_NO_INTERRUPT);
    }
  }

  /** Writes used_event (§2.7.6): notify me when the used ring reaches entry `idx`. */
  setUsedEvent(idx: number): void {
    this.mem.write16(this.layout.availRing + 4 + 2 * this.size, idx & 0xffff);
  }

  /** Writes a raw descriptor into the table, for fault-injection tests. */
  writeDescriptor(index: number, d: RawDescriptor): void {
    writeRaw(this.mem, this.layout.descTable + 16 * index, d);
  }

  /** Overwrites the available `idx` directly (fault injection: jumps, rewinds). */
  setAvailIdx(idx: number): void {
    this.availIdx = idx & 0xffff;
    this.added = 0;
    this.mem.write16(this.layout.availRing + 2, this.availIdx);
  }

  private release(head: number): void {
    const descs = this.chains.get(head)!;
    this.chains.delete(head);
    this.writableBytes.delete(head);
    for (const d of descs) {
      this.free[(this.freeHead + this.freeCount) % this.size] = d;
      this.freeCount++;
    }
  }
}

/** One part of a buffer as a descriptor will carry it. */
export interface BufferPart extends BufferSpec {
  /** VIRTQ_DESC_F_WRITE for a device-writable part, else 0. */
  readonly flags: number;
}

/**
 * The parts of a buffer in chain order, device-readable ones first (§2.7.13.1, §2.8.21.1), each
 * with its WRITE flag.
 *
 * @throws VirtioError `INVALID_ARGUMENT` unless there are 1..`size` parts (§2.7.5.3.1, §2.8: a
 *   chain has at least one and at most Queue Size descriptors)
 */
export function bufferParts(
  readable: readonly BufferSpec[],
  writable: readonly BufferSpec[],
  size: number,
): BufferPart[] {
  const parts = [
    ...readable.map((b) => ({ ...b, flags: 0 })),
    ...writable.map((b) => ({ ...b, flags: VIRTQ_DESC_F_WRITE })),
  ];
  if (parts.length === 0 || parts.length > size) {
    throw new VirtioError('INVALID_ARGUMENT', `a buffer has 1..${size} parts, not ${parts.length}`);
  }
  return parts;
}

/** Writes one 16-byte descriptor at `at`, little-endian (§2.7.5). */
export function writeRaw(mem: GuestMemory, at: number, d: RawDescriptor): void {
  mem.write32(at, d.addr % 2 ** 32);
  mem.write32(at + 4, Math.floor(d.addr / 2 ** 32));
  mem.write32(at + 8, d.len);
  mem.write16(at + 12, d.flags);
  mem.write16(at + 14, d.next);
}
