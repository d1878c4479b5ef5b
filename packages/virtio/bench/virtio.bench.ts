import { GuestPhysicalMemory } from '@vmkit/memory';
import { emit, opsPerSecond } from '@vmkit/test-kit';
import { PackedVirtqueue, SplitVirtqueue, type Virtqueue } from '@vmkit/virtio';
import { PackedQueueDriver, SplitQueueDriver } from '@vmkit/virtio/testing';

const SIZE = 256;
const BATCH = 128;

function memory() {
  return new GuestPhysicalMemory({ ram: [{ base: 0, size: 64 * 2 ** 20 }] });
}

function rig(packed: boolean, eventIdx = false) {
  const mem = memory();
  if (packed) {
    const layout = PackedQueueDriver.layoutAt(0x1000, SIZE);
    const driver = new PackedQueueDriver(mem, layout, { eventIdx });
    return { mem, driver, queue: new PackedVirtqueue(mem, layout, { eventIdx }) as Virtqueue };
  }
  const layout = SplitQueueDriver.layoutAt(0x1000, SIZE);
  const driver = new SplitQueueDriver(mem, layout, { eventIdx });
  return { mem, driver, queue: new SplitVirtqueue(mem, layout, { eventIdx }) as Virtqueue };
}

/**
 * Device-side chains/s for chains of `parts` descriptors: the descriptors are written once, and
 * each round republishes the same heads in the available ring (two stores per chain) while the
 * device pops, validates and returns them. This is the backend's cost per chain.
 */
function deviceChains(parts: number): number {
  const mem = memory();
  const layout = SplitQueueDriver.layoutAt(0x1000, SIZE);
  const driver = new SplitQueueDriver(mem, layout);
  const queue = new SplitVirtqueue(mem, layout);
  const readable = Array.from({ length: parts - 1 }, (_, k) => ({
    addr: 0x10_0000 + k * 64,
    len: 64,
  }));
  const writable = [{ addr: 0x20_0000, len: 64 }];
  const n = Math.floor(BATCH / parts);
  const heads = Array.from({ length: n }, () => driver.add(readable, writable));
  driver.kick();
  return opsPerSecond(() => {
    for (let k = 0; k < n; k++) {
      const c = queue.pop()!;
      queue.addUsed(c.head, 0);
    }
    queue.needsNotification();
    for (const h of heads) driver.pushHead(h);
    driver.publish();
  }, n);
}

/**
 * Round trips/s: the driver helper adds a batch and kicks, the device pops and returns every
 * chain, the driver reclaims. Both sides are in the figure, as in a guest/backend pair.
 */
function roundTrips(parts: number, packed: boolean): number {
  const { driver, queue } = rig(packed);
  const readable = Array.from({ length: parts - 1 }, (_, k) => ({
    addr: 0x10_0000 + k * 64,
    len: 64,
  }));
  const writable = [{ addr: 0x20_0000, len: 64 }];
  const n = Math.floor(BATCH / parts);
  return opsPerSecond(() => {
    for (let k = 0; k < n; k++) driver.add(readable, writable);
    driver.kick();
    for (let k = 0; k < n; k++) {
      const c = queue.pop()!;
      queue.addUsed(c.head, 0);
    }
    queue.needsNotification();
    driver.reclaim();
  }, n);
}

for (const parts of [1, 4]) {
  emit({
    metric: `virtio.split.device.chains.${parts}desc`,
    value: deviceChains(parts),
    unit: 'chains/s',
  });
}
for (const packed of [false, true]) {
  const ring = packed ? 'packed' : 'split';
  for (const parts of [1, 4]) {
    emit({
      metric: `virtio.${ring}.roundtrip.chains.${parts}desc`,
      value: roundTrips(parts, packed),
      unit: 'chains/s',
    });
  }
}

/** Payload copy through a chain's reader and writer: 16 x 4 KiB buffers each way. */
function copy(direction: 'read' | 'write'): number {
  const { driver, queue } = rig(false);
  const parts = Array.from({ length: 16 }, (_, k) => ({ addr: 0x40_0000 + k * 8192, len: 4096 }));
  const buffer = new Uint8Array(16 * 4096).fill(0x5a);
  const ops = opsPerSecond(
    () => {
      driver.add(direction === 'read' ? parts : [], direction === 'write' ? parts : []);
      driver.kick();
      const c = queue.pop()!;
      if (direction === 'read') c.reader().read(buffer);
      else c.writer().write(buffer);
      queue.addUsed(c.head, 0);
      driver.reclaim();
    },
    1,
    { rounds: 3 },
  );
  return (ops * buffer.length) / 1e9;
}
emit({ metric: 'virtio.copy.read', value: copy('read'), unit: 'GB/s', bytesPerChain: 65536 });
emit({ metric: 'virtio.copy.write', value: copy('write'), unit: 'GB/s', bytesPerChain: 65536 });

/**
 * Notifications per 1000 buffers in a deterministic guest/backend exchange. The driver adds one
 * buffer per tick and kicks when the kick decision says so. The backend wakes LATENCY ticks after
 * a notification, with notifications disabled meanwhile (the vhost pattern), drains the ring,
 * returns everything and re-enables with a re-check. The driver wants to hear about completions
 * once per USED_BATCH buffers: with EVENT_IDX it says so in used_event; flags can only say on or
 * off, so without EVENT_IDX it leaves them on and is interrupted after every drain.
 */
function notifications(eventIdx: boolean) {
  const LATENCY = 4;
  const USED_BATCH = 16;
  const mem = memory();
  const layout = SplitQueueDriver.layoutAt(0x1000, SIZE);
  const driver = new SplitQueueDriver(mem, layout, { eventIdx });
  const queue = new SplitVirtqueue(mem, layout, { eventIdx });
  let kicks = 0;
  let interrupts = 0;
  let wakeAt = -1;
  const reclaim = () => {
    driver.reclaim();
    if (eventIdx) driver.setUsedEvent(driver.lastUsedIndex + USED_BATCH - 1);
  };
  reclaim();
  for (let tick = 0; tick < 1000; tick++) {
    if (driver.freeDescriptors === 0) reclaim(); // out of buffers: poll the used ring
    driver.add([{ addr: 0x10_0000, len: 64 }]);
    if (driver.kick()) {
      kicks++;
      if (wakeAt < 0) {
        wakeAt = tick + LATENCY;
        queue.disableNotification();
      }
    }
    if (wakeAt >= 0 && tick >= wakeAt) {
      wakeAt = -1;
      do {
        for (let c = queue.pop(); c !== undefined; c = queue.pop()) queue.addUsed(c.head, 0);
        if (queue.needsNotification()) {
          interrupts++;
          reclaim();
        }
      } while (queue.enableNotification());
    }
  }
  return { kicks, interrupts };
}
for (const eventIdx of [false, true]) {
  const n = notifications(eventIdx);
  emit({
    metric: `virtio.split.notifications.${eventIdx ? 'event-idx' : 'flags'}`,
    value: n.kicks + n.interrupts,
    unit: 'notifications/1000 buffers',
    kicks: n.kicks,
    interrupts: n.interrupts,
  });
}
