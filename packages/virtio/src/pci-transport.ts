import type { AccessSize, MmioHandler } from '@vmkit/memory';
import { PciFunction } from '@vmkit/pci';
import { DeviceId } from './constants.js';
import { ISR_CONFIG, ISR_USED, type QueueArea, type VirtioDevice } from './device.js';

/** PCI Vendor ID of every virtio device (virtio 1.2 §4.1.2). */
export const VIRTIO_PCI_VENDOR_ID = 0x1af4;
/** Device ID of a modern (non-transitional) virtio-pci device: 0x1040 + virtio device ID. */
export const VIRTIO_PCI_DEVICE_ID_BASE = 0x1040;
/** Capability ID of a vendor-specific PCI capability (PCI Local Bus 3.0 §6.7, virtio §4.1.4). */
export const PCI_CAP_ID_VNDR = 0x09;
/** "No vector" value for config_msix_vector and queue_msix_vector (§4.1.4.3, §4.1.5.1.2). */
export const VIRTIO_MSI_NO_VECTOR = 0xffff;

/** struct virtio_pci_cap cfg_type values (§4.1.4). */
export const VirtioPciCapType = {
  /** Common configuration. */
  COMMON_CFG: 1,
  /** Notifications. */
  NOTIFY_CFG: 2,
  /** ISR status. */
  ISR_CFG: 3,
  /** Device-specific configuration. */
  DEVICE_CFG: 4,
  /** PCI configuration access window. */
  PCI_CFG: 5,
} as const;

/** Offsets in struct virtio_pci_common_cfg (§4.1.4.3). */
export const CommonCfg = {
  /** le32 device_feature_select (RW). */
  deviceFeatureSelect: 0x00,
  /** le32 device_feature (RO). */
  deviceFeature: 0x04,
  /** le32 driver_feature_select (RW). */
  driverFeatureSelect: 0x08,
  /** le32 driver_feature (RW). */
  driverFeature: 0x0c,
  /** le16 config_msix_vector (RW). */
  configMsixVector: 0x10,
  /** le16 num_queues (RO). */
  numQueues: 0x12,
  /** u8 device_status (RW). */
  deviceStatus: 0x14,
  /** u8 config_generation (RO). */
  configGeneration: 0x15,
  /** le16 queue_select (RW). */
  queueSelect: 0x16,
  /** le16 queue_size (RW). */
  queueSize: 0x18,
  /** le16 queue_msix_vector (RW). */
  queueMsixVector: 0x1a,
  /** le16 queue_enable (RW). */
  queueEnable: 0x1c,
  /** le16 queue_notify_off (RO). */
  queueNotifyOff: 0x1e,
  /** le64 queue_desc (RW). */
  queueDesc: 0x20,
  /** le64 queue_driver (RW). */
  queueDriver: 0x28,
  /** le64 queue_device (RW). */
  queueDevice: 0x30,
  /** le16 queue_notify_data (RO). */
  queueNotifyData: 0x38,
  /** le16 queue_reset (RW; VIRTIO_F_RING_RESET is not offered, so it reads 0). */
  queueReset: 0x3a,
  /** Size of the structure. */
  size: 0x3c,
} as const;

/** Where the structures sit in BAR 0 of a {@link VirtioPciTransport}. */
export const VirtioPciLayout = {
  /** The BAR that holds everything (64-bit memory). */
  bar: 0,
  /** Its size. */
  barSize: 0x1_0000,
  /** Common configuration. */
  common: 0x0000,
  /** ISR status (1 byte). */
  isr: 0x1000,
  /** Device-specific configuration. */
  device: 0x2000,
  /** Notification area: queue n at notify + n * multiplier. */
  notify: 0x3000,
  /** notify_off_multiplier. */
  notifyMultiplier: 4,
  /** MSI-X table. */
  msixTable: 0x4000,
  /** MSI-X pending bit array. */
  msixPba: 0xc000,
} as const;

/**
 * The virtio registers of a {@link VirtioPciTransport}, as saved. The PCI configuration space
 * and MSI-X table belong to `@vmkit/pci`; the device is saved separately.
 */
