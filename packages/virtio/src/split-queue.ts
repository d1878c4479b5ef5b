import type { GuestMemory } from '@vmkit/memory';
import { type Descriptor, DescriptorChain } from './chain.js';
import { ChainCollector, type ChainViolation, checkIndirectTable } from './chain-rules.js';
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_USED_F_NO_NOTIFY,
} from './constants.js';
import { VirtioError, type VirtioErrorCode } from './errors.js';
import { needEvent } from './event-idx.js';
import { fromFaultState, QueueFault, toFaultState } from './queue-fault.js';
import type { SplitQueueState } from './queue-state.js';
import { checkQueueParts, RamMap } from './ram-check.js';
import {
  isValidSplitQueueSize,
  SPLIT_ALIGNMENT,
  type SplitQueueLayout,
  splitQueueSizes,
} from './split-layout.js';
import { checkUsedBatch, checkUsedLength, type Virtqueue } from './virtqueue.js';
import { NO_METER, type WorkMeter } from './work-meter.js';

/** The negotiated features that change how a queue behaves. */
export interface QueueFeatures {
  /** VIRTIO_F_EVENT_IDX was negotiated. */
  readonly eventIdx?: boolean;
  /** VIRTIO_F_INDIRECT_DESC was negotiated. */
  readonly indirect?: boolean;
  /** VIRTIO_F_IN_ORDER was negotiated. */
  readonly inOrder?: boolean;
}

/** Options of a device-side queue. */
export interface QueueOptions {
  /** Called once when the queue detects a guest fault and stops. */
  readonly onFault?: (error: VirtioError) => void;
  /** Where copied bytes and processed chains are counted. */
  readonly meter?: WorkMeter;
}

const TWO_POW_32 = 2 ** 32;
/** `next` is a le16, so an indirect table has at most this many reachable entries. */
const INDIRECT_REACH = 65536;

/**
 * Visit stamps for indirect tables, shared by every queue: walks are synchronous and never
 * nest, so one 256 KiB scratch table serves them all instead of one per queue.
 */
let indirectSeen: Uint32Array | undefined;
let indirectStamp = 0;

function nextIndirectStamp(): { seen: Uint32Array; stamp: number } {
  indirectSeen ??= new Uint32Array(INDIRECT_REACH);
  indirectStamp = (indirectStamp + 1) >>> 0;
  if (indirectStamp === 0) {
    indirectSeen.fill(0);
    indirectStamp = 1;
  }
  return { seen: indirectSeen, stamp: indirectStamp };
}

/**
 * The device side of a split virtqueue (virtio 1.2 §2.7) over any `GuestMemory`.
 *
 * Every field is little-endian; indices are free-running 16-bit counters (§2.7.13.3). Chains
 * are validated completely before they are handed out; a malformed one (see
 * {@link VirtioErrorCode}) stops the queue, records {@link SplitVirtqueue.fault} and calls
 * `onFault`, as QEMU's virtio_error does. The queue never reads or writes outside guest memory:
 * all accesses go through `GuestMemory`, which bounds-checks them, and guest memory errors are
 * turned into faults.
 *
 * @example
 * ```ts
 * const q = new SplitVirtqueue(mem, { size: 256, descTable: 0x1000, availRing: 0x2000, usedRing: 0x3000 });
 * for (let chain = q.pop(); chain; chain = q.pop()) {
 *   const w = chain.writer();
 *   w.write(new Uint8Array([1, 2, 3]));
 *   q.addUsed(chain.head, w.written);
 * }
 * if (q.needsNotification()) raiseInterrupt();
 * ```
 */
export class SplitVirtqueue implements Virtqueue {
  readonly size: number;
  private readonly mem: GuestMemory;
  private readonly desc: number;
  private readonly avail: number;
  private readonly used: number;
  private readonly mask: number;
  private readonly eventIdx: boolean;
  private readonly indirect: boolean;
  private readonly inOrder: boolean;
  private readonly meter: WorkMeter;
  private readonly ram: RamMap;
  private lastAvail = 0;
  private usedIdx = 0;
  private signalledUsed = 0;
  private notificationsEnabled = true;
  private readonly faults: QueueFault;
  /** Per-descriptor visit stamps: a descriptor seen twice in one chain is a loop. */
  private readonly seen: Uint32Array;
  private stamp = 0;
  /** How many times each head is currently in flight (popped, not yet used). */
  private readonly inFlight: Uint16Array;
  private inFlightTotal = 0;
  /** With IN_ORDER: heads in the order they were popped, as a ring. */
  private readonly order: Uint16Array | undefined;
  private orderHead = 0;
  private orderCount = 0;

