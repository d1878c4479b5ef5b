import type { GuestMemory } from '@vmkit/memory';
import { DeviceStatus } from './constants.js';
import { MMIO_CONFIG_OFFSET, MmioRegister } from './mmio-transport.js';
import type { TransportDriver } from './transport-driver.js';

/** Where a queue's three areas are, whatever the ring format. */
export interface QueueAreas {
  /** Queue size to program. */
  readonly size: number;
  /** Descriptor Area. */
  readonly desc: number;
  /** Driver Area. */
  readonly driver: number;
  /** Device Area. */
  readonly device: number;
}

/**
 * A guest driver's view of a virtio-mmio device (virtio 1.2 §4.2.3): every access is a 32-bit
 * load or store through `GuestMemory` at the device's base address, so tests exercise the
 * transport exactly as a guest would.
 *
 * @example
 * ```ts
 * const drv = new MmioDriver(mem, 0xd000_0000);
 * drv.negotiate((offered) => offered); // §3.1.1 steps 1-6
 * drv.setupQueue(0, { size: 16, desc: 0x1000, driver: 0x1100, device: 0x1200 });
 * drv.driverOk();
 * ```
 */
export class MmioDriver implements TransportDriver {
  /**
   * @param mem - guest memory with the device mapped
   * @param base - the device's MMIO base address
   */
  constructor(
    private readonly mem: GuestMemory,
    private readonly base: number,
  ) {}

  /** Reads a control register. */
  read(register: number): number {
    return this.mem.read32(this.base + register);
  }

  /** Writes a control register. */
  write(register: number, value: number): void {
    this.mem.write32(this.base + register, value);
  }

  /** The device status register. */
  get status(): number {
    return this.read(MmioRegister.Status);
  }

  /** Writes the Status register. */
  writeStatus(value: number): void {
    this.write(MmioRegister.Status, value);
  }

  /** QueueNumMax of queue `index`. */
  queueMaxSize(index: number): number {
    this.write(MmioRegister.QueueSel, index);
    return this.read(MmioRegister.QueueNumMax);
  }

  /** QueueReady of queue `index`. */
  queueReady(index: number): boolean {
    this.write(MmioRegister.QueueSel, index);
    return this.read(MmioRegister.QueueReady) === 1;
  }

  /** The 64 offered feature bits (DeviceFeaturesSel 0 and 1). */
  deviceFeatures(): bigint {
    this.write(MmioRegister.DeviceFeaturesSel, 0);
    const lo = BigInt(this.read(MmioRegister.DeviceFeatures));
    this.write(MmioRegister.DeviceFeaturesSel, 1);
    return (BigInt(this.read(MmioRegister.DeviceFeatures)) << 32n) | lo;
  }

  /** Writes the 64 accepted feature bits. */
  writeFeatures(features: bigint): void {
    this.write(MmioRegister.DriverFeaturesSel, 0);
    this.write(MmioRegister.DriverFeatures, Number(features & 0xffff_ffffn));
    this.write(MmioRegister.DriverFeaturesSel, 1);
    this.write(MmioRegister.DriverFeatures, Number((features >> 32n) & 0xffff_ffffn));
  }

  /**
   * Steps 1-6 of §3.1.1: reset, ACKNOWLEDGE, DRIVER, read and accept features, FEATURES_OK,
   * and re-read the status to learn whether the device accepted them.
   *
   * @param choose - picks the accepted features from the offered ones
   * @returns whether FEATURES_OK stuck
   */
  negotiate(choose: (offered: bigint) => bigint): boolean {
    this.write(MmioRegister.Status, 0);
    this.write(MmioRegister.Status, DeviceStatus.ACKNOWLEDGE);
    this.write(MmioRegister.Status, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
    this.writeFeatures(choose(this.deviceFeatures()));
    this.write(
      MmioRegister.Status,
      DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK,
    );
    return (this.status & DeviceStatus.FEATURES_OK) !== 0;
  }

  /** Step 7 for one queue (§4.2.3.2): select, size, the three addresses, ready. */
  setupQueue(index: number, areas: QueueAreas): void {
    this.write(MmioRegister.QueueSel, index);
    this.write(MmioRegister.QueueNum, areas.size);
    const pairs: [number, number, number][] = [
      [MmioRegister.QueueDescLow, MmioRegister.QueueDescHigh, areas.desc],
      [MmioRegister.QueueDriverLow, MmioRegister.QueueDriverHigh, areas.driver],
      [MmioRegister.QueueDeviceLow, MmioRegister.QueueDeviceHigh, areas.device],
    ];
    for (const [lo, hi, addr] of pairs) {
      this.write(lo, addr % 2 ** 32);
      this.write(hi, Math.floor(addr / 2 ** 32));
    }
    this.write(MmioRegister.QueueReady, 1);
  }

  /** Step 8: sets DRIVER_OK. */
  driverOk(): void {
    this.write(MmioRegister.Status, this.status | DeviceStatus.DRIVER_OK);
  }

  /** Sends an available buffer notification for queue `index`. */
  notify(index: number): void {
    this.write(MmioRegister.QueueNotify, index);
  }

  /** Reads InterruptStatus and acknowledges what it read, as an interrupt handler does. */
  takeInterrupts(): number {
    const bits = this.read(MmioRegister.InterruptStatus);
    if (bits !== 0) this.write(MmioRegister.InterruptACK, bits);
    return bits;
  }

  /** Reads `size` bytes of the device configuration space at `offset`. */
  config(offset: number, size: 1 | 2 | 4): number {
    const at = this.base + MMIO_CONFIG_OFFSET + offset;
    if (size === 1) return this.mem.read8(at);
    if (size === 2) return this.mem.read16(at);
    return this.mem.read32(at);
  }
}