export interface PciTransportState {
  /** device_feature_select. */
  readonly deviceFeatureSelect: number;
  /** driver_feature_select. */
  readonly driverFeatureSelect: number;
  /** queue_select. */
  readonly queueSelect: number;
  /** config_msix_vector. */
  readonly configVector: number;
  /** queue_msix_vector of every queue. */
  readonly queueVectors: readonly number[];
}

/** Options of a {@link VirtioPciTransport}. */
export interface VirtioPciOptions {
  /** MSI-X vectors (default: one per queue plus one for configuration changes). */
  readonly msixVectors?: number;
  /** Subsystem ID (default 0x1100; §4.1.2.1 wants 0x40 or higher for modern devices). */
  readonly subsystemId?: number;
}

const CLASS_CODES: Record<number, number> = {
  [DeviceId.NET]: 0x02_00_00,
  [DeviceId.BLOCK]: 0x01_80_00,
};

const QUEUE_AREA: Record<number, QueueArea> = {
  [CommonCfg.queueDesc]: 'desc',
  [CommonCfg.queueDriver]: 'driver',
  [CommonCfg.queueDevice]: 'device',
};

/**
 * The virtio-pci modern transport (virtio 1.2 §4.1) on a `@vmkit/pci` function: Vendor 0x1AF4,
 * Device 0x1040 + device ID, Revision 1, and the vendor-specific capabilities for the common,
 * notify, ISR and device configuration structures plus the PCI configuration access window, all
 * in one 64-bit memory BAR with an MSI-X table. It translates BAR accesses into
 * {@link VirtioDevice} calls; interrupts go out as MSI-X vectors when MSI-X is enabled and as
 * INTx (with the ISR) otherwise (§4.1.4.5, §4.1.5.3).
 *
 * Plug `transport.function` into a `PciSegment` and map its BARs with `mapBars`.
 *
 * @example
 * ```ts
 * const transport = new VirtioPciTransport(new VirtioDevice(new VirtioBlk(store), mem));
 * segment.hotAdd(routingId(0, 4, 0), transport.function);
 * mapBars(transport.function, mem, 'virtio-blk');
 * ```
 */
export class VirtioPciTransport {
  /** The PCI function a guest enumerates. */
  readonly function: PciFunction;
  /** The device behind it. */
  readonly device: VirtioDevice;
  /** Offsets of the capabilities in configuration space, by cfg_type. */
  readonly capabilities: Readonly<Record<keyof typeof VirtioPciCapType, number>>;
  private deviceFeatureSelect = 0;
  private driverFeatureSelect = 0;
  private queueSelect = 0;
  private configVector = VIRTIO_MSI_NO_VECTOR;
  private readonly queueVectors: number[];
  private readonly vectors: number;

  /**
   * @param device - the device to expose
   * @param options - MSI-X vector count, subsystem ID
   */
  constructor(device: VirtioDevice, options: VirtioPciOptions = {}) {
    this.device = device;
    const id = device.model.deviceId;
    this.vectors = options.msixVectors ?? device.queueCount + 1;
    this.queueVectors = Array.from({ length: device.queueCount }, () => VIRTIO_MSI_NO_VECTOR);
    const handler: MmioHandler = {
      read: (offset, size) => this.readBar(offset, size),
      write: (offset, size, value) => this.writeBar(offset, size, value),
    };
    const fn = new PciFunction({
      vendorId: VIRTIO_PCI_VENDOR_ID,
      deviceId: VIRTIO_PCI_DEVICE_ID_BASE + id,
      revisionId: 1,
      classCode: CLASS_CODES[id] ?? 0xff_00_00,
      subsystemVendorId: VIRTIO_PCI_VENDOR_ID,
      subsystemId: options.subsystemId ?? 0x1100,
      interruptPin: 1,
      bars: [
        { index: VirtioPciLayout.bar, kind: 'memory64', size: VirtioPciLayout.barSize, handler },
      ],
    });
    this.function = fn;
    const L = VirtioPciLayout;
    const notifyLength = Math.max(2, device.queueCount * L.notifyMultiplier);
    this.capabilities = {
      COMMON_CFG: this.addCap(VirtioPciCapType.COMMON_CFG, L.common, CommonCfg.size, 16),
      NOTIFY_CFG: this.addCap(VirtioPciCapType.NOTIFY_CFG, L.notify, notifyLength, 20),
      ISR_CFG: this.addCap(VirtioPciCapType.ISR_CFG, L.isr, 1, 16),
      DEVICE_CFG: this.addCap(
        VirtioPciCapType.DEVICE_CFG,
        L.device,
        Math.max(1, device.model.configSize),
        16,
      ),
      PCI_CFG: this.addPciCfgWindow(),
    };
    // struct virtio_pci_notify_cap: notify_off_multiplier follows the 16-byte header.
    fn.config.define({
      offset: this.capabilities.NOTIFY_CFG + 16,
      size: 4,
      value: L.notifyMultiplier,
    });
    fn.addMsix({
      vectors: this.vectors,
      tableBar: L.bar,
      tableOffset: L.msixTable,
      pbaBar: L.bar,
      pbaOffset: L.msixPba,
    });
    device.interruptSink = (reason, queue) => this.interrupt(reason, queue);
    fn.onReset(() => {
      this.device.reset();
      this.resetRegisters();
    });
  }