  /**
   * Checks a layout against the rules of §2.7 and the memory, without creating a queue.
   *
   * @param mem - guest memory
   * @param layout - where the parts are
   * @returns the fault, or `undefined` when the layout is valid
   */
  static validate(mem: GuestMemory, layout: SplitQueueLayout): VirtioError | undefined {
    if (!isValidSplitQueueSize(layout.size)) {
      return new VirtioError(
        'INVALID_QUEUE_SIZE',
        `split queue size ${layout.size} is not a power of two in [1, 32768]`,
      );
    }
    const parts = [
      ['descTable', layout.descTable],
      ['availRing', layout.availRing],
      ['usedRing', layout.usedRing],
    ] as const;
    return checkQueueParts(mem, parts, SPLIT_ALIGNMENT, splitQueueSizes(layout.size), '§2.7');
  }

  /**
   * @param mem - guest memory holding the rings and buffers
   * @param layout - Queue Size and the addresses of the three parts
   * @param features - negotiated features that apply to the queue
   * @param options - fault callback and work meter
   * @throws VirtioError if the layout is invalid (use {@link SplitVirtqueue.validate} on
   *   guest-supplied layouts first)
   */
  constructor(
    mem: GuestMemory,
    layout: SplitQueueLayout,
    features: QueueFeatures = {},
    options: QueueOptions = {},
  ) {
    const invalid = SplitVirtqueue.validate(mem, layout);
    if (invalid !== undefined) throw invalid;
    this.mem = mem;
    this.size = layout.size;
    this.mask = layout.size - 1;
    this.desc = layout.descTable;
    this.avail = layout.availRing;
    this.used = layout.usedRing;
    this.eventIdx = features.eventIdx ?? false;
    this.indirect = features.indirect ?? false;
    this.inOrder = features.inOrder ?? false;
    this.faults = new QueueFault(options.onFault);
    this.meter = options.meter ?? NO_METER;
    this.ram = new RamMap(mem);
    this.seen = new Uint32Array(layout.size);
    this.inFlight = new Uint16Array(layout.size);
    this.order = this.inOrder ? new Uint16Array(layout.size) : undefined;
  }

  get fault(): VirtioError | undefined {
    return this.faults.error;
  }

  /** The free-running index of the next available-ring entry the device will read. */
  get nextAvail(): number {
    return this.lastAvail;
  }

  /** The free-running used `idx` the device has published. */
  get nextUsed(): number {
    return this.usedIdx;
  }

  hasAvailable(): boolean {
    return this.pending() > 0;
  }

  pop(): DescriptorChain | undefined {
    if (this.pending() === 0) return undefined;
    try {
      // §2.7.6: ring[idx % Queue Size] holds the head of the next chain.
      const head = this.mem.read16(this.avail + 4 + 2 * (this.lastAvail & this.mask));
      this.lastAvail = (this.lastAvail + 1) & 0xffff;
      if (this.eventIdx && this.notificationsEnabled) this.writeAvailEvent();
      const descriptors = this.walk(head);
      if (descriptors === undefined) return undefined;
      if (this.inFlightTotal === this.size) {
        // Every descriptor is already with the device, so this head was reused while in flight:
        // the driver published more buffers than the queue can hold.
        return this.faults.reject(
          'AVAIL_IDX_JUMP',
          `more than ${this.size} chains in flight`,
          head,
        );
      }
      this.inFlight[head]!++;
      this.inFlightTotal++;
      if (this.order !== undefined) {
        this.order[(this.orderHead + this.orderCount) & this.mask] = head;
        this.orderCount++;
      }
      this.meter.chain();
      return new DescriptorChain(head, descriptors, this.mem, this.faults.sink, this.meter);
    } catch (e) {
      this.faults.memory(e);
      return undefined;
    }
  }

  availableWritableBytes(limit: number): number {
    const n = this.pending();
    let total = 0;
    try {
      for (let k = 0; k < n && total < limit; k++) {
        const head = this.mem.read16(this.avail + 4 + 2 * ((this.lastAvail + k) & this.mask));
        const buffers = this.walk(head);
        if (buffers === undefined) return 0;
        for (const d of buffers) if (d.writable) total += d.len;
      }
    } catch (e) {
      this.faults.memory(e);
      return 0;
    }
    return total;
  }

  addUsed(head: number, len: number): void {
    if (this.faults.error !== undefined) return;
    checkUsedLength(len, head);
    this.takeInFlight(head);
    try {
      const slot = this.used + 4 + 8 * (this.usedIdx & this.mask);
      this.mem.write32(slot, head);
      this.mem.write32(slot + 4, len);
      // §2.7.8.2: len is set before idx is updated.
      this.usedIdx = (this.usedIdx + 1) & 0xffff;
      this.mem.write16(this.used + 2, this.usedIdx);
    } catch (e) {
      this.faults.memory(e);
    }
  }

