import { GuestPhysicalMemory } from '@vmkit/memory';
import { describe, expect, it } from 'vitest';
import {
  type BackendThreading,
  BackendWorkers,
  type CountingWorkMeter,
  FeatureBit,
  featureMask,
  NET_HDR_SIZE,
  NetLink,
  VirtioDevice,
  VirtioMmioTransport,
  VirtioNet,
} from '../src/index.js';
import { MmioDriver, SplitQueueDriver } from '../src/testing.js';

const BASE = 0x1000_0000;

/** A VM with a 2-pair virtio-net whose queues are metered by `workers`. */
function vm(name: string, workers: BackendWorkers) {
  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 4 * 2 ** 20 }] });
  const net = new VirtioNet({ queuePairs: 2 });
  const device = new VirtioDevice(net, mem, { queueMeter: workers.forDevice(name) });
  mem.addMmio({ base: BASE, size: 0x1000, handler: new VirtioMmioTransport(device) });
  const mmio = new MmioDriver(mem, BASE);
  mmio.negotiate(
    (o) => o & ~featureMask(FeatureBit.RING_PACKED) & ~featureMask(FeatureBit.IN_ORDER),
  );
  const queues = net.queueMaxSizes.map((_, i) => {
    const d = new SplitQueueDriver(mem, SplitQueueDriver.layoutAt(0x10000 + i * 0x1000, 16), {
      eventIdx: true,
    });
    const l = d.layout;
    mmio.setupQueue(i, { size: 16, desc: l.descTable, driver: l.availRing, device: l.usedRing });
    return d;
  });
  mmio.driverOk();
  for (const pair of [0, 1]) {
    for (let k = 0; k < 8; k++)
      queues[2 * pair]!.add([], [{ addr: 0x100000 + (pair * 8 + k) * 2048, len: 2048 }]);
    if (queues[2 * pair]!.kick()) mmio.notify(2 * pair);
  }
  const send = (pair: number, bytes: number) => {
    mem.fill(0x200000, NET_HDR_SIZE + bytes, 0);
    queues[2 * pair + 1]!.add([{ addr: 0x200000, len: NET_HDR_SIZE + bytes }]);
    if (queues[2 * pair + 1]!.kick()) mmio.notify(2 * pair + 1);
    queues[2 * pair + 1]!.reclaim();
  };
  return { net, send };
}

function run(threading: BackendThreading) {
  const workers = new BackendWorkers(threading);
  const a = vm('vm-a', workers);
  const b = vm('vm-b', workers);
  new NetLink(a.net, b.net);
  a.send(0, 100);
  a.send(1, 200);
  b.send(0, 300);
  return workers
    .list()
    .map(
      (w) =>
        [
          w.name,
          (w.meter as CountingWorkMeter).bytes,
          (w.meter as CountingWorkMeter).chains,
        ] as const,
    );
}

describe('backend threading model (seed 003: single- vs multi-threaded PV backend)', () => {
  it('charges all copy work to one worker, per device, or per queue', () => {
    const single = run('single');
    const perDevice = run('per-device');
    const perQueue = run('per-queue');
    expect(single.map((w) => w[0])).toEqual(['backend']);
    expect(perDevice.map((w) => w[0]).sort()).toEqual(['vm-a', 'vm-b']);
    expect(perQueue.length).toBeGreaterThan(2);
    // The same traffic costs the same in total whichever way it is split.
    const total = (ws: readonly (readonly [string, number, number])[]): [number, number] =>
      ws.reduce<[number, number]>((acc, w) => [acc[0] + w[1], acc[1] + w[2]], [0, 0]);
    expect(total(perDevice)).toEqual(total(single));
    expect(total(perQueue)).toEqual(total(single));
    // Three transmitted frames copied out (header + payload) and three received frames copied in.
    expect(total(single)[0]).toBe(3 * NET_HDR_SIZE + 600 + 3 * NET_HDR_SIZE + 600);
    // Per queue: VM A's transmit queue 1 (pair 0) did exactly its own frame's copy.
    expect(perQueue.find((w) => w[0] === 'vm-a/q1')).toEqual(['vm-a/q1', NET_HDR_SIZE + 100, 1]);
  });

  it('accepts a simulator meter factory', () => {
    const charged: string[] = [];
    const workers = new BackendWorkers('single', (name) => ({
      copied: (n) => charged.push(`${name}:${n}`),
      chain: () => {},
    }));
    const a = vm('a', workers);
    a.send(0, 10);
    expect(charged).toEqual([`backend:${NET_HDR_SIZE + 10}`]);
  });
});
