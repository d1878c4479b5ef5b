import { GuestPhysicalMemory } from '@vmkit/memory';
import { describe, expect, it } from 'vitest';
import {
  completeChecksum,
  decodeNetHeader,
  encodeNetHeader,
  FeatureBit,
  featureMask,
  HostEndpoint,
  NET_HDR_SIZE,
  NetConfig,
  NetFeature,
  NetGsoType,
  NetHdrFlags,
  NetLink,
  VIRTIO_NET_CTRL_MQ,
  VIRTIO_NET_OK,
  VirtioDevice,
  VirtioMmioTransport,
  VirtioNet,
  type VirtioNetOptions,
} from '../src/index.js';
import { describeVirtioDevice, MmioDriver, SplitQueueDriver } from '../src/testing.js';

describeVirtioDevice('virtio-net', {
  create: () => new VirtioNet({ queuePairs: 2, mac: '52:54:00:00:00:01' }),
  consumesOnNotify: [1, 3, 4],
});

const BASE = 0x1000_0000;
const QSIZE = 16;

/** One guest with a virtio-net device on MMIO and split-ring drivers for all its queues. */
function netGuest(options: VirtioNetOptions, drop: number[] = []) {
  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 8 * 2 ** 20 }] });
  const net = new VirtioNet(options);
  const device = new VirtioDevice(net, mem);
  mem.addMmio({ base: BASE, size: 0x1000, handler: new VirtioMmioTransport(device) });
  const mmio = new MmioDriver(mem, BASE);
  // Receive lengths matter to a network driver, so it does not take IN_ORDER, whose batches
  // report skipped buffers as completely written (§2.7.9).
  let mask = ~featureMask(FeatureBit.RING_PACKED) & ~featureMask(FeatureBit.IN_ORDER);
  for (const bit of drop) mask &= ~featureMask(bit);
  expect(mmio.negotiate((o) => o & mask)).toBe(true);
  const features = { eventIdx: true, indirect: true };
  const queues = net.queueMaxSizes.map((_, i) => {
    const d = new SplitQueueDriver(
      mem,
      SplitQueueDriver.layoutAt(0x10000 + i * 0x1000, QSIZE),
      features,
    );
    const l = d.layout;
    mmio.setupQueue(i, { size: QSIZE, desc: l.descTable, driver: l.availRing, device: l.usedRing });
    return d;
  });
  mmio.driverOk();
  let rxCursor = 0x100000;
  /** Posts `n` receive buffers of `len` bytes on pair `pair`. */
  function postRx(pair: number, n: number, len = 2048): number[] {
    const addrs: number[] = [];
    for (let k = 0; k < n; k++) {
      queues[2 * pair]!.add([], [{ addr: rxCursor, len }]);
      addrs.push(rxCursor);
      rxCursor += len;
    }
    if (queues[2 * pair]!.kick()) mmio.notify(2 * pair);
    return addrs;
  }
  let txCursor = 0x300000;
  /** Transmits one frame with a header on pair `pair`. */
  function send(
    pair: number,
    frame: Uint8Array,
    header = encodeNetHeader({
      flags: 0,
      gsoType: 0,
      hdrLen: 0,
      gsoSize: 0,
      csumStart: 0,
      csumOffset: 0,
      numBuffers: 0,
    }),
  ) {
    mem.writeBytes(txCursor, header);
    mem.writeBytes(txCursor + NET_HDR_SIZE, frame);
    queues[2 * pair + 1]!.add([
      { addr: txCursor, len: NET_HDR_SIZE },
      { addr: txCursor + NET_HDR_SIZE, len: frame.length },
    ]);
    txCursor += 4096;
    if (queues[2 * pair + 1]!.kick()) mmio.notify(2 * pair + 1);
    queues[2 * pair + 1]!.reclaim();
  }
  /** Received frames on pair `pair`: [header, data]. */
  function received(pair: number, addrs: number[]) {
    return queues[2 * pair]!.reclaim().map((u, k) => {
      const bytes = new Uint8Array(u.len);
      mem.readBytes(addrs[k]!, bytes);
      return { header: decodeNetHeader(bytes), data: bytes.subarray(NET_HDR_SIZE) };
    });
  }
  return { mem, net, device, mmio, queues, postRx, send, received };
}

