import { GuestPhysicalMemory } from '@vmkit/memory';
import {
  Ecam,
  type InterruptSink,
  listCapabilities,
  type MsiMessage,
  mapBars,
  PciSegment,
  routingId,
} from '@vmkit/pci';
import { describe, expect, it } from 'vitest';
import {
  BlkRequestType,
  BlkStatus,
  CommonCfg,
  DeviceStatus,
  FeatureBit,
  featureMask,
  MemoryBlockStore,
  VIRTIO_MSI_NO_VECTOR,
  VirtioBlk,
  VirtioDevice,
  VirtioNet,
  VirtioPciCapType,
  VirtioPciTransport,
} from '../src/index.js';
import { SplitQueueDriver } from '../src/testing.js';

/** §4.1.4 struct virtio_pci_cap, transcribed: field, offset, width. */
const VIRTIO_PCI_CAP = [
  ['cap_vndr', 0, 1],
  ['cap_next', 1, 1],
  ['cap_len', 2, 1],
  ['cfg_type', 3, 1],
  ['bar', 4, 1],
  ['id', 5, 1],
  ['offset', 8, 4],
  ['length', 12, 4],
] as const;

/** §4.1.4.3 struct virtio_pci_common_cfg, transcribed. */
const COMMON_CFG = {
  device_feature_select: 0x00,
  device_feature: 0x04,
  driver_feature_select: 0x08,
  driver_feature: 0x0c,
  config_msix_vector: 0x10,
  num_queues: 0x12,
  device_status: 0x14,
  config_generation: 0x15,
  queue_select: 0x16,
  queue_size: 0x18,
  queue_msix_vector: 0x1a,
  queue_enable: 0x1c,
  queue_notify_off: 0x1e,
  queue_desc: 0x20,
  queue_driver: 0x28,
  queue_device: 0x30,
  queue_notify_data: 0x38,
  queue_reset: 0x3a,
} as const;

const ECAM_BASE = 0xe000_0000;
const BAR_BASE = 0xfe00_0000;

function machine(model: VirtioBlk | VirtioNet) {
  const segment = new PciSegment();
  const ecam = new Ecam(segment, { endBus: 0 });
  const mem = new GuestPhysicalMemory({
    ram: [{ base: 0, size: 16 * 2 ** 20 }],
    mmio: [{ name: 'ecam', base: ECAM_BASE, size: ecam.size, handler: ecam }],
  });
  const msis: MsiMessage[] = [];
  const intx: boolean[] = [];
  const sink: InterruptSink = {
    deliverMsi: (m) => void msis.push(m),
    setIntx: (_rid, _pin, level) => void intx.push(level),
  };
  const device = new VirtioDevice(model, mem);
  const transport = new VirtioPciTransport(device);
  transport.function.connectInterrupts(sink);
  segment.hotAdd(routingId(0, 4, 0), transport.function);
  mapBars(transport.function, mem, 'virtio');
  const cfg = ECAM_BASE + (4 << 15);
  return { mem, device, transport, cfg, msis, intx };
}

/** What a guest driver finds by walking the capability list (§4.1.4). */
function discover(mem: GuestPhysicalMemory, cfg: number) {
  const caps = listCapabilities((o, s) =>
    s === 1 ? mem.read8(cfg + o) : s === 2 ? mem.read16(cfg + o) : mem.read32(cfg + o),
  );
  const found = new Map<number, { at: number; bar: number; offset: number; length: number }>();
  for (const c of caps) {
    if (c.id !== 0x09) continue;
    const field = (name: string) => {
      const [, off, width] = VIRTIO_PCI_CAP.find((f) => f[0] === name)!;
      return width === 1 ? mem.read8(cfg + c.offset + off) : mem.read32(cfg + c.offset + off);
    };
    const type = field('cfg_type');
    if (!found.has(type)) {
      found.set(type, {
        at: c.offset,
        bar: field('bar'),
        offset: field('offset'),
        length: field('length'),
      });
    }
  }
  return found;
}