  /**
   * With VIRTIO_F_IN_ORDER, returns the next `count` popped chains in one step (§2.7.9): a single
   * used element with the id of the last chain of the batch, and used `idx` advanced by `count`.
   *
   * @param count - how many chains, in pop order, the batch covers
   * @param len - bytes written into the last chain of the batch
   */
  addUsedBatch(count: number, len: number): void {
    if (this.faults.error !== undefined) return;
    checkUsedBatch(this.order !== undefined, count, this.orderCount, 'entries');
    const order = this.order!;
    let last = 0;
    for (let k = 0; k < count; k++) {
      last = order[this.orderHead]!;
      this.orderHead = (this.orderHead + 1) & this.mask;
      this.orderCount--;
      this.inFlight[last]!--;
      this.inFlightTotal--;
    }
    try {
      this.mem.write32(this.used + 4 + 8 * ((this.usedIdx + count - 1) & this.mask), last);
      this.mem.write32(this.used + 8 + 8 * ((this.usedIdx + count - 1) & this.mask), len >>> 0);
      this.usedIdx = (this.usedIdx + count) & 0xffff;
      this.mem.write16(this.used + 2, this.usedIdx);
    } catch (e) {
      this.faults.memory(e);
    }
  }

  needsNotification(): boolean {
    if (this.faults.error !== undefined) return false;
    const old = this.signalledUsed;
    const now = this.usedIdx;
    this.signalledUsed = now;
    if (old === now) return false;
    try {
      if (this.eventIdx) {
        // §2.7.7.2: notify when the used idx passes used_event; the low flag bit is ignored.
        return needEvent(this.mem.read16(this.avail + 4 + 2 * this.size), now, old);
      }
      return (this.mem.read16(this.avail) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    } catch (e) {
      this.faults.memory(e);
      return false;
    }
  }

  disableNotification(): void {
    this.notificationsEnabled = false;
    if (this.faults.error !== undefined || this.eventIdx) return;
    this.faults.guard(() => this.mem.write16(this.used, VIRTQ_USED_F_NO_NOTIFY));
  }

  enableNotification(): boolean {
    this.notificationsEnabled = true;
    if (this.faults.error !== undefined) return false;
    // §2.7.10.2: with EVENT_IDX the flags stay 0 and avail_event names the entry we wait for:
    // the first one not yet published (entries already there are found by the re-check).
    this.faults.guard(() =>
      this.eventIdx
        ? this.mem.write16(this.used + 4 + 8 * this.size, this.mem.read16(this.avail + 2))
        : this.mem.write16(this.used, 0),
    );
    return this.hasAvailable();
  }

  /**
   * The queue's state for a snapshot (Firecracker's Persist pattern). Taken between
   * notifications: a chain still in flight would be lost, so that is refused.
   *
   * @returns plain data for {@link SplitVirtqueue.restore}
   * @throws VirtioError `INVALID_STATE` while chains are in flight
   */
  save(): SplitQueueState {
    if (this.inFlightTotal !== 0) {
      throw new VirtioError('INVALID_STATE', `${this.inFlightTotal} chains in flight`);
    }
    const f = this.faults.error;
    return {
      kind: 'split',
      layout: { size: this.size, descTable: this.desc, availRing: this.avail, usedRing: this.used },
      features: { eventIdx: this.eventIdx, indirect: this.indirect, inOrder: this.inOrder },
      lastAvail: this.lastAvail,
      usedIdx: this.usedIdx,
      signalledUsed: this.signalledUsed,
      notificationsEnabled: this.notificationsEnabled,
      ...(f === undefined ? {} : { fault: toFaultState(f) }),
    };
  }

  /**
   * Rebuilds a queue from {@link SplitVirtqueue.save}; the rings themselves are in guest memory.
   *
   * @param mem - guest memory (restored separately)
   * @param state - the saved state
   * @param options - fault callback and meter for the new queue
   * @returns the queue
   */
  static restore(
    mem: GuestMemory,
    state: SplitQueueState,
    options: QueueOptions = {},
  ): SplitVirtqueue {
    const q = new SplitVirtqueue(mem, state.layout, state.features, options);
    q.lastAvail = state.lastAvail & 0xffff;
    q.usedIdx = state.usedIdx & 0xffff;
    q.signalledUsed = state.signalledUsed & 0xffff;
    q.notificationsEnabled = state.notificationsEnabled;
    q.faults.error = fromFaultState(state.fault);
    return q;
  }

  /** Records a guest fault and stops the queue; later faults are ignored. */
  fail(error: VirtioError): void {
    this.faults.fail(error);
  }

  /** Entries the driver has published and the device not yet popped; a jump is a fault. */
  private pending(): number {
    if (this.faults.error !== undefined) return 0;
    let idx: number;
    try {
      idx = this.mem.read16(this.avail + 2);
    } catch (e) {
      this.faults.memory(e);
      return 0;
    }
    const n = (idx - this.lastAvail) & 0xffff;
    if (n > this.size) {
      this.fail(
        new VirtioError(
          'AVAIL_IDX_JUMP',
          `available idx ${idx} is ${n} entries past ${this.lastAvail}, queue size ${this.size}`,
        ),
      );
      return 0;
    }
    return n;
  }

  private writeAvailEvent(): void {
    this.mem.write16(this.used + 4 + 8 * this.size, this.lastAvail);
  }

  /** Walks and validates the chain at `head` (§2.7.5, §2.7.5.3); `undefined` after a fault. */
  private walk(head: number): Descriptor[] | undefined {
    if (head >= this.size) {
      return this.faults.reject(
        'HEAD_OUT_OF_RANGE',
        `head ${head} >= queue size ${this.size}`,
        head,
      );
    }
    const mem = this.mem;
    const chain = new ChainCollector(this.ram, this.size);
    let table = this.desc;
    let tableLen = this.size;
    let seen = this.seen;
    let stamp = this.nextStamp();
    let index = head;
    let nested = false;
    for (;;) {
      if (seen[index] === stamp) {
        return this.faults.reject('DESCRIPTOR_LOOP', `descriptor ${index} visited twice`, head);
      }
      seen[index] = stamp;
      const at = table + 16 * index;
      const lo = mem.read32(at);
      const hi = mem.read32(at + 4);
      const len = mem.read32(at + 8);
      const flagsNext = mem.read32(at + 12);
      const flags = flagsNext & 0xffff;
      if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) {
        const bad = this.checkIndirect(flags, nested, lo, hi, len);
        if (bad !== undefined) return this.faults.reject(bad[0], bad[1], head);
        // §2.7.5.3: the table holds len/16 descriptors; the first is at index 0.
        table = hi * TWO_POW_32 + lo;
        tableLen = Math.min(len / 16, INDIRECT_REACH);
        ({ seen, stamp } = nextIndirectStamp());
        nested = true;
        index = 0;
        continue;
      }
      const bad = chain.add(lo, hi, len, (flags & VIRTQ_DESC_F_WRITE) !== 0);
      if (bad !== undefined) return this.faults.reject(bad[0], bad[1], head);
      if ((flags & VIRTQ_DESC_F_NEXT) === 0) return chain.out;
      index = flagsNext >>> 16;
      if (index >= tableLen) {
        return this.faults.reject(
          'NEXT_OUT_OF_RANGE',
          `next ${index} >= table length ${tableLen}`,
          head,
        );
      }
    }
  }