  /** The transport's own registers for a snapshot. */
  save(): PciTransportState {
    return {
      deviceFeatureSelect: this.deviceFeatureSelect,
      driverFeatureSelect: this.driverFeatureSelect,
      queueSelect: this.queueSelect,
      configVector: this.configVector,
      queueVectors: [...this.queueVectors],
    };
  }

  /** Restores {@link VirtioPciTransport.save}'s state. */
  restore(state: PciTransportState): void {
    this.deviceFeatureSelect = state.deviceFeatureSelect;
    this.driverFeatureSelect = state.driverFeatureSelect;
    this.queueSelect = state.queueSelect;
    this.configVector = this.mapVector(state.configVector);
    state.queueVectors.forEach((v, i) => {
      if (i < this.queueVectors.length) this.queueVectors[i] = this.mapVector(v);
    });
  }

  /** Adds one struct virtio_pci_cap (§4.1.4): all fields read-only. */
  private addCap(type: number, offset: number, length: number, capLen: number): number {
    const cs = this.function.config;
    const at = this.function.addCapability(PCI_CAP_ID_VNDR, capLen);
    cs.define({ offset: at + 2, size: 1, value: capLen }); // cap_len
    cs.define({ offset: at + 3, size: 1, value: type }); // cfg_type
    cs.define({ offset: at + 4, size: 1, value: VirtioPciLayout.bar }); // bar
    cs.define({ offset: at + 5, size: 1, value: 0 }); // id
    cs.define({ offset: at + 6, size: 2, value: 0 }); // padding
    cs.define({ offset: at + 8, size: 4, value: offset }); // offset
    cs.define({ offset: at + 12, size: 4, value: length }); // length
    return at;
  }

  /**
   * struct virtio_pci_cfg_cap (§4.1.4.9, PCI configuration access capability): bar, offset and length are RW and select a window into
   * a BAR; writing pci_cfg_data writes through it. `@vmkit/pci` has no read hook, so the window's
   * data is latched into pci_cfg_data whenever bar, offset or length are written (without the
   * ISR's read-to-clear side effect) instead of at the moment of the read.
   */
  private addPciCfgWindow(): number {
    const cs = this.function.config;
    const at = this.function.addCapability(PCI_CAP_ID_VNDR, 20);
    cs.define({ offset: at + 2, size: 1, value: 20 });
    cs.define({ offset: at + 3, size: 1, value: VirtioPciCapType.PCI_CFG });
    cs.define({ offset: at + 4, size: 1, writable: 0xff });
    cs.define({ offset: at + 5, size: 1 });
    cs.define({ offset: at + 6, size: 2 });
    cs.define({ offset: at + 8, size: 4, writable: 0xffff_ffff });
    cs.define({ offset: at + 12, size: 4, writable: 0xffff_ffff });
    cs.define({ offset: at + 16, size: 4, writable: 0xffff_ffff });
    const window = () => {
      const bar = cs.read(at + 4, 1);
      const offset = cs.read(at + 8, 4);
      const length = cs.read(at + 12, 4);
      const ok =
        bar === VirtioPciLayout.bar &&
        (length === 1 || length === 2 || length === 4) &&
        offset % length === 0;
      return ok ? { offset, length: length as 1 | 2 | 4 } : undefined;
    };
    cs.onWrite(at + 4, 12, () => {
      const w = window();
      const value = w === undefined ? 0 : this.peek(w.offset, w.length);
      cs.set(at + 16, 4, value);
    });
    cs.onWrite(at + 16, 4, () => {
      const w = window();
      if (w === undefined) return;
      this.writeBar(w.offset, w.length, BigInt(cs.read(at + 16, w.length)));
    });
    return at;
  }

