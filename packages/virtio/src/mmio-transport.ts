import type { AccessSize, MmioHandler } from '@vmkit/memory';
import type { QueueArea, VirtioDevice } from './device.js';

/** "virt" in little-endian: the MagicValue register (§4.2.2). */
export const MMIO_MAGIC = 0x7472_6976;
/** The Version register value of a non-legacy virtio-mmio device (§4.2.2). */
export const MMIO_VERSION = 2;
/** Offset where the device-specific configuration space starts (§4.2.2 Config). */
export const MMIO_CONFIG_OFFSET = 0x100;

/** Offsets of the virtio-mmio control registers, the table in virtio 1.2 §4.2.2. */
export const MmioRegister = {
  /** R: 0x74726976. */
  MagicValue: 0x000,
  /** R: 0x2. */
  Version: 0x004,
  /** R: virtio device ID. */
  DeviceID: 0x008,
  /** R: subsystem vendor ID. */
  VendorID: 0x00c,
  /** R: 32 feature bits selected by DeviceFeaturesSel. */
  DeviceFeatures: 0x010,
  /** W: device feature word selection. */
  DeviceFeaturesSel: 0x014,
  /** W: 32 accepted feature bits selected by DriverFeaturesSel. */
  DriverFeatures: 0x020,
  /** W: driver feature word selection. */
  DriverFeaturesSel: 0x024,
  /** W: queue selection. */
  QueueSel: 0x030,
  /** R: maximum size of the selected queue, 0 if absent. */
  QueueNumMax: 0x034,
  /** W: size of the selected queue. */
  QueueNum: 0x038,
  /** RW: the selected queue is enabled. */
  QueueReady: 0x044,
  /** W: available buffer notification (queue index). */
  QueueNotify: 0x050,
  /** R: bit 0 used buffer, bit 1 configuration change. */
  InterruptStatus: 0x060,
  /** W: acknowledges InterruptStatus bits. */
  InterruptACK: 0x064,
  /** RW: device status; 0 resets. */
  Status: 0x070,
  /** W: Descriptor Area address, low 32 bits. */
  QueueDescLow: 0x080,
  /** W: Descriptor Area address, high 32 bits. */
  QueueDescHigh: 0x084,
  /** W: Driver Area address, low 32 bits. */
  QueueDriverLow: 0x090,
  /** W: Driver Area address, high 32 bits. */
  QueueDriverHigh: 0x094,
  /** W: Device Area address, low 32 bits. */
  QueueDeviceLow: 0x0a0,
  /** W: Device Area address, high 32 bits. */
  QueueDeviceHigh: 0x0a4,
  /** W: shared memory region selection. */
  SHMSel: 0x0ac,
  /** R: shared memory region length, low 32 bits (-1: no such region). */
  SHMLenLow: 0x0b0,
  /** R: shared memory region length, high 32 bits. */
  SHMLenHigh: 0x0b4,
  /** R: shared memory region base, low 32 bits (-1: no such region). */
  SHMBaseLow: 0x0b8,
  /** R: shared memory region base, high 32 bits. */
  SHMBaseHigh: 0x0bc,
  /** RW: queue reset (only with VIRTIO_F_RING_RESET, which is not offered). */
  QueueReset: 0x0c0,
  /** R: configuration atomicity value. */
  ConfigGeneration: 0x0fc,
} as const;

/** The selector registers of a {@link VirtioMmioTransport}, as saved. */
export interface MmioTransportState {
  /** DeviceFeaturesSel. */
  readonly deviceFeaturesSel: number;
  /** DriverFeaturesSel. */
  readonly driverFeaturesSel: number;
  /** QueueSel. */
  readonly queueSel: number;
}

/** Options of a {@link VirtioMmioTransport}. */
export interface VirtioMmioOptions {
  /** VendorID register value; defaults to 0x1AF4. */
  readonly vendorId?: number;
  /** Drives the interrupt line: called with the new level whenever InterruptStatus changes. */
  readonly onInterrupt?: (level: boolean) => void;
}

const ADDRESS_REGISTERS: Readonly<Record<number, readonly [QueueArea, 0 | 1]>> = {
  [MmioRegister.QueueDescLow]: ['desc', 0],
  [MmioRegister.QueueDescHigh]: ['desc', 1],
  [MmioRegister.QueueDriverLow]: ['driver', 0],
  [MmioRegister.QueueDriverHigh]: ['driver', 1],
  [MmioRegister.QueueDeviceLow]: ['device', 0],
  [MmioRegister.QueueDeviceHigh]: ['device', 1],
};

/**
 * The virtio-mmio transport, version 2 register layout (virtio 1.2 §4.2), as an `MmioHandler` to
 * map into `@vmkit/memory`. It only translates register accesses into {@link VirtioDevice} calls
 * and drives a level-triggered interrupt line from InterruptStatus.
 *
 * Control registers take 32-bit aligned accesses only (§4.2.2.2); other widths read 0 and
 * writes are dropped, as are writes to read-only registers; reads of write-only registers return
 * 0. The configuration space at 0x100 takes 8-, 16- and 32-bit accesses (64-bit fields are read
 * as two 32-bit halves, §4.2.2.2).
 *
 * @example
 * ```ts
 * const transport = new VirtioMmioTransport(device, { onInterrupt: (level) => irq.set(level) });
 * mem.addMmio({ base: 0xd000_0000, size: 0x200, handler: transport });
 * mem.read32(0xd000_0000); // 0x74726976
 * ```
 */