  /** The rules for a descriptor that points to an indirect table (§2.7.5.3.1). */
  private checkIndirect(
    flags: number,
    nested: boolean,
    lo: number,
    hi: number,
    len: number,
  ): ChainViolation | undefined {
    if (!this.indirect) {
      return ['INDIRECT_NOT_NEGOTIATED', 'VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC'];
    }
    if (nested) return ['NESTED_INDIRECT', 'indirect descriptor inside an indirect table'];
    if ((flags & VIRTQ_DESC_F_NEXT) !== 0) {
      return ['INDIRECT_WITH_NEXT', 'descriptor sets both INDIRECT and NEXT'];
    }
    // A split indirect table may be longer than Queue Size: the chain's buffers are counted.
    return checkIndirectTable(this.mem, lo, hi, len, Number.POSITIVE_INFINITY);
  }

  private nextStamp(): number {
    this.stamp = (this.stamp + 1) >>> 0;
    if (this.stamp === 0) {
      // After 2^32 walks the stamps wrap: start from a clean table.
      this.seen.fill(0);
      this.stamp = 1;
    }
    return this.stamp;
  }

  private takeInFlight(head: number): void {
    if (!Number.isInteger(head) || head < 0 || head >= this.size || this.inFlight[head] === 0) {
      throw new VirtioError('NOT_IN_FLIGHT', `head ${head} is not in flight`, head);
    }
    if (this.order !== undefined) {
      const expected = this.order[this.orderHead]!;
      if (expected !== head) {
        throw new VirtioError(
          'OUT_OF_ORDER',
          `VIRTIO_F_IN_ORDER: head ${head} returned before ${expected}`,
          head,
        );
      }
      this.orderHead = (this.orderHead + 1) & this.mask;
      this.orderCount--;
    }
    this.inFlight[head]!--;
    this.inFlightTotal--;
  }
}
