import type { GuestMemory } from '@vmkit/memory';
import { type Descriptor, DescriptorChain } from './chain.js';
import { ChainCollector, type ChainViolation, checkIndirectTable } from './chain-rules.js';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from './constants.js';
import { VirtioError } from './errors.js';
import { needEvent } from './event-idx.js';
import {
  eventIndex,
  isAvailableIn,
  isValidPackedQueueSize,
  PACKED_ALIGNMENT,
  type PackedQueueLayout,
  RING_EVENT_FLAGS_DESC,
  RING_EVENT_FLAGS_DISABLE,
  RING_EVENT_FLAGS_ENABLE,
  VIRTQ_DESC_F_AVAIL,
  VIRTQ_DESC_F_USED,
} from './packed-layout.js';
import { fromFaultState, QueueFault, toFaultState } from './queue-fault.js';
import type { PackedQueueState } from './queue-state.js';
import { checkQueueParts, RamMap } from './ram-check.js';
import type { QueueFeatures, QueueOptions } from './split-queue.js';
import { checkUsedBatch, checkUsedLength, type Virtqueue } from './virtqueue.js';
import { NO_METER, type WorkMeter } from './work-meter.js';

const TWO_POW_32 = 2 ** 32;

/** A list found by {@link PackedVirtqueue} before it is taken. */
interface Scan {
  readonly buffers: Descriptor[];
  readonly id: number;
  readonly entries: number;
  /** Ring position and lap after the list. */
  readonly pos: number;
  readonly wrap: number;
}

/**
 * The device side of a packed virtqueue (virtio 1.2 §2.8) behind the same {@link Virtqueue}
 * interface as the split ring. The device polls the descriptor at its next position, using the
 * Device Ring Wrap Counter to tell available descriptors (AVAIL matches the counter, USED does
 * not) from old ones (§2.8.1), walks the list chained by NEXT in ring order, and writes one used
 * descriptor per buffer, with the Buffer ID of the list, skipping forward by the list's length
 * (§2.8.6). Malformed input stops the queue with a fault exactly as in {@link SplitVirtqueue}.
 *
 * @example
 * ```ts
 * const q = new PackedVirtqueue(mem, { size: 256, descRing: 0x1000, driverEvent: 0x2000, deviceEvent: 0x2004 });
 * const chain = q.pop();
 * if (chain) q.addUsed(chain.head, 0);
 * ```
 */
export class PackedVirtqueue implements Virtqueue {
  readonly size: number;
  private readonly mem: GuestMemory;
  private readonly ring: number;
  private readonly driverEvent: number;
  private readonly deviceEvent: number;
  private readonly eventIdx: boolean;
  private readonly indirect: boolean;
  private readonly inOrder: boolean;
  private readonly meter: WorkMeter;
  private readonly ram: RamMap;
  private nextAvail = 0;
  private availWrap = 1;
  private nextUsed = 0;
  private usedWrap = 1;
  /** Free-running (mod 2^16) count of ring slots used, for the event-offset test. */
  private usedLinear = 0;
  private signalledLinear = 0;
  private notificationsEnabled = true;
  private readonly faults: QueueFault;
  /** Ring slots each in-flight Buffer ID occupies; 0 when the id is not in flight. */
  private readonly slots: Uint16Array;
  /** With IN_ORDER: ids in the order they were popped. */
  private readonly order: number[] = [];

  /**
   * Checks a layout against §2.8 (size, alignment table) and the memory.
   *
   * @param mem - guest memory
   * @param layout - where the parts are
   * @returns the fault, or `undefined` when the layout is valid
   */
  static validate(mem: GuestMemory, layout: PackedQueueLayout): VirtioError | undefined {
    if (!isValidPackedQueueSize(layout.size)) {
      return new VirtioError(
        'INVALID_QUEUE_SIZE',
        `packed queue size ${layout.size} not in [1, 32768]`,
      );
    }
    const parts = [
      ['descRing', layout.descRing],
      ['driverEvent', layout.driverEvent],
      ['deviceEvent', layout.deviceEvent],
    ] as const;
    const sizes = { descRing: 16 * layout.size, driverEvent: 4, deviceEvent: 4 };
    return checkQueueParts(mem, parts, PACKED_ALIGNMENT, sizes, '§2.8');
  }