export class VirtioMmioTransport implements MmioHandler {
  /** The device behind the registers. */
  readonly device: VirtioDevice;
  private readonly vendorId: number;
  private readonly onInterrupt: ((level: boolean) => void) | undefined;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private queueSel = 0;
  private level = false;

  /**
   * @param device - the device to expose
   * @param options - vendor ID and interrupt line
   */
  constructor(device: VirtioDevice, options: VirtioMmioOptions = {}) {
    this.device = device;
    this.vendorId = options.vendorId ?? 0x1af4;
    this.onInterrupt = options.onInterrupt;
    device.interruptSink = () => this.updateLine();
  }

  /** The current level of the interrupt line (InterruptStatus != 0). */
  get interruptLevel(): boolean {
    return this.level;
  }

  /** The transport's own registers for a snapshot (the device is saved separately). */
  save(): MmioTransportState {
    return {
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      queueSel: this.queueSel,
    };
  }

  /** Restores {@link VirtioMmioTransport.save}'s state and the interrupt line level. */
  restore(state: MmioTransportState): void {
    this.deviceFeaturesSel = state.deviceFeaturesSel;
    this.driverFeaturesSel = state.driverFeaturesSel;
    this.queueSel = state.queueSel;
    this.updateLine();
  }

  read(offset: number, size: AccessSize): bigint {
    if (offset >= MMIO_CONFIG_OFFSET) return this.readConfig(offset - MMIO_CONFIG_OFFSET, size);
    if (size !== 4 || offset % 4 !== 0) return 0n;
    return BigInt(this.readRegister(offset) >>> 0);
  }

  write(offset: number, size: AccessSize, value: bigint): void {
    if (offset >= MMIO_CONFIG_OFFSET) {
      this.writeConfig(offset - MMIO_CONFIG_OFFSET, size, value);
      return;
    }
    if (size !== 4 || offset % 4 !== 0) return;
    this.writeRegister(offset, Number(BigInt.asUintN(32, value)));
    this.updateLine();
  }

  private readRegister(offset: number): number {
    const d = this.device;
    const q = d.queueState(this.queueSel);
    switch (offset) {
      case MmioRegister.MagicValue:
        return MMIO_MAGIC;
      case MmioRegister.Version:
        return MMIO_VERSION;
      case MmioRegister.DeviceID:
        return d.model.deviceId;
      case MmioRegister.VendorID:
        return this.vendorId;
      case MmioRegister.DeviceFeatures:
        return d.readDeviceFeatures(this.deviceFeaturesSel);
      case MmioRegister.QueueNumMax:
        return d.queueMaxSize(this.queueSel);
      case MmioRegister.QueueReady:
        return q?.ready === true ? 1 : 0;
      case MmioRegister.InterruptStatus:
        return d.isr;
      case MmioRegister.Status:
        return d.status;
      case MmioRegister.SHMLenLow:
      case MmioRegister.SHMLenHigh:
      case MmioRegister.SHMBaseLow:
      case MmioRegister.SHMBaseHigh:
        // No shared memory regions: length and base read as -1 (§4.2.2).
        return 0xffff_ffff;
      case MmioRegister.ConfigGeneration:
        return d.configGeneration;
      default:
        return 0;
    }
  }

  private writeRegister(offset: number, v: number): void {
    const d = this.device;
    const area = ADDRESS_REGISTERS[offset];
    if (area !== undefined) return d.setQueueAddress(this.queueSel, area[0], area[1], v);
    switch (offset) {
      case MmioRegister.DeviceFeaturesSel:
        this.deviceFeaturesSel = v;
        return;
      case MmioRegister.DriverFeatures:
        return d.writeDriverFeatures(this.driverFeaturesSel, v);
      case MmioRegister.DriverFeaturesSel:
        this.driverFeaturesSel = v;
        return;
      case MmioRegister.QueueSel:
        this.queueSel = v;
        return;
      case MmioRegister.QueueNum:
        return d.setQueueSize(this.queueSel, v);
      case MmioRegister.QueueReady:
        return d.setQueueReady(this.queueSel, (v & 1) === 1);
      case MmioRegister.QueueNotify:
        // Without VIRTIO_F_NOTIFICATION_DATA the value is the queue index (§4.2.2).
        return d.notifyQueue(v & 0xffff);
      case MmioRegister.InterruptACK:
        return d.acknowledgeInterrupt(v);
      case MmioRegister.Status:
        d.setStatus(v);
        if (v === 0) {
          this.queueSel = 0;
          this.deviceFeaturesSel = 0;
          this.driverFeaturesSel = 0;
        }
        return;
      default:
        return;
    }
  }

  private readConfig(offset: number, size: AccessSize): bigint {
    if (size === 8) {
      const lo = BigInt(this.device.readConfig(offset, 4));
      return (BigInt(this.device.readConfig(offset + 4, 4)) << 32n) | lo;
    }
    return BigInt(this.device.readConfig(offset, size));
  }

  private writeConfig(offset: number, size: AccessSize, value: bigint): void {
    if (size === 8) {
      this.device.writeConfig(offset, 4, Number(value & 0xffff_ffffn));
      this.device.writeConfig(offset + 4, 4, Number((value >> 32n) & 0xffff_ffffn));
      return;
    }
    this.device.writeConfig(offset, size, Number(BigInt.asUintN(8 * size, value)));
  }

  private updateLine(): void {
    const level = this.device.isr !== 0;
    if (level === this.level) return;
    this.level = level;
    this.onInterrupt?.(level);
  }
}
