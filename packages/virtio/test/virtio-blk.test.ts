import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestPhysicalMemory } from '@vmkit/memory';
import { describe, expect, it } from 'vitest';
import {
  BlkConfig,
  BlkRequestType,
  BlkStatus,
  DeviceStatus,
  FeatureBit,
  featureMask,
  MemoryBlockStore,
  VirtioBlk,
  type VirtioBlkOptions,
  VirtioDevice,
  VirtioMmioTransport,
} from '../src/index.js';
import { FileBlockStore } from '../src/node.js';
import {
  describeVirtioDevice,
  MmioDriver,
  PackedQueueDriver,
  SplitQueueDriver,
  type UsedBuffer,
} from '../src/testing.js';

describeVirtioDevice('virtio-blk', {
  create: () => new VirtioBlk(new MemoryBlockStore(64)),
  consumesOnNotify: [0],
});

const BASE = 0x1000_0000;
const HDR = 0x10_0000;
const DATA = 0x11_0000;
const STATUS = 0x12_0000;

/** A guest with a virtio-blk device on MMIO, driven through the registers with either ring. */
function guest(packed: boolean, options: VirtioBlkOptions = {}, sectors = 256) {
  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 4 * 2 ** 20 }] });
  const store = new MemoryBlockStore(sectors);
  const device = new VirtioDevice(new VirtioBlk(store, options), mem);
  let interrupts = 0;
  const transport = new VirtioMmioTransport(device, { onInterrupt: (l) => l && interrupts++ });
  mem.addMmio({ base: BASE, size: 0x1000, handler: transport });
  const mmio = new MmioDriver(mem, BASE);
  expect(mmio.negotiate((o) => (packed ? o : o & ~featureMask(FeatureBit.RING_PACKED)))).toBe(true);
  // The negotiated set includes EVENT_IDX and IN_ORDER: the driver side must follow them.
  const features = { eventIdx: true, inOrder: true };
  const split = packed
    ? undefined
    : new SplitQueueDriver(mem, SplitQueueDriver.layoutAt(0x1000, 16), features);
  const pq = packed
    ? new PackedQueueDriver(mem, PackedQueueDriver.layoutAt(0x1000, 16), features)
    : undefined;
  if (split) {
    const l = split.layout;
    mmio.setupQueue(0, { size: 16, desc: l.descTable, driver: l.availRing, device: l.usedRing });
  } else {
    const l = pq!.layout;
    mmio.setupQueue(0, {
      size: 16,
      desc: l.descRing,
      driver: l.driverEvent,
      device: l.deviceEvent,
    });
  }
  mmio.driverOk();
  let slot = 0;
  /** Submits one request and returns [status, used length]. */
  function request(type: number, sector: number, out: Uint8Array | undefined, inLen: number) {
    const hdr = HDR + slot * 16;
    const status = STATUS + slot;
    slot = (slot + 1) % 64;
    mem.write32(hdr, type);
    mem.write32(hdr + 4, 0);
    mem.write32(hdr + 8, sector % 2 ** 32);
    mem.write32(hdr + 12, Math.floor(sector / 2 ** 32));
    mem.write8(status, 0xff);
    const readable = [{ addr: hdr, len: 16 }];
    if (out) {
      mem.writeBytes(DATA, out);
      readable.push({ addr: DATA, len: out.length });
    }
    const writable = inLen > 0 ? [{ addr: DATA + 0x4_0000, len: inLen }] : [];
    writable.push({ addr: status, len: 1 });
    const drv = split ?? pq!;
    drv.add(readable, writable);
    if (drv.kick()) mmio.notify(0);
    const used: UsedBuffer[] = drv.reclaim();
    expect(used).toHaveLength(1);
    const data = new Uint8Array(inLen);
    mem.readBytes(DATA + 0x4_0000, data);
    return { status: mem.read8(status), len: used[0]!.len, data };
  }
  return { mem, store, mmio, device, request, interrupts: () => interrupts };
}