  /**
   * @param mem - guest memory
   * @param layout - Queue Size and the three addresses
   * @param features - negotiated EVENT_IDX / INDIRECT_DESC / IN_ORDER
   * @param options - fault callback and work meter
   * @throws VirtioError if the layout is invalid
   */
  constructor(
    mem: GuestMemory,
    layout: PackedQueueLayout,
    features: QueueFeatures = {},
    options: QueueOptions = {},
  ) {
    const invalid = PackedVirtqueue.validate(mem, layout);
    if (invalid !== undefined) throw invalid;
    this.mem = mem;
    this.size = layout.size;
    this.ring = layout.descRing;
    this.driverEvent = layout.driverEvent;
    this.deviceEvent = layout.deviceEvent;
    this.eventIdx = features.eventIdx ?? false;
    this.indirect = features.indirect ?? false;
    this.inOrder = features.inOrder ?? false;
    this.faults = new QueueFault(options.onFault);
    this.meter = options.meter ?? NO_METER;
    this.ram = new RamMap(mem);
    this.slots = new Uint16Array(layout.size);
  }

  get fault(): VirtioError | undefined {
    return this.faults.error;
  }

  hasAvailable(): boolean {
    if (this.faults.error !== undefined) return false;
    try {
      return isAvailableIn(this.mem.read16(this.ring + 16 * this.nextAvail + 14), this.availWrap);
    } catch (e) {
      this.faults.memory(e);
      return false;
    }
  }

  pop(): DescriptorChain | undefined {
    if (!this.hasAvailable()) return undefined;
    try {
      return this.walk();
    } catch (e) {
      this.faults.memory(e);
      return undefined;
    }
  }

  availableWritableBytes(limit: number): number {
    if (this.faults.error !== undefined) return 0;
    let pos = this.nextAvail;
    let wrap = this.availWrap;
    let total = 0;
    try {
      for (let n = 0; n < this.size && total < limit; n++) {
        const flags = this.mem.read16(this.ring + 16 * pos + 14);
        if (!isAvailableIn(flags, wrap)) break;
        const found = this.scan(pos, wrap);
        if (found === undefined) return 0;
        for (const d of found.buffers) if (d.writable) total += d.len;
        pos = found.pos;
        wrap = found.wrap;
      }
    } catch (e) {
      this.faults.memory(e);
      return 0;
    }
    return total;
  }

  addUsed(id: number, len: number): void {
    if (this.faults.error !== undefined) return;
    checkUsedLength(len, id);
    if (!Number.isInteger(id) || id < 0 || id >= this.size || this.slots[id] === 0) {
      throw new VirtioError('NOT_IN_FLIGHT', `buffer id ${id} is not in flight`, id);
    }
    if (this.inOrder) {
      if (this.order[0] !== id) {
        throw new VirtioError(
          'OUT_OF_ORDER',
          `VIRTIO_F_IN_ORDER: id ${id} before ${this.order[0]}`,
          id,
        );
      }
      this.order.shift();
    }
    const skip = this.slots[id]!;
    this.slots[id] = 0;
    this.writeUsed(id, len, skip);
  }

  /**
   * With VIRTIO_F_IN_ORDER, returns the next `count` popped buffers with a single used
   * descriptor carrying the id of the last one (§2.8.8).
   *
   * @param count - buffers in the batch, in pop order
   * @param len - bytes written into the last buffer of the batch
   */
  addUsedBatch(count: number, len: number): void {
    if (this.faults.error !== undefined) return;
    checkUsedBatch(this.inOrder, count, this.order.length, 'descriptors');
    let skip = 0;
    let last = 0;
    for (let k = 0; k < count; k++) {
      last = this.order.shift()!;
      skip += this.slots[last]!;
      this.slots[last] = 0;
    }
    this.writeUsed(last, len, skip);
  }

  needsNotification(): boolean {
    if (this.faults.error !== undefined) return false;
    const old = this.signalledLinear;
    const now = this.usedLinear;
    this.signalledLinear = now;
    if (old === now) return false;
    try {
      const flags = this.mem.read16(this.driverEvent + 2) & 3;
      if (flags === RING_EVENT_FLAGS_ENABLE) return true;
      if (flags !== RING_EVENT_FLAGS_DESC || !this.eventIdx) return false;
      // §2.8.10: notify when the descriptor at (offset, wrap) was among those just used.
      const offWrap = this.mem.read16(this.driverEvent);
      return needEvent(eventIndex(offWrap, this.nextUsed, this.usedWrap, now, this.size), now, old);
    } catch (e) {
      this.faults.memory(e);
      return false;
    }
  }