  private peek(offset: number, size: 1 | 2 | 4): number {
    const L = VirtioPciLayout;
    if (offset >= L.isr && offset < L.isr + 0x1000) return offset === L.isr ? this.device.isr : 0;
    return Number(this.readBar(offset, size));
  }

  private readBar(offset: number, size: AccessSize): bigint {
    const L = VirtioPciLayout;
    if (offset < L.isr) return this.readCommon(offset - L.common, size);
    if (offset < L.device) {
      if (offset !== L.isr) return 0n;
      // §4.1.4.5: reading the ISR clears it and de-asserts INTx.
      const v = this.device.readAndClearIsr();
      this.function.setIntx(false);
      return BigInt(v);
    }
    if (offset < L.notify) {
      const off = offset - L.device;
      if (size === 8) {
        const lo = BigInt(this.device.readConfig(off, 4));
        return (BigInt(this.device.readConfig(off + 4, 4)) << 32n) | lo;
      }
      return BigInt(this.device.readConfig(off, size));
    }
    return 0n;
  }

  private writeBar(offset: number, size: AccessSize, value: bigint): void {
    const L = VirtioPciLayout;
    if (offset < L.isr) return this.writeCommon(offset - L.common, size, value);
    if (offset >= L.device && offset < L.notify) {
      const off = offset - L.device;
      if (size === 8) {
        this.device.writeConfig(off, 4, Number(value & 0xffff_ffffn));
        this.device.writeConfig(off + 4, 4, Number((value >> 32n) & 0xffff_ffffn));
      } else {
        this.device.writeConfig(off, size, Number(BigInt.asUintN(8 * size, value)));
      }
      return;
    }
    if (offset >= L.notify && offset < L.notify + this.device.queueCount * L.notifyMultiplier) {
      // §4.1.4.4: the address selects the queue (queue_notify_off = queue index here).
      this.device.notifyQueue(Math.floor((offset - L.notify) / L.notifyMultiplier));
    }
  }

  private readCommon(off: number, size: AccessSize): bigint {
    const d = this.device;
    const q = d.queueState(this.queueSelect);
    const C = CommonCfg;
    const area = QUEUE_AREA[off - (off % 8)];
    if (area !== undefined && off % 8 === 0 && size === 8) {
      const [lo, hi] = q?.words[area] ?? [0, 0];
      return (BigInt(hi) << 32n) | BigInt(lo);
    }
    if (area !== undefined && size === 4) return BigInt(q?.words[area][(off % 8) / 4] ?? 0);
    const field = (width: number, value: number) => (size === width ? BigInt(value >>> 0) : 0n);
    switch (off) {
      case C.deviceFeatureSelect:
        return field(4, this.deviceFeatureSelect);
      case C.deviceFeature:
        return field(4, d.readDeviceFeatures(this.deviceFeatureSelect));
      case C.driverFeatureSelect:
        return field(4, this.driverFeatureSelect);
      case C.driverFeature:
        return field(4, d.readDriverFeatures(this.driverFeatureSelect));
      case C.configMsixVector:
        return field(2, this.configVector);
      case C.numQueues:
        return field(2, d.queueCount);
      case C.deviceStatus:
        return field(1, d.status);
      case C.configGeneration:
        return field(1, d.configGeneration & 0xff);
      case C.queueSelect:
        return field(2, this.queueSelect);
      case C.queueSize:
        // §4.1.4.3: 0 for a queue that does not exist.
        return field(2, q?.size ?? 0);
      case C.queueMsixVector:
        return field(2, this.queueVectors[this.queueSelect] ?? VIRTIO_MSI_NO_VECTOR);
      case C.queueEnable:
        return field(2, q?.ready === true ? 1 : 0);
      case C.queueNotifyOff:
        return field(2, q === undefined ? 0 : this.queueSelect);
      case C.queueNotifyData:
        return field(2, q === undefined ? 0 : this.queueSelect);
      default:
        return 0n;
    }
  }