describe('virtio-blk requests (virtio 1.2 §5.2.6), split and packed rings through MMIO', () => {
  for (const packed of [false, true]) {
    const ring = packed ? 'packed' : 'split';
    it(`writes, reads back, flushes and reports its ID (${ring})`, () => {
      const g = guest(packed, { id: 'disk-7' });
      const payload = Uint8Array.from({ length: 1024 }, (_, i) => (i * 13) & 0xff);
      expect(g.request(BlkRequestType.OUT, 10, payload, 0)).toMatchObject({
        status: BlkStatus.OK,
        len: 1,
      });
      const back = g.request(BlkRequestType.IN, 10, undefined, 1024);
      expect(back.status).toBe(BlkStatus.OK);
      expect(back.len).toBe(1025);
      expect(back.data).toEqual(payload);
      const stored = new Uint8Array(512);
      g.store.read(11, stored);
      expect(stored).toEqual(payload.subarray(512));
      expect(g.request(BlkRequestType.FLUSH, 0, undefined, 0).status).toBe(BlkStatus.OK);
      const id = g.request(BlkRequestType.GET_ID, 0, undefined, 20);
      expect(new TextDecoder().decode(id.data.subarray(0, 6))).toBe('disk-7');
      expect(id.data[6]).toBe(0);
      expect(g.interrupts()).toBeGreaterThan(0);
      expect(g.device.error).toBeUndefined();
    });
  }

  it('answers IOERR for out-of-range, unaligned and read-only writes, UNSUPP for unknown types', () => {
    const g = guest(false, {}, 16);
    expect(g.request(BlkRequestType.IN, 15, undefined, 1024).status).toBe(BlkStatus.IOERR);
    expect(g.request(BlkRequestType.IN, 2 ** 40, undefined, 512).status).toBe(BlkStatus.IOERR);
    expect(g.request(BlkRequestType.OUT, 0, new Uint8Array(100), 0).status).toBe(BlkStatus.IOERR);
    expect(g.request(99, 0, undefined, 0).status).toBe(BlkStatus.UNSUPP);
    const ro = guest(false, { readOnly: true }, 16);
    expect(ro.request(BlkRequestType.OUT, 0, new Uint8Array(512).fill(1), 0).status).toBe(
      BlkStatus.IOERR,
    );
    const check = new Uint8Array(512);
    ro.store.read(0, check);
    expect(check.every((b) => b === 0)).toBe(true);
  });

  it('discards and writes zeroes by segment, refusing reserved flags and oversize segments', () => {
    const g = guest(false, { maxDiscardSectors: 8, maxDiscardSegments: 2 }, 64);
    g.store.write(0, new Uint8Array(64 * 512).fill(0xee));
    const seg = (sector: number, n: number, flags: number) => {
      const b = new Uint8Array(16);
      const v = new DataView(b.buffer);
      v.setBigUint64(0, BigInt(sector), true);
      v.setUint32(8, n, true);
      v.setUint32(12, flags, true);
      return b;
    };
    const two = new Uint8Array(32);
    two.set(seg(4, 2, 0), 0);
    two.set(seg(10, 1, 1), 16);
    expect(g.request(BlkRequestType.WRITE_ZEROES, 0, two, 0).status).toBe(BlkStatus.OK);
    const s = new Uint8Array(512);
    for (const [sector, zero] of [
      [3, false],
      [4, true],
      [5, true],
      [6, false],
      [10, true],
    ] as const) {
      g.store.read(sector, s);
      expect(s.every((b) => b === 0)).toBe(zero);
    }
    expect(g.request(BlkRequestType.DISCARD, 0, seg(20, 4, 0), 0).status).toBe(BlkStatus.OK);
    expect(g.request(BlkRequestType.DISCARD, 0, seg(20, 4, 1), 0).status).toBe(BlkStatus.UNSUPP);
    expect(g.request(BlkRequestType.WRITE_ZEROES, 0, seg(20, 4, 2), 0).status).toBe(
      BlkStatus.UNSUPP,
    );
    expect(g.request(BlkRequestType.DISCARD, 0, seg(20, 9, 0), 0).status).toBe(BlkStatus.IOERR);
    expect(g.request(BlkRequestType.DISCARD, 0, seg(60, 8, 0), 0).status).toBe(BlkStatus.IOERR);
    const three = new Uint8Array(48);
    expect(g.request(BlkRequestType.DISCARD, 0, three, 0).status).toBe(BlkStatus.IOERR);
  });

  it('exposes struct virtio_blk_config at the §5.2.4 offsets', () => {
    const g = guest(false, {}, 4096);
    expect(g.mmio.config(0, 4)).toBe(4096);
    expect(g.mmio.config(4, 4)).toBe(0);
    expect(g.mmio.config(20, 4)).toBe(512); // blk_size
    expect(g.mmio.config(34, 2)).toBe(1); // num_queues
    expect(g.mmio.config(BlkConfig.maxDiscardSeg, 4)).toBe(16);
  });

  it('serves every request queue with VIRTIO_BLK_F_MQ (num_queues in the config)', () => {
    const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 2 ** 20 }] });
    const store = new MemoryBlockStore(8);
    const blk = new VirtioBlk(store, { numQueues: 3, queueSize: 8 });
    const device = new VirtioDevice(blk, mem);
    mem.addMmio({ base: BASE, size: 0x1000, handler: new VirtioMmioTransport(device) });
    const mmio = new MmioDriver(mem, BASE);
    expect(mmio.deviceFeatures() & featureMask(12)).not.toBe(0n);
    mmio.negotiate((o) => o & ~featureMask(FeatureBit.RING_PACKED));
    expect(mmio.config(BlkConfig.numQueues, 2)).toBe(3);
    const drivers = [0, 1, 2].map((q) => {
      const d = new SplitQueueDriver(mem, SplitQueueDriver.layoutAt(0x1000 + q * 0x1000, 8));
      const l = d.layout;
      mmio.setupQueue(q, { size: 8, desc: l.descTable, driver: l.availRing, device: l.usedRing });
      return d;
    });
    mmio.driverOk();
    for (const [q, d] of drivers.entries()) {
      mem.write32(0x8000 + q * 0x100, BlkRequestType.OUT);
      mem.write32(0x8008 + q * 0x100, q);
      mem.fill(0x10000 + q * 0x1000, 512, 0x10 + q);
      d.add(
        [
          { addr: 0x8000 + q * 0x100, len: 16 },
          { addr: 0x10000 + q * 0x1000, len: 512 },
        ],
        [{ addr: 0x9000 + q, len: 1 }],
      );
      if (d.kick()) mmio.notify(q);
      expect(d.reclaim()).toHaveLength(1);
      expect(mem.read8(0x9000 + q)).toBe(BlkStatus.OK);
    }
    const s = new Uint8Array(512);
    store.read(2, s);
    expect(s[0]).toBe(0x12);
  });

  it('a request without a status byte puts the device into DEVICE_NEEDS_RESET', () => {
    const g = guest(false);
    const split = new SplitQueueDriver(g.mem, SplitQueueDriver.layoutAt(0x1000, 16));
    split.add([{ addr: HDR, len: 16 }]);
    split.kick();
    g.mmio.notify(0);
    expect(g.mmio.status & DeviceStatus.DEVICE_NEEDS_RESET).toBe(DeviceStatus.DEVICE_NEEDS_RESET);
    expect(g.device.error?.code).toBe('BAD_REQUEST');
  });
});

describe('FileBlockStore', () => {
  it('persists sectors in a host file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmkit-blk-'));
    try {
      const path = join(dir, 'disk.img');
      const disk = FileBlockStore.create(path, 8);
      expect(disk.sectors).toBe(8);
      disk.write(2, new Uint8Array(512).fill(0x5a));
      disk.writeZeroes(2, 1);
      disk.write(3, new Uint8Array(512).fill(0x33));
      disk.flush();
      disk.close();
      const raw = readFileSync(path);
      expect(raw.length).toBe(4096);
      expect(raw[2 * 512]).toBe(0);
      expect(raw[3 * 512]).toBe(0x33);
      const again = new FileBlockStore(path, true);
      const s = new Uint8Array(512);
      again.read(3, s);
      expect(s.every((b) => b === 0x33)).toBe(true);
      again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