  disableNotification(): void {
    this.notificationsEnabled = false;
    if (this.faults.error !== undefined) return;
    this.faults.guard(() => this.mem.write16(this.deviceEvent + 2, RING_EVENT_FLAGS_DISABLE));
  }

  enableNotification(): boolean {
    this.notificationsEnabled = true;
    if (this.faults.error !== undefined) return false;
    this.faults.guard(() => {
      if (!this.eventIdx) return this.writeDeviceEvent();
      // Wait for the first descriptor not yet made available: skip over the ones already there
      // (the re-check below finds them), as QEMU's shadow available index does.
      let pos = this.nextAvail;
      let wrap = this.availWrap;
      for (let n = 0; n < this.size; n++) {
        const flags = this.mem.read16(this.ring + 16 * pos + 14);
        if (!isAvailableIn(flags, wrap)) break;
        pos++;
        if (pos === this.size) {
          pos = 0;
          wrap ^= 1;
        }
      }
      this.mem.write16(this.deviceEvent, pos | (wrap << 15));
      this.mem.write16(this.deviceEvent + 2, RING_EVENT_FLAGS_DESC);
    });
    return this.hasAvailable();
  }

  /**
   * The queue's state for a snapshot, taken between notifications.
   *
   * @returns plain data for {@link PackedVirtqueue.restore}
   * @throws VirtioError `INVALID_STATE` while buffers are in flight
   */
  save(): PackedQueueState {
    if (this.slots.some((n) => n !== 0)) {
      throw new VirtioError('INVALID_STATE', 'buffers in flight');
    }
    const f = this.faults.error;
    return {
      kind: 'packed',
      layout: {
        size: this.size,
        descRing: this.ring,
        driverEvent: this.driverEvent,
        deviceEvent: this.deviceEvent,
      },
      features: { eventIdx: this.eventIdx, indirect: this.indirect, inOrder: this.inOrder },
      nextAvail: this.nextAvail,
      availWrap: this.availWrap,
      nextUsed: this.nextUsed,
      usedWrap: this.usedWrap,
      usedLinear: this.usedLinear,
      signalledLinear: this.signalledLinear,
      notificationsEnabled: this.notificationsEnabled,
      ...(f === undefined ? {} : { fault: toFaultState(f) }),
    };
  }

  /**
   * Rebuilds a queue from {@link PackedVirtqueue.save}.
   *
   * @param mem - guest memory (restored separately)
   * @param state - the saved state
   * @param options - fault callback and meter for the new queue
   * @returns the queue
   */
  static restore(
    mem: GuestMemory,
    state: PackedQueueState,
    options: QueueOptions = {},
  ): PackedVirtqueue {
    const q = new PackedVirtqueue(mem, state.layout, state.features, options);
    q.nextAvail = state.nextAvail % q.size;
    q.availWrap = state.availWrap & 1;
    q.nextUsed = state.nextUsed % q.size;
    q.usedWrap = state.usedWrap & 1;
    q.usedLinear = state.usedLinear & 0xffff;
    q.signalledLinear = state.signalledLinear & 0xffff;
    q.notificationsEnabled = state.notificationsEnabled;
    q.faults.error = fromFaultState(state.fault);
    return q;
  }

  /** Records a guest fault and stops the queue; later faults are ignored. */
  fail(error: VirtioError): void {
    this.faults.fail(error);
  }

  private walk(): DescriptorChain | undefined {
    const found = this.scan(this.nextAvail, this.availWrap);
    if (found === undefined) return undefined;
    const { id, entries } = found;
    if (this.slots[id] !== 0) {
      return this.faults.reject('PACKED_BAD_ID', `buffer id ${id} is already in flight`, id);
    }
    this.nextAvail = found.pos;
    this.availWrap = found.wrap;
    this.slots[id] = entries;
    if (this.inOrder) this.order.push(id);
    if (this.eventIdx && this.notificationsEnabled) this.writeDeviceEvent();
    this.meter.chain();
    return new DescriptorChain(id, found.buffers, this.mem, this.faults.sink, this.meter, entries);
  }

