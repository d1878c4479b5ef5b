import { type GuestMemory, GuestMemoryError } from '@vmkit/memory';
import { DeviceStatus, FeatureBit, featureMask, hasFeature, MAX_QUEUE_SIZE } from './constants.js';
import type { DeviceContext, VirtioDeviceModel } from './device-model.js';
import { VirtioError } from './errors.js';
import { PackedVirtqueue } from './packed-queue.js';
import { fromFaultState, toFaultState } from './queue-fault.js';
import type { FaultState, VirtqueueState } from './queue-state.js';
import { type QueueOptions, SplitVirtqueue } from './split-queue.js';
import type { Virtqueue } from './virtqueue.js';
import { NO_METER, type WorkMeter } from './work-meter.js';

/** Which of the three areas of a queue an address names (§2.6: Descriptor, Driver, Device). */
export type QueueArea = 'desc' | 'driver' | 'device';

/** Why the device raised its interrupt: bit 0 and bit 1 of the ISR / InterruptStatus. */
export type InterruptReason = 'used' | 'config';

/** ISR bit for a used buffer notification (§4.1.4.5, §4.2.2 InterruptStatus bit 0). */
export const ISR_USED = 1;
/** ISR bit for a configuration change notification (bit 1). */
export const ISR_CONFIG = 2;

/**
 * A snapshot of a {@link VirtioDevice} between notifications (Firecracker's Persist pattern):
 * plain, JSON-encodable, versioned. Guest memory and the transport are saved separately.
 */
export interface VirtioDeviceState {
  /** Format version of this object. */
  readonly version: 1;
  /** The device ID the state belongs to. */
  readonly deviceId: number;
  /** Device status byte. */
  readonly status: number;
  /** Driver features as [bits 0-31, bits 32-63]. */
  readonly driverFeatures: readonly [number, number];
  /** Pending ISR bits. */
  readonly isr: number;
  /** Configuration generation. */
  readonly generation: number;
  /** Refused status writes so far. */
  readonly refusedStatusWrites: number;
  /** Driver-visible configuration of every queue. */
  readonly queues: readonly QueueState[];
  /** Device-side state of every live queue (`null` where not live). */
  readonly live: readonly (VirtqueueState | null)[];
  /** Why the device needs a reset, if it does. */
  readonly error?: FaultState;
  /** The device model's own state. */
  readonly model?: unknown;
}

/** Options of a {@link VirtioDevice}. */
export interface VirtioDeviceOptions {
  /**
   * Transport feature bits (§6) to offer besides VIRTIO_F_VERSION_1, which is always offered.
   * Defaults to INDIRECT_DESC, EVENT_IDX, IN_ORDER and RING_PACKED; add ACCESS_PLATFORM when the
   * device's memory is an IOMMU's DMA view.
   */
  readonly transportFeatures?: readonly number[];
  /** Where copy work and chains are counted (all queues). */
  readonly meter?: WorkMeter;
  /**
   * Per-queue meters, which take precedence over `meter` (see `BackendWorkers.forDevice`): the
   * work of each queue is charged to the backend worker that serves it.
   */
  readonly queueMeter?: (queue: number) => WorkMeter;
  /** Called when the device sends a notification; a transport turns it into an interrupt. */
  readonly onInterrupt?: (reason: InterruptReason, queue: number | undefined) => void;
}

/** The driver-visible configuration of one queue (§4.1.4.3 common configuration, §4.2.2). */
export interface QueueState {
  /** Queue size the driver chose (defaults to the maximum). */
  size: number;
  /** Whether the driver enabled the queue. */
  ready: boolean;
  /** Low and high 32 bits of the Descriptor, Driver and Device Area addresses. */
  readonly words: Record<QueueArea, [number, number]>;
}

const DEFAULT_TRANSPORT_FEATURES = [
  FeatureBit.INDIRECT_DESC,
  FeatureBit.EVENT_IDX,
  FeatureBit.IN_ORDER,
  FeatureBit.RING_PACKED,
];

