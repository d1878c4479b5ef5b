import { GuestPhysicalMemory } from '@vmkit/memory';
import { describe, expect, it } from 'vitest';
import {
  BlkRequestType,
  FeatureBit,
  featureMask,
  HostEndpoint,
  MemoryBlockStore,
  NetLink,
  SplitVirtqueue,
  VirtioBlk,
  VirtioDevice,
  type VirtioDeviceState,
  VirtioMmioTransport,
  VirtioNet,
} from '../src/index.js';
import { MmioDriver, SplitQueueDriver } from '../src/testing.js';

const RAM = 2 ** 20;
const BASE = 0x1000_0000;

function blkMachine(packed: boolean, store: MemoryBlockStore) {
  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: RAM }] });
  const device = new VirtioDevice(new VirtioBlk(store), mem);
  const transport = new VirtioMmioTransport(device);
  mem.addMmio({ base: BASE, size: 0x1000, handler: transport });
  return { mem, device, transport, mmio: new MmioDriver(mem, BASE), packed };
}

function copyRam(from: GuestPhysicalMemory, to: GuestPhysicalMemory): void {
  const bytes = new Uint8Array(RAM);
  from.readBytes(0, bytes);
  to.writeBytes(0, bytes);
}

describe('snapshot and restore (save between notifications)', () => {
  it('a restored virtio-blk continues exactly like the original (indices past 2^16)', () => {
    const storeA = new MemoryBlockStore(64);
    const a = blkMachine(false, storeA);
    a.mmio.negotiate((o) => o & ~featureMask(FeatureBit.RING_PACKED));
    const layout = SplitQueueDriver.layoutAt(0x1000, 4);
    const drvA = new SplitQueueDriver(a.mem, layout, { eventIdx: true, inOrder: true });
    a.mmio.setupQueue(0, {
      size: 4,
      desc: layout.descTable,
      driver: layout.availRing,
      device: layout.usedRing,
    });
    a.mmio.driverOk();
    const request = (
      mem: GuestPhysicalMemory,
      drv: SplitQueueDriver,
      mmio: MmioDriver,
      n: number,
    ) => {
      mem.write32(0x8000, BlkRequestType.OUT);
      mem.write32(0x8008, n % 64);
      mem.fill(0x9000, 512, n & 0xff);
      drv.add(
        [
          { addr: 0x8000, len: 16 },
          { addr: 0x9000, len: 512 },
        ],
        [{ addr: 0xa000, len: 1 }],
      );
      if (drv.kick()) mmio.notify(0);
      return drv.reclaim();
    };
    for (let n = 0; n < 66_000; n++) request(a.mem, drvA, a.mmio, n);
    // Snapshot: device, transport, memory, disk, and the driver helper's bookkeeping.
    const state: VirtioDeviceState = JSON.parse(JSON.stringify(a.device.save()));
    const storeB = new MemoryBlockStore(64);
    for (let s = 0; s < 64; s++) {
      const sector = new Uint8Array(512);
      storeA.read(s, sector);
      storeB.write(s, sector);
    }
    const b = blkMachine(false, storeB);
    copyRam(a.mem, b.mem);
    b.device.restore(state);
    b.transport.restore(a.transport.save());
    expect(b.device.status).toBe(a.device.status);
    const drvB = drvA.fork(b.mem);
    for (let n = 66_000; n < 66_040; n++) {
      expect(request(b.mem, drvB, b.mmio, n)).toEqual(request(a.mem, drvA, a.mmio, n));
    }
    const ra = new Uint8Array(RAM);
    const rb = new Uint8Array(RAM);
    a.mem.readBytes(0, ra);
    b.mem.readBytes(0, rb);
    expect(rb).toEqual(ra);
    expect(b.device.error).toBeUndefined();
  });

  it('keeps a fault and the error state across a snapshot', () => {
    const a = blkMachine(false, new MemoryBlockStore(8));
    a.mmio.negotiate((o) => o & ~featureMask(FeatureBit.RING_PACKED));
    const layout = SplitQueueDriver.layoutAt(0x1000, 4);
    const drv = new SplitQueueDriver(a.mem, layout);
    drv.writeDescriptor(0, { addr: 0x8000, len: 1, flags: 1, next: 0 });
    drv.pushHead(0);
    drv.publish();
    a.mmio.setupQueue(0, {
      size: 4,
      desc: layout.descTable,
      driver: layout.availRing,
      device: layout.usedRing,
    });
    a.mmio.driverOk();
    a.mmio.notify(0);
    const state = a.device.save();
    const b = blkMachine(false, new MemoryBlockStore(8));
    copyRam(a.mem, b.mem);
    b.device.restore(state);
    expect(b.device.error?.code).toBe('DESCRIPTOR_LOOP');
    expect(b.mmio.status).toBe(a.mmio.status);
    expect(() => b.device.restore({ ...state, deviceId: 1 })).toThrow();
  });

  it('refuses to save a queue with chains in flight', () => {
    const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: RAM }] });
    const layout = SplitQueueDriver.layoutAt(0x1000, 4);
    const drv = new SplitQueueDriver(mem, layout);
    const q = new SplitVirtqueue(mem, layout);
    drv.add([{ addr: 0x8000, len: 1 }]);
    drv.kick();
    const c = q.pop()!;
    expect(() => q.save()).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
    q.addUsed(c.head, 0);
    expect(q.save()).toMatchObject({ kind: 'split', lastAvail: 1, usedIdx: 1 });
  });

  it('restores virtio-net queue pairs, link state and held frames', () => {
    const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: RAM }] });
    const net = new VirtioNet({ queuePairs: 2 });
    const device = new VirtioDevice(net, mem);
    mem.addMmio({ base: BASE, size: 0x1000, handler: new VirtioMmioTransport(device) });
    const mmio = new MmioDriver(mem, BASE);
    mmio.negotiate((o) => o & ~featureMask(FeatureBit.RING_PACKED));
    const rx = new SplitQueueDriver(mem, SplitQueueDriver.layoutAt(0x1000, 8));
    const l = rx.layout;
    mmio.setupQueue(0, { size: 8, desc: l.descTable, driver: l.availRing, device: l.usedRing });
    mmio.driverOk();
    const host = new HostEndpoint();
    new NetLink(host, net);
    host.send(Uint8Array.of(1, 2, 3));
    const state = JSON.parse(JSON.stringify(device.save()));
    const mem2 = new GuestPhysicalMemory({ ram: [{ base: 0, size: RAM }] });
    copyRam(mem, mem2);
    const net2 = new VirtioNet({ queuePairs: 2 });
    const device2 = new VirtioDevice(net2, mem2);
    device2.restore(state);
    expect(net2.save()).toEqual(net.save());
    expect((state.model as { backlog: unknown[] }).backlog).toHaveLength(1);
  });
});