describe('virtio-pci modern transport (virtio 1.2 §4.1)', () => {
  it('identifies as 1AF4:1040+id, revision 1, with the five capabilities', () => {
    const { mem, cfg } = machine(new VirtioBlk(new MemoryBlockStore(64)));
    expect(mem.read16(cfg)).toBe(0x1af4);
    expect(mem.read16(cfg + 2)).toBe(0x1040 + 2);
    expect(mem.read8(cfg + 8)).toBe(1);
    expect(mem.read16(cfg + 0x2c)).toBe(0x1af4);
    expect(mem.read16(cfg + 0x2e)).toBeGreaterThanOrEqual(0x40);
    const caps = discover(mem, cfg);
    expect([...caps.keys()].sort()).toEqual([1, 2, 3, 4, 5]);
    expect(caps.get(VirtioPciCapType.COMMON_CFG)!.length).toBeGreaterThanOrEqual(0x38);
    expect(mem.read8(cfg + caps.get(VirtioPciCapType.NOTIFY_CFG)!.at + 2)).toBe(20); // cap_len
    expect(mem.read32(cfg + caps.get(VirtioPciCapType.NOTIFY_CFG)!.at + 16)).toBe(4); // multiplier
    expect(
      Object.entries(COMMON_CFG).every(
        ([k, v]) => (CommonCfg as Record<string, number>)[camel(k)] === v,
      ),
    ).toBe(true);
  });

  for (const msix of [true, false]) {
    it(`initializes, runs a virtio-blk request and interrupts via ${msix ? 'MSI-X' : 'INTx + ISR'}`, () => {
      const store = new MemoryBlockStore(64);
      store.write(3, new Uint8Array(512).fill(0x42));
      const { mem, cfg, msis, intx, device } = machine(new VirtioBlk(store));
      const caps = discover(mem, cfg);
      // Program BAR0 (64-bit) and enable memory decode + bus mastering.
      mem.write32(cfg + 0x10, BAR_BASE);
      mem.write32(cfg + 0x14, 0);
      mem.write16(cfg + 0x04, 0x0006);
      const common = BAR_BASE + caps.get(VirtioPciCapType.COMMON_CFG)!.offset;
      const c = COMMON_CFG;
      // §3.1.1 through the common configuration structure.
      mem.write8(common + c.device_status, 0);
      mem.write8(common + c.device_status, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
      mem.write32(common + c.device_feature_select, 1);
      const hi = mem.read32(common + c.device_feature);
      expect(hi & 1).toBe(1); // VERSION_1 is bit 32
      mem.write32(common + c.driver_feature_select, 1);
      mem.write32(common + c.driver_feature, 1);
      mem.write32(common + c.driver_feature_select, 0);
      mem.write32(common + c.driver_feature, 0);
      mem.write8(common + c.device_status, 0x0b);
      expect(mem.read8(common + c.device_status)).toBe(0x0b);
      expect(mem.read16(common + c.num_queues)).toBe(1);
      const layout = SplitQueueDriver.layoutAt(0x1000, 8);
      const driver = new SplitQueueDriver(mem, layout);
      mem.write16(common + c.queue_select, 0);
      expect(mem.read16(common + c.queue_size)).toBe(256);
      mem.write16(common + c.queue_size, 8);
      mem.write32(common + c.queue_desc, layout.descTable);
      mem.write32(common + c.queue_desc + 4, 0);
      mem.write64(common + c.queue_driver, BigInt(layout.availRing));
      mem.write64(common + c.queue_device, BigInt(layout.usedRing));
      if (msix) {
        mem.write16(common + c.queue_msix_vector, 0);
        expect(mem.read16(common + c.queue_msix_vector)).toBe(0);
        mem.write16(common + c.config_msix_vector, 99); // no such vector
        expect(mem.read16(common + c.config_msix_vector)).toBe(VIRTIO_MSI_NO_VECTOR);
        // MSI-X table entry 0 in BAR0, then MSI-X Enable.
        mem.write32(BAR_BASE + 0x4000, 0xfee0_0000);
        mem.write32(BAR_BASE + 0x4008, 0x51);
        mem.write32(BAR_BASE + 0x400c, 0);
        const cap = listCapabilities((o, s) =>
          s === 1 ? mem.read8(cfg + o) : mem.read16(cfg + o),
        ).find((x) => x.id === 0x11)!;
        mem.write16(cfg + cap.offset + 2, 0x8000);
      }
      mem.write16(common + c.queue_enable, 1);
      expect(mem.read16(common + c.queue_enable)).toBe(1);
      const notifyOff = mem.read16(common + c.queue_notify_off);
      mem.write8(common + c.device_status, 0x0f);
      // A read of sector 3.
      mem.write32(0x8000, BlkRequestType.IN);
      mem.write32(0x8008, 3);
      driver.add(
        [{ addr: 0x8000, len: 16 }],
        [
          { addr: 0x9000, len: 512 },
          { addr: 0xa000, len: 1 },
        ],
      );
      driver.kick();
      const notify = BAR_BASE + caps.get(VirtioPciCapType.NOTIFY_CFG)!.offset;
      mem.write16(notify + notifyOff * 4, 0);
      expect(driver.reclaim()).toEqual([{ id: 0, len: 513 }]);
      expect(mem.read8(0xa000)).toBe(BlkStatus.OK);
      expect(mem.read8(0x9000 + 511)).toBe(0x42);
      const isr = BAR_BASE + caps.get(VirtioPciCapType.ISR_CFG)!.offset;
      if (msix) {
        expect(msis).toEqual([
          { addressLow: 0xfee0_0000, addressHigh: 0, data: 0x51, requesterId: routingId(0, 4, 0) },
        ]);
        expect(intx.filter(Boolean)).toEqual([]);
      } else {
        expect(intx.at(-1)).toBe(true);
        expect(mem.read16(cfg + 6) & 0x8).toBe(0x8); // Status.Interrupt Status
        expect(mem.read8(isr)).toBe(1); // queue interrupt; the read clears it
        expect(mem.read8(isr)).toBe(0);
        expect(intx.at(-1)).toBe(false);
      }
      expect(device.error).toBeUndefined();
    });
  }

  it('writes and latches BAR data through the VIRTIO_PCI_CAP_PCI_CFG window (§4.1.4.9)', () => {
    const { mem, cfg, device } = machine(new VirtioNet({ mac: '52:54:00:00:00:09' }));
    const win = discover(mem, cfg).get(VirtioPciCapType.PCI_CFG)!;
    const at = cfg + win.at;
    // Select 1 byte at the device_status field of the common configuration.
    mem.write8(at + 4, 0);
    mem.write32(at + 12, 1);
    mem.write32(at + 8, CommonCfg.deviceStatus);
    mem.write8(at + 16, DeviceStatus.ACKNOWLEDGE);
    expect(device.status).toBe(DeviceStatus.ACKNOWLEDGE);
    // Select the first 4 bytes of the device configuration (the MAC) and read them.
    mem.write32(at + 12, 4);
    mem.write32(at + 8, 0x2000);
    expect(mem.read32(at + 16)).toBe(0x0000_5452); // bytes 52 54 00 00, little-endian
  });

  it('resets through device_status 0: vectors back to NO_VECTOR, features cleared', () => {
    const { mem, cfg, device } = machine(new VirtioBlk(new MemoryBlockStore(8)));
    mem.write32(cfg + 0x10, BAR_BASE);
    mem.write32(cfg + 0x14, 0);
    mem.write16(cfg + 0x04, 0x0002);
    const common = BAR_BASE;
    mem.write16(common + COMMON_CFG.queue_msix_vector, 0);
    mem.write8(common + COMMON_CFG.device_status, 1);
    mem.write8(common + COMMON_CFG.device_status, 0);
    expect(mem.read16(common + COMMON_CFG.queue_msix_vector)).toBe(VIRTIO_MSI_NO_VECTOR);
    expect(device.status).toBe(0);
    mem.write16(common + COMMON_CFG.queue_select, 7);
    expect(mem.read16(common + COMMON_CFG.queue_size)).toBe(0); // no such queue
    expect(device.offeredFeatures & featureMask(FeatureBit.VERSION_1)).not.toBe(0n);
  });
});

function camel(s: string): string {
  return s.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase());
}