  /**
   * Reads and validates the list that starts at ring slot `pos` in lap `wrap`, without taking
   * it; `undefined` after a fault.
   */
  private scan(pos: number, wrap: number): Scan | undefined {
    const mem = this.mem;
    const chain = new ChainCollector(this.ram, this.size);
    let entries = 0;
    let id = 0;
    for (;;) {
      const at = this.ring + 16 * pos;
      const flags = mem.read16(at + 14);
      if (entries > 0) {
        // Every descriptor of the list carries the flags of the lap it is in (§2.8.6 note).
        if (!isAvailableIn(flags, wrap)) {
          return this.faults.reject(
            'PACKED_INCOMPLETE_CHAIN',
            `descriptor ${pos} of the list is not available`,
          );
        }
      }
      entries++;
      if (entries > this.size)
        return this.faults.reject('CHAIN_TOO_LONG', `list longer than ${this.size}`);
      const lo = mem.read32(at);
      const hi = mem.read32(at + 4);
      const len = mem.read32(at + 8);
      id = mem.read16(at + 12);
      pos++;
      if (pos === this.size) {
        pos = 0;
        wrap ^= 1;
      }
      let bad: ChainViolation | undefined;
      if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) {
        bad =
          entries > 1 || (flags & VIRTQ_DESC_F_NEXT) !== 0
            ? ['INDIRECT_WITH_NEXT', 'an indirect descriptor inside a list linked by NEXT']
            : this.readIndirect(chain, lo, hi, len);
        if (bad !== undefined) return this.faults.reject(bad[0], bad[1], id);
        break;
      }
      bad = chain.add(lo, hi, len, (flags & VIRTQ_DESC_F_WRITE) !== 0);
      if (bad !== undefined) return this.faults.reject(bad[0], bad[1], id);
      if ((flags & VIRTQ_DESC_F_NEXT) === 0) break;
    }
    if (id >= this.size)
      return this.faults.reject('PACKED_BAD_ID', `buffer id ${id} >= ${this.size}`, id);
    return { buffers: chain.out, id, entries, pos, wrap };
  }

  /** Flattens an indirect table (§2.8.7): len/16 sequential descriptors, only WRITE counts. */
  private readIndirect(
    chain: ChainCollector,
    lo: number,
    hi: number,
    len: number,
  ): ChainViolation | undefined {
    if (!this.indirect) {
      return ['INDIRECT_NOT_NEGOTIATED', 'DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC'];
    }
    const invalid = checkIndirectTable(this.mem, lo, hi, len, this.size);
    if (invalid !== undefined) return invalid;
    const table = hi * TWO_POW_32 + lo;
    for (let k = 0; k < len / 16; k++) {
      const at = table + 16 * k;
      const flags = this.mem.read16(at + 14);
      const bad = chain.add(
        this.mem.read32(at),
        this.mem.read32(at + 4),
        this.mem.read32(at + 8),
        (flags & VIRTQ_DESC_F_WRITE) !== 0,
      );
      if (bad !== undefined) return bad;
    }
    return undefined;
  }

  /** Writes the used descriptor at the device's position and skips `skip` slots (§2.8.6). */
  private writeUsed(id: number, len: number, skip: number): void {
    try {
      const at = this.ring + 16 * this.nextUsed;
      this.mem.write32(at + 8, len);
      this.mem.write16(at + 12, id);
      const wrapBits = this.usedWrap === 1 ? VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED : 0;
      // §2.8.3: WRITE in a used descriptor says whether anything was written.
      this.mem.write16(at + 14, wrapBits | (len > 0 ? VIRTQ_DESC_F_WRITE : 0));
      this.nextUsed += skip;
      if (this.nextUsed >= this.size) {
        this.nextUsed -= this.size;
        this.usedWrap ^= 1;
      }
      this.usedLinear = (this.usedLinear + skip) & 0xffff;
    } catch (e) {
      this.faults.memory(e);
    }
  }

  private writeDeviceEvent(): void {
    if (this.eventIdx) {
      this.mem.write16(this.deviceEvent, this.nextAvail | (this.availWrap << 15));
      this.mem.write16(this.deviceEvent + 2, RING_EVENT_FLAGS_DESC);
    } else {
      this.mem.write16(this.deviceEvent + 2, RING_EVENT_FLAGS_ENABLE);
    }
  }
}
