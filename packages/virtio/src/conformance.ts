import { GuestPhysicalMemory } from '@vmkit/memory';
import { Ecam, mapBars, PciSegment, routingId } from '@vmkit/pci';
import { describe, expect, it } from 'vitest';
import { DeviceStatus, FeatureBit, featureMask, hasFeature } from './constants.js';
import { VirtioDevice } from './device.js';
import type { VirtioDeviceModel } from './device-model.js';
import { MmioDriver } from './mmio-driver.js';
import { MmioRegister, VirtioMmioTransport } from './mmio-transport.js';
import { PackedQueueDriver } from './packed-driver.js';
import { PciDriver } from './pci-driver.js';
import {
  VIRTIO_PCI_DEVICE_ID_BASE,
  VIRTIO_PCI_VENDOR_ID,
  VirtioPciTransport,
} from './pci-transport.js';
import { SplitQueueDriver } from './split-driver.js';
import type { TransportDriver } from './transport-driver.js';

/** What the conformance suite needs to know about a device type. */
export interface VirtioDeviceFixture {
  /** Makes a fresh, unconnected device model. */
  readonly create: () => VirtioDeviceModel;
  /**
   * Queues the device pops as soon as the driver notifies them (request queues, TX queues);
   * a malformed chain on these must put the device into DEVICE_NEEDS_RESET.
   */
  readonly consumesOnNotify: readonly number[];
}

const MMIO_BASE = 0x1000_0000;
const ECAM_BASE = 0xe000_0000;
const BAR_BASE = 0xfe00_0000;

interface Rig {
  readonly mem: GuestPhysicalMemory;
  readonly model: VirtioDeviceModel;
  readonly device: VirtioDevice;
  readonly driver: TransportDriver;
  /** Interrupt line levels, in order. */
  readonly lines: boolean[];
  /** Transport-specific identification checks. */
  readonly identify: () => void;
}

function mmioRig(fixture: VirtioDeviceFixture): Rig {
  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 4 * 2 ** 20 }] });
  const model = fixture.create();
  const device = new VirtioDevice(model, mem);
  const lines: boolean[] = [];
  const transport = new VirtioMmioTransport(device, { onInterrupt: (level) => lines.push(level) });
  mem.addMmio({ name: 'virtio', base: MMIO_BASE, size: 0x1000, handler: transport });
  const driver = new MmioDriver(mem, MMIO_BASE);
  const identify = () => {
    expect(driver.read(MmioRegister.MagicValue)).toBe(0x74726976);
    expect(driver.read(MmioRegister.Version)).toBe(2);
    expect(driver.read(MmioRegister.DeviceID)).toBe(model.deviceId);
  };
  return { mem, model, device, driver, lines, identify };
}

function pciRig(fixture: VirtioDeviceFixture): Rig {
  const segment = new PciSegment();
  const ecam = new Ecam(segment, { endBus: 0 });
  const mem = new GuestPhysicalMemory({
    ram: [{ base: 0, size: 4 * 2 ** 20 }],
    mmio: [{ name: 'ecam', base: ECAM_BASE, size: ecam.size, handler: ecam }],
  });
  const model = fixture.create();
  const device = new VirtioDevice(model, mem);
  const transport = new VirtioPciTransport(device);
  const lines: boolean[] = [];
  transport.function.connectInterrupts({
    deliverMsi: () => {},
    setIntx: (_rid, _pin, level) => void lines.push(level),
  });
  segment.hotAdd(routingId(0, 2, 0), transport.function);
  mapBars(transport.function, mem, 'virtio');
  const cfg = ECAM_BASE + (2 << 15);
  const driver = PciDriver.probe(mem, cfg, BAR_BASE);
  const identify = () => {
    expect(mem.read16(cfg)).toBe(VIRTIO_PCI_VENDOR_ID);
    expect(mem.read16(cfg + 2)).toBe(VIRTIO_PCI_DEVICE_ID_BASE + model.deviceId);
    expect(mem.read8(cfg + 8)).toBeGreaterThanOrEqual(1);
  };
  return { mem, model, device, driver, lines, identify };
}

/** Queue `i` gets 64 KiB at 1 MiB + i * 64 KiB. */
function queueBase(i: number): number {
  return 2 ** 20 + i * 0x1_0000;
}

/**
 * The conformance suite every virtio device model must pass, run through both the virtio-mmio
 * and the virtio-pci transport as a guest would drive them: identification, the initialization
 * sequence of §3.1.1, feature negotiation with the FEATURES_OK re-read, refused status writes,
 * queue limits, reset (§2.4), and the error state on malformed split and packed chains
 * (§2.1.2). Call it from the device's test file.
 *
 * @param name - the device name, used in the describe block
 * @param fixture - how to make the device and which queues it consumes on notify
 */