/** The transport features this package implements; others are never offered. */
const SUPPORTED_TRANSPORT = new Set<number>([
  // Opt-in: offer it when the device's memory is an IOMMU DMA view (addresses are IOVAs).
  FeatureBit.ACCESS_PLATFORM,
  FeatureBit.INDIRECT_DESC,
  FeatureBit.EVENT_IDX,
  FeatureBit.VERSION_1,
  FeatureBit.IN_ORDER,
  FeatureBit.RING_PACKED,
]);

/**
 * A virtio device as a transport sees it: the device status state machine (virtio 1.2 §2.1 and
 * §3.1), feature negotiation (§2.2), queue configuration, notifications and the error state,
 * wrapped around a transport-neutral {@link VirtioDeviceModel}. The MMIO transport (and a PCI
 * one) only translate register accesses into calls on this class.
 *
 * Nothing a driver does throws out of it: invalid status transitions are refused, a malformed
 * ring or a failing model puts the device into DEVICE_NEEDS_RESET with a configuration change
 * notification, and the device then ignores notifications until it is reset (as QEMU's
 * virtio_error does).
 *
 * @example
 * ```ts
 * const device = new VirtioDevice(new VirtioBlk(new MemoryBlockStore(1 << 20)), mem);
 * const mmio = new VirtioMmioTransport(device);
 * mem.addMmio({ base: 0xd000_0000, size: 0x200, handler: mmio });
 * ```
 */
export class VirtioDevice {
  /** The device type behind this device. */
  readonly model: VirtioDeviceModel;
  /** Guest memory the queues live in. */
  readonly memory: GuestMemory;
  /** Every feature bit the device offers. */
  readonly offeredFeatures: bigint;
  /** Why the device is in DEVICE_NEEDS_RESET, if it is. */
  error: VirtioError | undefined;
  /** Status writes refused because they cleared a bit or skipped a step (§3.1.1). */
  refusedStatusWrites = 0;
  private statusValue = 0;
  private driverFeatureBits = 0n;
  private isrValue = 0;
  private generation = 0;
  private readonly queues: QueueState[];
  private live: (Virtqueue | undefined)[];
  private readonly meter: WorkMeter;
  private readonly queueMeter: ((queue: number) => WorkMeter) | undefined;
  private readonly onInterrupt: VirtioDeviceOptions['onInterrupt'];
  private readonly context: DeviceContext;

  /**
   * @param model - the device type
   * @param memory - guest memory
   * @param options - transport features, meter and interrupt callback
   */
  constructor(model: VirtioDeviceModel, memory: GuestMemory, options: VirtioDeviceOptions = {}) {
    for (const max of model.queueMaxSizes) {
      if (!Number.isInteger(max) || max < 1 || max > MAX_QUEUE_SIZE) {
        throw new VirtioError('INVALID_ARGUMENT', `queue maximum ${max} not in [1, 32768]`);
      }
    }
    this.model = model;
    this.memory = memory;
    this.meter = options.meter ?? NO_METER;
    this.queueMeter = options.queueMeter;
    this.onInterrupt = options.onInterrupt;
    let offered = model.features & ~TRANSPORT_RANGE;
    for (const bit of [
      FeatureBit.VERSION_1,
      ...(options.transportFeatures ?? DEFAULT_TRANSPORT_FEATURES),
    ]) {
      if (!SUPPORTED_TRANSPORT.has(bit)) {
        throw new VirtioError('INVALID_ARGUMENT', `transport feature ${bit} is not implemented`);
      }
      offered |= featureMask(bit);
    }
    this.offeredFeatures = offered;
    this.queues = model.queueMaxSizes.map((max) => freshQueue(max));
    this.live = model.queueMaxSizes.map(() => undefined);
    const negotiated = () => this.driverFeatureBits;
    this.context = {
      memory,
      meter: this.meter,
      get features() {
        return negotiated();
      },
      queue: (i) => this.live[i],
      notifyUsed: (i) => this.notifyUsed(i),
      configChanged: () => this.configChanged(),
      fail: (e) => this.fail(e),
    };
  }

