import {
  type GuestMemory,
  GuestMemoryError,
  GuestPhysicalMemory,
  type RegionInfo,
} from '@vmkit/memory';
import { describe, expect, it } from 'vitest';
import {
  BlkRequestType,
  BlkStatus,
  DeviceStatus,
  FeatureBit,
  featureMask,
  MemoryBlockStore,
  VirtioBlk,
  VirtioDevice,
  VirtioMmioTransport,
} from '../src/index.js';
import { MmioDriver, SplitQueueDriver } from '../src/testing.js';

const IOVA = 0x4000_0000;

/**
 * A minimal DMA view in the style of an IOMMU decorator: I/O virtual addresses [IOVA, IOVA+1 MiB)
 * map to guest-physical [0, 1 MiB); it reports no regions, as an IOVA space has none.
 */
class OffsetDma implements GuestMemory {
  constructor(private readonly inner: GuestMemory) {}
  private map(iova: number, length: number): number {
    if (iova < IOVA || iova + length > IOVA + 2 ** 20) {
      throw new GuestMemoryError('OUT_OF_RANGE', `IOVA ${iova} is not mapped`, iova, length);
    }
    return iova - IOVA;
  }
  read8(a: number) {
    return this.inner.read8(this.map(a, 1));
  }
  read16(a: number) {
    return this.inner.read16(this.map(a, 2));
  }
  read32(a: number) {
    return this.inner.read32(this.map(a, 4));
  }
  read64(a: number) {
    return this.inner.read64(this.map(a, 8));
  }
  write8(a: number, v: number) {
    this.inner.write8(this.map(a, 1), v);
  }
  write16(a: number, v: number) {
    this.inner.write16(this.map(a, 2), v);
  }
  write32(a: number, v: number) {
    this.inner.write32(this.map(a, 4), v);
  }
  write64(a: number, v: bigint) {
    this.inner.write64(this.map(a, 8), v);
  }
  readBytes(a: number, d: Uint8Array) {
    this.inner.readBytes(this.map(a, d.length), d);
  }
  writeBytes(a: number, s: Uint8Array) {
    this.inner.writeBytes(this.map(a, s.length), s);
  }
  fill(a: number, n: number, b: number) {
    this.inner.fill(this.map(a, n), n, b);
  }
  copy(d: number, s: number, n: number) {
    this.inner.copy(this.map(d, n), this.map(s, n), n);
  }
  contains(a: number, n: number) {
    return a >= IOVA && a + n <= IOVA + 2 ** 20;
  }
  regions(): readonly RegionInfo[] {
    return [];
  }
}

describe('devices behind a translating DMA view (VIRTIO_F_ACCESS_PLATFORM composition)', () => {
  it('runs requests with I/O virtual addresses and faults on unmapped ones', () => {
    const gpa = new GuestPhysicalMemory({ ram: [{ base: 0, size: 2 ** 20 }] });
    const dma = new OffsetDma(gpa);
    const store = new MemoryBlockStore(16);
    const device = new VirtioDevice(new VirtioBlk(store), dma, {
      transportFeatures: [FeatureBit.ACCESS_PLATFORM, FeatureBit.EVENT_IDX, FeatureBit.IN_ORDER],
    });
    gpa.addMmio({ base: 0x1000_0000, size: 0x1000, handler: new VirtioMmioTransport(device) });
    const mmio = new MmioDriver(gpa, 0x1000_0000);
    expect(mmio.deviceFeatures() & featureMask(FeatureBit.ACCESS_PLATFORM)).not.toBe(0n);
    expect(mmio.negotiate((o) => o)).toBe(true);
    const layout = SplitQueueDriver.layoutAt(IOVA + 0x1000, 8);
    const driver = new SplitQueueDriver(dma, layout, { eventIdx: true, inOrder: true });
    mmio.setupQueue(0, {
      size: 8,
      desc: layout.descTable,
      driver: layout.availRing,
      device: layout.usedRing,
    });
    mmio.driverOk();
    dma.write32(IOVA + 0x8000, BlkRequestType.OUT);
    dma.write32(IOVA + 0x8008, 1);
    dma.fill(IOVA + 0x9000, 512, 0x77);
    driver.add(
      [
        { addr: IOVA + 0x8000, len: 16 },
        { addr: IOVA + 0x9000, len: 512 },
      ],
      [{ addr: IOVA + 0xa000, len: 1 }],
    );
    if (driver.kick()) mmio.notify(0);
    expect(driver.reclaim()).toEqual([{ id: 0, len: 1 }]);
    expect(gpa.read8(0xa000)).toBe(BlkStatus.OK); // the status landed at the translated address
    const sector = new Uint8Array(512);
    store.read(1, sector);
    expect(sector[100]).toBe(0x77);
    // A buffer outside the mapped IOVA window: a fault, the device needs a reset.
    driver.add([{ addr: IOVA + 0x8000, len: 16 }], [{ addr: 0x9000, len: 1 }]);
    if (driver.kick()) mmio.notify(0);
    expect(mmio.status & DeviceStatus.DEVICE_NEEDS_RESET).toBe(DeviceStatus.DEVICE_NEEDS_RESET);
    expect(device.error?.code).toBe('ADDRESS_OUT_OF_RANGE');
  });
});