export function describeVirtioDevice(name: string, fixture: VirtioDeviceFixture): void {
  for (const [transport, rig] of [
    ['mmio', mmioRig],
    ['pci', pciRig],
  ] as const) {
    describe(`virtio device conformance: ${name} over ${transport}`, () => {
      it('identifies itself (§4.2.2 MagicValue/Version/DeviceID, §4.1.2 PCI IDs)', () => {
        const r = rig(fixture);
        r.identify();
        expect(r.model.deviceId).toBeGreaterThan(0);
      });

      it('offers VERSION_1 and reaches DRIVER_OK through the §3.1.1 sequence', () => {
        const { driver, device } = rig(fixture);
        expect(hasFeature(driver.deviceFeatures(), FeatureBit.VERSION_1)).toBe(true);
        expect(driver.negotiate((offered) => offered)).toBe(true);
        driver.driverOk();
        expect(driver.status).toBe(
          DeviceStatus.ACKNOWLEDGE |
            DeviceStatus.DRIVER |
            DeviceStatus.FEATURES_OK |
            DeviceStatus.DRIVER_OK,
        );
        expect(device.driverFeatures).toBe(device.offeredFeatures);
      });

      it('leaves FEATURES_OK clear for features it did not offer or without VERSION_1', () => {
        const { driver } = rig(fixture);
        const offered = driver.deviceFeatures();
        let stranger = 0;
        while (hasFeature(offered, stranger)) stranger++;
        expect(driver.negotiate((o) => o | featureMask(stranger))).toBe(false);
        expect(driver.negotiate((o) => o & ~featureMask(FeatureBit.VERSION_1))).toBe(false);
        expect(driver.negotiate((o) => o)).toBe(true);
      });

      it('refuses status writes that skip a step or clear a bit', () => {
        const { driver, device } = rig(fixture);
        driver.writeStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER_OK);
        expect(driver.status).toBe(0);
        driver.writeStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        driver.writeStatus(DeviceStatus.ACKNOWLEDGE);
        expect(driver.status).toBe(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        expect(device.refusedStatusWrites).toBe(2);
      });

      it('reports queue maxima in [1, 32768] and 0 past the last queue', () => {
        const { driver, model } = rig(fixture);
        model.queueMaxSizes.forEach((max, i) => {
          expect(driver.queueMaxSize(i)).toBe(max);
          expect(max).toBeGreaterThanOrEqual(1);
          expect(max).toBeLessThanOrEqual(32768);
        });
        expect(driver.queueMaxSize(model.queueMaxSizes.length)).toBe(0);
      });

      for (const packed of [false, true]) {
        const ring = packed ? 'packed' : 'split';
        it(`enters DEVICE_NEEDS_RESET on a malformed ${ring} chain, never throwing (§2.1.2)`, () => {
          for (const q of fixture.consumesOnNotify) {
            const { mem, driver, device, lines } = rig(fixture);
            expect(
              driver.negotiate((o) => (packed ? o : o & ~featureMask(FeatureBit.RING_PACKED))),
            ).toBe(true);
            const size = Math.min(8, device.queueMaxSize(q));
            const base = queueBase(q);
            if (packed) {
              const d = new PackedQueueDriver(mem, PackedQueueDriver.layoutAt(base, size));
              // A list whose last descriptor names a Buffer ID beyond the queue.
              d.writeDescriptor(0, {
                addr: 0x8000,
                len: 64,
                id: 0xffff,
                flags: d.availFlags() | 2,
              });
              const l = d.layout;
              driver.setupQueue(q, {
                size,
                desc: l.descRing,
                driver: l.driverEvent,
                device: l.deviceEvent,
              });
            } else {
              const d = new SplitQueueDriver(mem, SplitQueueDriver.layoutAt(base, size));
              d.writeDescriptor(0, { addr: 0x8000, len: 64, flags: 1, next: 0 }); // a loop
              d.pushHead(0);
              d.publish();
              const l = d.layout;
              driver.setupQueue(q, {
                size,
                desc: l.descTable,
                driver: l.availRing,
                device: l.usedRing,
              });
            }
            driver.driverOk();
            expect(() => driver.notify(q)).not.toThrow();
            expect(driver.status & DeviceStatus.DEVICE_NEEDS_RESET).toBe(
              DeviceStatus.DEVICE_NEEDS_RESET,
            );
            expect(lines.at(-1)).toBe(true);
            expect(driver.takeInterrupts() & 2).toBe(2); // configuration change notification
            expect(device.error).toBeDefined();
            expect(() => driver.notify(q)).not.toThrow();
            driver.writeStatus(0);
            expect(driver.status).toBe(0);
            expect(driver.takeInterrupts()).toBe(0);
            expect(lines.at(-1)).toBe(false);
          }
        });
      }

      it('enters DEVICE_NEEDS_RESET at DRIVER_OK for a misaligned or unmapped queue', () => {
        for (const desc of [0x1008, 0x7000_0000]) {
          const { driver } = rig(fixture);
          driver.negotiate((o) => o & ~featureMask(FeatureBit.RING_PACKED));
          driver.setupQueue(0, { size: 1, desc, driver: 0x2000, device: 0x3000 });
          driver.driverOk();
          expect(driver.status & DeviceStatus.DEVICE_NEEDS_RESET).toBe(
            DeviceStatus.DEVICE_NEEDS_RESET,
          );
        }
      });

      it('reset clears status, features, queues and interrupts (§2.4)', () => {
        const { driver, device } = rig(fixture);
        driver.negotiate((o) => o);
        driver.setupQueue(0, { size: 1, desc: 0x1000, driver: 0x2000, device: 0x3000 });
        driver.driverOk();
        expect(driver.queueReady(0)).toBe(true);
        driver.writeStatus(0);
        expect(driver.status).toBe(0);
        expect(device.driverFeatures).toBe(0n);
        expect(driver.queueReady(0)).toBe(false);
        expect(device.queueState(0)?.size).toBe(device.queueMaxSize(0));
      });

      it('ignores notifications before DRIVER_OK and for queues that do not exist', () => {
        const { driver, device } = rig(fixture);
        expect(() => driver.notify(0)).not.toThrow();
        driver.negotiate((o) => o);
        driver.driverOk();
        expect(() => driver.notify(device.queueCount + 5)).not.toThrow();
        expect(driver.status & DeviceStatus.DEVICE_NEEDS_RESET).toBe(0);
      });

      it('serves its configuration space', () => {
        const { driver, model, device } = rig(fixture);
        for (let off = 0; off + 4 <= model.configSize; off += 4) {
          expect(driver.config(off, 4)).toBe(device.readConfig(off, 4));
        }
        expect(device.readConfig(model.configSize + 64, 4)).toBe(0);
      });
    });
  }
}