/** An Ethernet + IPv4 + UDP frame with the given ports and a payload. */
function udpFrame(srcPort: number, payload: number[]): Uint8Array {
  const f = new Uint8Array(42 + payload.length);
  f.set([0x52, 0x54, 0, 0, 0, 2, 0x52, 0x54, 0, 0, 0, 1, 0x08, 0x00]);
  f[14] = 0x45;
  f.set([10, 0, 0, 1, 10, 0, 0, 2], 26);
  f[34] = srcPort >> 8;
  f[35] = srcPort & 0xff;
  f[37] = 9;
  f.set(payload, 42);
  return f;
}

describe('virtio-net (virtio 1.2 §5.1)', () => {
  it('encodes struct virtio_net_hdr byte-exactly (12 bytes with VERSION_1)', () => {
    const bytes = encodeNetHeader({
      flags: 1,
      gsoType: 4,
      hdrLen: 0x1234,
      gsoSize: 0x5678,
      csumStart: 0x9abc,
      csumOffset: 0xdef0,
      numBuffers: 1,
    });
    expect([...bytes]).toEqual([1, 4, 0x34, 0x12, 0x78, 0x56, 0xbc, 0x9a, 0xf0, 0xde, 1, 0]);
    expect(decodeNetHeader(bytes).csumOffset).toBe(0xdef0);
  });

  it('completes an Internet checksum (RFC 1071 example)', () => {
    // RFC 1071 §3 example words 0001 f203 f4f5 f6f7 sum to 0xddf2 (ones' complement 0x220d).
    const p = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0, 0]);
    expect(completeChecksum(p, 0, 8)).toBe(true);
    expect((p[8]! << 8) | p[9]!).toBe(0x220d);
    expect(completeChecksum(p, 0, 9)).toBe(false);
  });

  it('reports MAC, link status and max_virtqueue_pairs at the §5.1.4 offsets', () => {
    const g = netGuest({ mac: '52:54:00:ab:cd:ef', queuePairs: 2, mtu: 9000 });
    expect([0, 1, 2, 3, 4, 5].map((i) => g.mmio.config(NetConfig.mac + i, 1))).toEqual([
      0x52, 0x54, 0x00, 0xab, 0xcd, 0xef,
    ]);
    expect(g.mmio.config(NetConfig.status, 2)).toBe(1);
    expect(g.mmio.config(NetConfig.maxVirtqueuePairs, 2)).toBe(2);
    expect(g.mmio.config(NetConfig.mtu, 2)).toBe(9000);
    g.net.setLinkUp(false);
    expect(g.mmio.takeInterrupts() & 2).toBe(2);
    expect(g.mmio.config(NetConfig.status, 2)).toBe(0);
  });

  it('carries frames and offload metadata between two VMs', () => {
    const a = netGuest({ mac: '52:54:00:00:00:01' });
    const b = netGuest({ mac: '52:54:00:00:00:02' });
    const link = new NetLink(a.net, b.net);
    const rx = b.postRx(0, 4);
    const frame = udpFrame(1000, [1, 2, 3, 4]);
    a.send(0, frame);
    const header = encodeNetHeader({
      flags: NetHdrFlags.NEEDS_CSUM,
      gsoType: NetGsoType.TCPV4,
      hdrLen: 54,
      gsoSize: 1448,
      csumStart: 34,
      csumOffset: 16,
      numBuffers: 0,
    });
    a.send(0, udpFrame(2000, new Array(64).fill(7)), header);
    const got = b.received(0, rx);
    expect(got).toHaveLength(2);
    expect(got[0]!.data).toEqual(frame);
    expect(got[0]!.header).toEqual({
      flags: 0,
      gsoType: 0,
      hdrLen: 0,
      gsoSize: 0,
      csumStart: 0,
      csumOffset: 0,
      numBuffers: 1,
    });
    expect(got[1]!.header).toEqual({
      flags: NetHdrFlags.NEEDS_CSUM,
      gsoType: NetGsoType.TCPV4,
      hdrLen: 54,
      gsoSize: 1448,
      csumStart: 34,
      csumOffset: 16,
      numBuffers: 1,
    });
    expect(link.stats.aToB).toEqual({ frames: 2, bytes: frame.length + 106, dropped: 0 });
    expect(a.net.stats.txFrames).toBe(2);
    expect(b.net.stats.rxFrames).toBe(2);
  });

  it('finishes checksums for a receiver without GUEST_CSUM and drops GSO it cannot take', () => {
    const a = netGuest({});
    const b = netGuest({}, [NetFeature.GUEST_CSUM, NetFeature.GUEST_TSO4, NetFeature.GUEST_TSO6]);
    new NetLink(a.net, b.net);
    const rx = b.postRx(0, 2);
    const frame = udpFrame(1000, [0xab, 0xcd]);
    const csum = encodeNetHeader({
      flags: 1,
      gsoType: 0,
      hdrLen: 0,
      gsoSize: 0,
      csumStart: 34,
      csumOffset: 6,
      numBuffers: 0,
    });
    a.send(0, frame, csum);
    const gso = encodeNetHeader({
      flags: 1,
      gsoType: NetGsoType.TCPV4,
      hdrLen: 54,
      gsoSize: 100,
      csumStart: 34,
      csumOffset: 16,
      numBuffers: 0,
    });
    a.send(0, udpFrame(1, new Array(300).fill(1)), gso);
    const got = b.received(0, rx);
    expect(got).toHaveLength(1);
    expect(got[0]!.header.flags).toBe(0);
    const expected = frame.slice();
    completeChecksum(expected, 34, 6);
    expect(got[0]!.data).toEqual(expected);
    expect(got[0]!.data[40]! | got[0]!.data[41]!).not.toBe(0);
    expect(b.net.stats.rxDropped).toBe(1);
  });

  it('refuses offload features without their dependencies at FEATURES_OK (§5.1.3.1)', () => {
    const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 2 ** 20 }] });
    const device = new VirtioDevice(new VirtioNet(), mem);
    mem.addMmio({ base: BASE, size: 0x1000, handler: new VirtioMmioTransport(device) });
    const mmio = new MmioDriver(mem, BASE);
    expect(mmio.negotiate((o) => o & ~featureMask(NetFeature.GUEST_CSUM))).toBe(false);
    expect(mmio.negotiate((o) => o & ~featureMask(NetFeature.CSUM))).toBe(false);
    expect(
      mmio.negotiate(
        (o) =>
          o &
          ~featureMask(NetFeature.CSUM) &
          ~featureMask(NetFeature.HOST_TSO4) &
          ~featureMask(NetFeature.HOST_TSO6),
      ),
    ).toBe(true);
  });

  it('holds frames until the driver posts receive buffers, then delivers them in order', () => {
    const b = netGuest({});
    const host = new HostEndpoint();
    new NetLink(host, b.net);
    host.send(udpFrame(1, [1]));
    host.send(udpFrame(2, [2]));
    expect(b.net.stats.rxFrames).toBe(0);
    const rx = b.postRx(0, 2);
    const got = b.received(0, rx);
    expect(got.map((g) => g.data[35])).toEqual([1, 2]);
  });

  it('drops frames that do not fit a receive buffer and frames while the link is down', () => {
    const b = netGuest({}, [NetFeature.MRG_RXBUF]);
    const host = new HostEndpoint();
    new NetLink(host, b.net);
    const rx = b.postRx(0, 1, 40);
    host.send(udpFrame(1, new Array(100).fill(0)));
    expect(b.queues[0]!.reclaim()).toEqual([{ id: 0, len: 0 }]); // returned unused
    void rx;
    expect(b.net.stats.rxDropped).toBe(1);
    b.net.setLinkUp(false);
    host.send(udpFrame(1, [1]));
    expect(b.net.stats.rxDropped).toBe(2);
  });

  it('sets queue pairs through the control queue and steers flows across them (multiqueue)', () => {
    const b = netGuest({ queuePairs: 2 });
    const host = new HostEndpoint();
    new NetLink(host, b.net);
    const ctrl = b.queues[4]!;
    b.mem.writeBytes(0x500000, Uint8Array.of(VIRTIO_NET_CTRL_MQ, 0, 2, 0));
    ctrl.add([{ addr: 0x500000, len: 4 }], [{ addr: 0x500100, len: 1 }]);
    if (ctrl.kick()) b.mmio.notify(4);
    expect(ctrl.reclaim()).toEqual([{ id: 0, len: 1 }]);
    expect(b.mem.read8(0x500100)).toBe(VIRTIO_NET_OK);
    expect(b.net.queuePairs).toBe(2);
    const rx0 = b.postRx(0, 16);
    const rx1 = b.postRx(1, 16);
    for (let port = 0; port < 16; port++) host.send(udpFrame(1000 + port, [port]));
    const on0 = b.received(0, rx0).length;
    const on1 = b.received(1, rx1).length;
    expect(on0 + on1).toBe(16);
    expect(on0).toBeGreaterThan(0);
    expect(on1).toBeGreaterThan(0);
    // An out-of-range pair count is refused with VIRTIO_NET_ERR.
    b.mem.writeBytes(0x500000, Uint8Array.of(VIRTIO_NET_CTRL_MQ, 0, 3, 0));
    ctrl.add([{ addr: 0x500000, len: 4 }], [{ addr: 0x500100, len: 1 }]);
    if (ctrl.kick()) b.mmio.notify(4);
    ctrl.reclaim();
    expect(b.mem.read8(0x500100)).toBe(1);
    expect(b.net.queuePairs).toBe(2);
  });

  it('drops a transmit chain larger than any packet without copying it', () => {
    const a = netGuest({});
    const host = new HostEndpoint();
    new NetLink(a.net, host);
    // 12 + 70000 bytes: described, never read.
    a.queues[1]!.add([{ addr: 0x300000, len: NET_HDR_SIZE + 70000 }]);
    if (a.queues[1]!.kick()) a.mmio.notify(1);
    expect(a.queues[1]!.reclaim()).toEqual([{ id: 0, len: 0 }]);
    expect(host.received).toHaveLength(0);
    expect(a.net.stats.txDropped).toBe(1);
  });

  it('spreads a packet over several small buffers with MRG_RXBUF, num_buffers counting them', () => {
    const b = netGuest({});
    const host = new HostEndpoint();
    new NetLink(host, b.net);
    const rx = b.postRx(0, 8, 64);
    const frame = udpFrame(
      7,
      Array.from({ length: 158 }, (_, i) => i),
    ); // 200 bytes + 12 = 4 buffers
    host.send(frame);
    const used = b.queues[0]!.reclaim();
    expect(used.map((u) => u.len)).toEqual([64, 64, 64, 20]);
    const bytes = new Uint8Array(212);
    used.forEach((u, k) => {
      const piece = new Uint8Array(u.len);
      b.mem.readBytes(rx[k]!, piece);
      bytes.set(piece, 64 * k);
    });
    expect(decodeNetHeader(bytes).numBuffers).toBe(4);
    expect(bytes.subarray(NET_HDR_SIZE)).toEqual(frame);
    // Not enough room for the next one (4 buffers left, 5 needed): it waits, nothing is taken.
    host.send(udpFrame(8, new Array(250).fill(1)));
    expect(b.queues[0]!.reclaim()).toEqual([]);
    b.postRx(0, 2, 64);
    expect(b.queues[0]!.reclaim().map((u) => u.len)).toEqual([64, 64, 64, 64, 48]);
  });

  it('transmits on every pair to the backend', () => {
    const a = netGuest({ queuePairs: 2 });
    const host = new HostEndpoint();
    new NetLink(a.net, host);
    a.send(0, udpFrame(1, [1]));
    a.send(1, udpFrame(2, [2]));
    expect(host.received.map((f) => f.data[35])).toEqual([1, 2]);
  });
});