  /** Interrupt routing set by the transport after construction (called after `onInterrupt`). */
  interruptSink: ((reason: InterruptReason, queue: number | undefined) => void) | undefined;

  /** The device status byte (§2.1). */
  get status(): number {
    return this.statusValue;
  }

  /** The features the driver wrote (all of them after FEATURES_OK: the negotiated set). */
  get driverFeatures(): bigint {
    return this.driverFeatureBits;
  }

  /** Number of queues. */
  get queueCount(): number {
    return this.queues.length;
  }

  /** The configuration generation (§2.5): changes whenever the configuration space changes. */
  get configGeneration(): number {
    return this.generation;
  }

  /** The pending interrupt reasons: bit 0 used buffer, bit 1 configuration change. */
  get isr(): number {
    return this.isrValue;
  }

  /**
   * Writes the device status (§2.1, §3.1.1). 0 resets the device. Otherwise the driver may only
   * add bits, in the order ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK (FAILED at any time);
   * a write that clears a bit or skips a step is refused and leaves the status unchanged. On
   * FEATURES_OK the device checks the accepted features and leaves the bit clear if it cannot
   * operate with them, which the driver sees when it re-reads the status.
   *
   * @param value - the status byte written by the driver
   */
  setStatus(value: number): void {
    const v = value & 0xff;
    if (v === 0) return this.reset();
    const old = this.statusValue;
    // Only the bits of §2.1 that the driver sets are taken; reserved bits (16, 32) and the
    // device's DEVICE_NEEDS_RESET are not the driver's to write.
    const driverBits = v & DRIVER_STATUS_BITS;
    const oldDriverBits = old & ~DeviceStatus.DEVICE_NEEDS_RESET;
    if ((driverBits & oldDriverBits) !== oldDriverBits || !stepsInOrder(driverBits)) {
      this.refusedStatusWrites++;
      return;
    }
    let next = driverBits | (old & DeviceStatus.DEVICE_NEEDS_RESET);
    const added = driverBits & ~oldDriverBits;
    if ((added & DeviceStatus.FEATURES_OK) !== 0 && !this.featuresAcceptable()) {
      // §3.1.1 step 6: the driver re-reads the status and finds FEATURES_OK clear.
      next &= ~(DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
    }
    this.statusValue = next;
    if ((next & added & DeviceStatus.DRIVER_OK) !== 0) this.start();
  }

  /**
   * Reads 32 bits of the offered features (§4.2.2 DeviceFeatures, §4.1.4.3 device_feature).
   *
   * @param select - which 32-bit word: 0 for bits 0-31, 1 for 32-63, ...
   * @returns the word, 0 beyond bit 63
   */
  readDeviceFeatures(select: number): number {
    if (select > 1) return 0;
    return Number((this.offeredFeatures >> BigInt(32 * select)) & 0xffff_ffffn);
  }

  /**
   * Writes 32 bits of the driver's accepted features; ignored once FEATURES_OK is set (§3.1.1:
   * no new feature bits after that step).
   *
   * @param select - which 32-bit word
   * @param value - the bits
   */
  writeDriverFeatures(select: number, value: number): void {
    if (select > 1 || (this.statusValue & DeviceStatus.FEATURES_OK) !== 0) return;
    const shift = BigInt(32 * select);
    const mask = 0xffff_ffffn << shift;
    this.driverFeatureBits = (this.driverFeatureBits & ~mask) | (BigInt(value >>> 0) << shift);
  }

  /** Reads 32 bits of the driver's accepted features (§4.1.4.3 driver_feature). */
  readDriverFeatures(select: number): number {
    if (select > 1) return 0;
    return Number((this.driverFeatureBits >> BigInt(32 * select)) & 0xffff_ffffn);
  }

  /** The driver-visible state of queue `index`, or `undefined` if there is no such queue. */
  queueState(index: number): Readonly<QueueState> | undefined {
    return this.queues[index];
  }

  /** The maximum size of queue `index`, 0 if it does not exist (§4.2.2 QueueNumMax). */
  queueMaxSize(index: number): number {
    return this.model.queueMaxSizes[index] ?? 0;
  }

  /**
   * Sets the size of queue `index`; ignored while the queue is enabled (the driver must not
   * change it then, §4.2.2.2). The value is validated when the queue goes live.
   */
  setQueueSize(index: number, size: number): void {
    const q = this.queues[index];
    if (q === undefined || q.ready) return;
    q.size = size & 0xffff;
  }

  /**
   * Writes one 32-bit half of a queue area address; ignored while the queue is enabled.
   *
   * @param index - queue index
   * @param area - which area
   * @param word - 0 for the low half, 1 for the high half
   * @param value - the 32 bits
   */
  setQueueAddress(index: number, area: QueueArea, word: 0 | 1, value: number): void {
    const q = this.queues[index];
    if (q === undefined || q.ready) return;
    q.words[area][word] = value >>> 0;
  }

  /**
   * Enables or disables queue `index` (§4.2.2 QueueReady, §4.1.4.3 queue_enable). A queue
   * enabled after DRIVER_OK goes live at once; disabling drops it.
   */
  setQueueReady(index: number, ready: boolean): void {
    const q = this.queues[index];
    if (q === undefined || q.ready === ready) return;
    q.ready = ready;
    if (!ready) {
      this.live[index] = undefined;
      return;
    }
    if (this.running()) this.goLive(index);
  }

  /**
   * An available buffer notification from the driver (§2.9). Ignored unless the device is
   * running (DRIVER_OK, not FAILED, not DEVICE_NEEDS_RESET) and the queue is live. Anything the
   * model throws becomes the error state.
   *
   * @param index - the queue index the driver wrote
   */
  notifyQueue(index: number): void {
    if (!this.running() || this.live[index] === undefined) return;
    try {
      this.model.notify(index);
    } catch (e) {
      this.fail(asVirtioError(e));
    }
  }

  /** Reads the device-specific configuration space; 0 outside it. */
  readConfig(offset: number, size: 1 | 2 | 4): number {
    if (offset < 0 || offset + size > this.model.configSize) return 0;
    return this.model.readConfig(offset, size) >>> 0;
  }

  /** Writes the device-specific configuration space; ignored outside it. */
  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void {
    if (offset < 0 || offset + size > this.model.configSize) return;
    this.model.writeConfig(offset, size, value);
  }

  /**
   * Acknowledges interrupt reasons (§4.2.2 InterruptACK).
   *
   * @param bits - the ISR bits handled
   */
  acknowledgeInterrupt(bits: number): void {
    this.isrValue &= ~bits;
  }

  /** Reads and clears the ISR, as the PCI ISR status register does on read (§4.1.4.5). */
  readAndClearIsr(): number {
    const v = this.isrValue;
    this.isrValue = 0;
    return v;
  }

  /**
   * Device reset (§2.4): status 0, features, queues and ISR cleared, the model reset.
   */
  reset(): void {
    this.statusValue = 0;
    this.driverFeatureBits = 0n;
    this.isrValue = 0;
    this.error = undefined;
    this.queues.forEach((q, i) => {
      Object.assign(q, freshQueue(this.model.queueMaxSizes[i]!));
    });
    this.live = this.live.map(() => undefined);
    this.model.reset();
  }

  /**
   * Saves the device between notifications (nothing in flight): status, features, queues, ISR,
   * the error and the model's state.
   *
   * @returns plain data for {@link VirtioDevice.restore}
   * @throws VirtioError `INVALID_STATE` while a queue has chains in flight
   */
  save(): VirtioDeviceState {
    const f = this.driverFeatureBits;
    const e = this.error;
    const model = this.model.save?.();
    return {
      version: 1,
      deviceId: this.model.deviceId,
      status: this.statusValue,
      driverFeatures: [Number(f & 0xffff_ffffn), Number(f >> 32n)],
      isr: this.isrValue,
      generation: this.generation,
      refusedStatusWrites: this.refusedStatusWrites,
      queues: this.queues.map((q) => ({
        size: q.size,
        ready: q.ready,
        words: {
          desc: [...q.words.desc],
          driver: [...q.words.driver],
          device: [...q.words.device],
        },
      })),
      live: this.live.map((q) => q?.save() ?? null),
      ...(e === undefined ? {} : { error: toFaultState(e) }),
      ...(model === undefined ? {} : { model }),
    };
  }

  /**
   * Restores a state saved by {@link VirtioDevice.save} (guest memory restored separately): the
   * live queues are rebuilt, and a device past DRIVER_OK is re-activated before the model's
   * own state is restored.
   *
   * @param state - the saved state
   * @throws VirtioError `INVALID_ARGUMENT` for a state of another version, device type or queue count
   */
  restore(state: VirtioDeviceState): void {
    if (
      state.version !== 1 ||
      state.deviceId !== this.model.deviceId ||
      state.queues.length !== this.queues.length
    ) {
      throw new VirtioError('INVALID_ARGUMENT', 'the state belongs to another kind of device');
    }
    this.model.reset();
    this.statusValue = state.status & 0xff;
    this.driverFeatureBits =
      (BigInt(state.driverFeatures[1] >>> 0) << 32n) | BigInt(state.driverFeatures[0] >>> 0);
    this.isrValue = state.isr;
    this.generation = state.generation;
    this.refusedStatusWrites = state.refusedStatusWrites;
    this.error = fromFaultState(state.error);
    state.queues.forEach((q, i) => {
      const target = this.queues[i]!;
      target.size = q.size;
      target.ready = q.ready;
      target.words.desc.splice(0, 2, q.words.desc[0], q.words.desc[1]);
      target.words.driver.splice(0, 2, q.words.driver[0], q.words.driver[1]);
      target.words.device.splice(0, 2, q.words.device[0], q.words.device[1]);
    });
    this.live = state.live.map((s, i) => {
      if (s === null) return undefined;
      const options = this.queueOptions(i);
      return s.kind === 'split'
        ? SplitVirtqueue.restore(this.memory, s, options)
        : PackedVirtqueue.restore(this.memory, s, options);
    });
    if ((this.statusValue & DeviceStatus.DRIVER_OK) !== 0) this.model.activate(this.context);
    if (state.model !== undefined) this.model.restore?.(state.model);
  }

  /**
   * Enters the error state (§2.1.2): sets DEVICE_NEEDS_RESET and, if DRIVER_OK is set, sends a
   * configuration change notification. The first error is kept in {@link VirtioDevice.error}.
   */
  fail(error: VirtioError): void {
    if ((this.statusValue & DeviceStatus.DEVICE_NEEDS_RESET) !== 0) return;
    this.error = error;
    this.statusValue |= DeviceStatus.DEVICE_NEEDS_RESET;
    if ((this.statusValue & DeviceStatus.DRIVER_OK) !== 0) this.raise('config', undefined);
  }

  private running(): boolean {
    const s = this.statusValue;
    return (
      (s & DeviceStatus.DRIVER_OK) !== 0 &&
      (s & (DeviceStatus.FAILED | DeviceStatus.DEVICE_NEEDS_RESET)) === 0
    );
  }

  private featuresAcceptable(): boolean {
    const f = this.driverFeatureBits;
    if ((f & ~this.offeredFeatures) !== 0n) return false;
    // A modern device may refuse a driver that does not accept VERSION_1 (§6).
    if (!hasFeature(f, FeatureBit.VERSION_1)) return false;
    return this.model.acceptFeatures?.(f) ?? true;
  }

  private start(): void {
    for (let i = 0; i < this.queues.length; i++) {
      if (this.queues[i]!.ready) this.goLive(i);
      if (!this.running()) return;
    }
    try {
      this.model.activate(this.context);
    } catch (e) {
      this.fail(asVirtioError(e));
    }
  }

  private goLive(index: number): void {
    const q = this.queues[index]!;
    const max = this.queueMaxSize(index);
    const f = this.driverFeatureBits;
    const addr = (area: QueueArea) => {
      const [lo, hi] = q.words[area];
      return hi < 2 ** 20 ? hi * 2 ** 32 + lo : Number.NaN;
    };
    const features = {
      eventIdx: hasFeature(f, FeatureBit.EVENT_IDX),
      indirect: hasFeature(f, FeatureBit.INDIRECT_DESC),
      inOrder: hasFeature(f, FeatureBit.IN_ORDER),
    };
    const options = this.queueOptions(index);
    if (q.size > max || q.size === 0) {
      return this.fail(
        new VirtioError('INVALID_QUEUE_SIZE', `queue ${index} size ${q.size} > maximum ${max}`),
      );
    }
    if (hasFeature(f, FeatureBit.RING_PACKED)) {
      const layout = {
        size: q.size,
        descRing: addr('desc'),
        driverEvent: addr('driver'),
        deviceEvent: addr('device'),
      };
      const invalid = PackedVirtqueue.validate(this.memory, layout);
      if (invalid !== undefined) return this.fail(invalid);
      this.live[index] = new PackedVirtqueue(this.memory, layout, features, options);
      return;
    }
    const layout = {
      size: q.size,
      descTable: addr('desc'),
      availRing: addr('driver'),
      usedRing: addr('device'),
    };
    const invalid = SplitVirtqueue.validate(this.memory, layout);
    if (invalid !== undefined) return this.fail(invalid);
    this.live[index] = new SplitVirtqueue(this.memory, layout, features, options);
  }

  /** How queue `index` reports its faults (to this device) and counts its work. */
  private queueOptions(index: number): QueueOptions {
    return { meter: this.queueMeter?.(index) ?? this.meter, onFault: (e) => this.fail(e) };
  }

  private notifyUsed(index: number): void {
    const q = this.live[index];
    if (q === undefined || !this.running()) return;
    if (q.needsNotification()) this.raise('used', index);
  }

  private configChanged(): void {
    this.generation = (this.generation + 1) >>> 0;
    if ((this.statusValue & DeviceStatus.DRIVER_OK) !== 0) this.raise('config', undefined);
  }

  private raise(reason: InterruptReason, queue: number | undefined): void {
    this.isrValue |= reason === 'used' ? ISR_USED : ISR_CONFIG;
    this.onInterrupt?.(reason, queue);
    this.interruptSink?.(reason, queue);
  }
}

const DRIVER_STATUS_BITS =
  DeviceStatus.ACKNOWLEDGE |
  DeviceStatus.DRIVER |
  DeviceStatus.FEATURES_OK |
  DeviceStatus.DRIVER_OK |
  DeviceStatus.FAILED;

/** Bits 24-49 are the transport range (§6); a model's own features must lie outside it. */
const TRANSPORT_RANGE = ((1n << 26n) - 1n) << 24n;

function freshQueue(max: number): QueueState {
  return {
    size: max,
    ready: false,
    words: { desc: [0, 0], driver: [0, 0], device: [0, 0] },
  };
}

/** ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK: each needs the ones before it (§3.1.1). */
function stepsInOrder(bits: number): boolean {
  const order = [
    DeviceStatus.ACKNOWLEDGE,
    DeviceStatus.DRIVER,
    DeviceStatus.FEATURES_OK,
    DeviceStatus.DRIVER_OK,
  ];
  for (let k = 1; k < order.length; k++) {
    if ((bits & order[k]!) !== 0 && (bits & order[k - 1]!) === 0) return false;
  }
  return true;
}

function asVirtioError(e: unknown): VirtioError {
  if (e instanceof VirtioError) return e;
  if (e instanceof GuestMemoryError) return new VirtioError('ADDRESS_OUT_OF_RANGE', e.message);
  return new VirtioError('DEVICE_ERROR', e instanceof Error ? e.message : String(e));
}