  private writeCommon(off: number, size: AccessSize, value: bigint): void {
    const d = this.device;
    const C = CommonCfg;
    const v = Number(BigInt.asUintN(32, value));
    const area = QUEUE_AREA[off - (off % 8)];
    if (area !== undefined && off % 8 === 0 && size === 8) {
      d.setQueueAddress(this.queueSelect, area, 0, v);
      d.setQueueAddress(this.queueSelect, area, 1, Number(BigInt.asUintN(64, value) >> 32n));
      return;
    }
    if (area !== undefined && size === 4) {
      return d.setQueueAddress(this.queueSelect, area, ((off % 8) / 4) as 0 | 1, v);
    }
    const is = (width: number) => size === width;
    switch (off) {
      case C.deviceFeatureSelect:
        if (is(4)) this.deviceFeatureSelect = v;
        return;
      case C.driverFeatureSelect:
        if (is(4)) this.driverFeatureSelect = v;
        return;
      case C.driverFeature:
        if (is(4)) d.writeDriverFeatures(this.driverFeatureSelect, v);
        return;
      case C.configMsixVector:
        if (is(2)) this.configVector = this.mapVector(v & 0xffff);
        return;
      case C.deviceStatus:
        if (!is(1)) return;
        d.setStatus(v & 0xff);
        if ((v & 0xff) === 0) this.resetRegisters();
        return;
      case C.queueSelect:
        if (is(2)) this.queueSelect = v & 0xffff;
        return;
      case C.queueSize:
        if (is(2)) d.setQueueSize(this.queueSelect, v & 0xffff);
        return;
      case C.queueMsixVector:
        if (is(2) && this.queueSelect < this.queueVectors.length) {
          this.queueVectors[this.queueSelect] = this.mapVector(v & 0xffff);
        }
        return;
      case C.queueEnable:
        // §4.1.4.3.2: the driver writes 1 to enable; writing 0 is not allowed and ignored.
        if (is(2) && (v & 1) === 1) d.setQueueReady(this.queueSelect, true);
        return;
      default:
        return;
    }
  }

  /** §4.1.5.1.2: a vector the device cannot use reads back as VIRTIO_MSI_NO_VECTOR. */
  private mapVector(v: number): number {
    return v < this.vectors ? v : VIRTIO_MSI_NO_VECTOR;
  }

  private interrupt(reason: 'used' | 'config', queue: number | undefined): void {
    const fn = this.function;
    if (fn.msix?.enabled) {
      const vector =
        reason === 'used'
          ? (this.queueVectors[queue ?? -1] ?? VIRTIO_MSI_NO_VECTOR)
          : this.configVector;
      if (vector !== VIRTIO_MSI_NO_VECTOR) fn.signalInterrupt(vector);
      return;
    }
    // §4.1.4.5.1: without MSI-X the INTx line is the OR of the ISR bits.
    fn.setIntx((this.device.isr & (ISR_USED | ISR_CONFIG)) !== 0);
  }

  private resetRegisters(): void {
    this.deviceFeatureSelect = 0;
    this.driverFeatureSelect = 0;
    this.queueSelect = 0;
    this.configVector = VIRTIO_MSI_NO_VECTOR;
    this.queueVectors.fill(VIRTIO_MSI_NO_VECTOR);
    this.function.setIntx(false);
  }
}
