import type { GuestMemory } from '@vmkit/memory';
import { DeviceStatus } from './constants.js';
import type { QueueAreas } from './mmio-driver.js';
import { CommonCfg, VirtioPciCapType } from './pci-transport.js';
import type { TransportDriver } from './transport-driver.js';

/**
 * A guest driver's view of a virtio-pci modern device (virtio 1.2 §4.1): it finds the virtio
 * capabilities in configuration space, programs BAR 0, enables memory decode and bus mastering,
 * and then works through the common configuration, notify and ISR structures with ordinary
 * loads and stores, as a guest would. Interrupts are taken from the ISR (INTx mode).
 *
 * @example
 * ```ts
 * const drv = PciDriver.probe(mem, ecamBase + (4 << 15), 0xfe00_0000);
 * drv.negotiate((offered) => offered);
 * ```
 */
export class PciDriver implements TransportDriver {
  private constructor(
    private readonly mem: GuestMemory,
    private readonly common: number,
    private readonly notifyBase: number,
    private readonly notifyMultiplier: number,
    private readonly isr: number,
    private readonly device: number,
  ) {}

  /**
   * Enumerates the function whose configuration space is at `cfg` (e.g. through ECAM), maps its
   * 64-bit BAR 0 at `barBase` and locates the virtio structures (§4.1.4).
   *
   * @param mem - guest memory with the configuration space and the BAR reachable
   * @param cfg - guest-physical address of the function's configuration space
   * @param barBase - where to program BAR 0
   * @returns the driver
   */
  static probe(mem: GuestMemory, cfg: number, barBase: number): PciDriver {
    mem.write32(cfg + 0x10, barBase % 2 ** 32);
    mem.write32(cfg + 0x14, Math.floor(barBase / 2 ** 32));
    mem.write16(cfg + 0x04, 0x0006); // Memory Space + Bus Master
    const found = new Map<number, number>();
    let multiplier = 0;
    let ptr = (mem.read16(cfg + 0x06) & 0x10) !== 0 ? mem.read8(cfg + 0x34) & 0xfc : 0;
    for (let guard = 0; ptr >= 0x40 && guard < 48; guard++) {
      if (mem.read8(cfg + ptr) === 0x09) {
        const type = mem.read8(cfg + ptr + 3);
        if (!found.has(type) && mem.read8(cfg + ptr + 4) === 0) {
          found.set(type, barBase + mem.read32(cfg + ptr + 8));
          if (type === VirtioPciCapType.NOTIFY_CFG) multiplier = mem.read32(cfg + ptr + 16);
        }
      }
      ptr = mem.read8(cfg + ptr + 1) & 0xfc;
    }
    const at = (type: number) => found.get(type) ?? barBase;
    return new PciDriver(
      mem,
      at(VirtioPciCapType.COMMON_CFG),
      at(VirtioPciCapType.NOTIFY_CFG),
      multiplier,
      at(VirtioPciCapType.ISR_CFG),
      at(VirtioPciCapType.DEVICE_CFG),
    );
  }

  get status(): number {
    return this.mem.read8(this.common + CommonCfg.deviceStatus);
  }

  writeStatus(value: number): void {
    this.mem.write8(this.common + CommonCfg.deviceStatus, value);
  }

  deviceFeatures(): bigint {
    const c = this.common;
    this.mem.write32(c + CommonCfg.deviceFeatureSelect, 0);
    const lo = BigInt(this.mem.read32(c + CommonCfg.deviceFeature));
    this.mem.write32(c + CommonCfg.deviceFeatureSelect, 1);
    return (BigInt(this.mem.read32(c + CommonCfg.deviceFeature)) << 32n) | lo;
  }

  writeFeatures(features: bigint): void {
    const c = this.common;
    this.mem.write32(c + CommonCfg.driverFeatureSelect, 0);
    this.mem.write32(c + CommonCfg.driverFeature, Number(features & 0xffff_ffffn));
    this.mem.write32(c + CommonCfg.driverFeatureSelect, 1);
    this.mem.write32(c + CommonCfg.driverFeature, Number((features >> 32n) & 0xffff_ffffn));
  }

  negotiate(choose: (offered: bigint) => bigint): boolean {
    this.writeStatus(0);
    this.writeStatus(DeviceStatus.ACKNOWLEDGE);
    this.writeStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
    this.writeFeatures(choose(this.deviceFeatures()));
    this.writeStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
    return (this.status & DeviceStatus.FEATURES_OK) !== 0;
  }

  queueMaxSize(index: number): number {
    // queue_size reads the maximum until the driver changes it (§4.1.4.3); probe after a reset.
    this.mem.write16(this.common + CommonCfg.queueSelect, index);
    return this.mem.read16(this.common + CommonCfg.queueSize);
  }

  queueReady(index: number): boolean {
    this.mem.write16(this.common + CommonCfg.queueSelect, index);
    return this.mem.read16(this.common + CommonCfg.queueEnable) === 1;
  }

  setupQueue(index: number, areas: QueueAreas): void {
    const c = this.common;
    this.mem.write16(c + CommonCfg.queueSelect, index);
    this.mem.write16(c + CommonCfg.queueSize, areas.size);
    for (const [field, addr] of [
      [CommonCfg.queueDesc, areas.desc],
      [CommonCfg.queueDriver, areas.driver],
      [CommonCfg.queueDevice, areas.device],
    ] as const) {
      this.mem.write32(c + field, addr % 2 ** 32);
      this.mem.write32(c + field + 4, Math.floor(addr / 2 ** 32));
    }
    this.mem.write16(c + CommonCfg.queueEnable, 1);
  }

  driverOk(): void {
    this.writeStatus(this.status | DeviceStatus.DRIVER_OK);
  }

  notify(index: number): void {
    this.mem.write16(this.common + CommonCfg.queueSelect, index);
    const off = this.mem.read16(this.common + CommonCfg.queueNotifyOff);
    this.mem.write16(this.notifyBase + off * this.notifyMultiplier, index);
  }

  takeInterrupts(): number {
    return this.mem.read8(this.isr);
  }

  config(offset: number, size: 1 | 2 | 4): number {
    const at = this.device + offset;
    if (size === 1) return this.mem.read8(at);
    if (size === 2) return this.mem.read16(at);
    return this.mem.read32(at);
  }
}
