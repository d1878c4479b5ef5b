import { GuestPhysicalMemory } from '@vmkit/memory';
import { emit, opsPerSecond } from '@vmkit/test-kit';
import { SplitVirtqueue } from '@vmkit/virtio';
import { SplitQueueDriver } from '@vmkit/virtio/testing';

const SIZE = 256;
const BATCH = 128;

function rig(eventIdx = false) {
  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 64 * 2 ** 20 }] });
  const layout = SplitQueueDriver.layoutAt(0x1000, SIZE);
  const driver = new SplitQueueDriver(mem, layout, { eventIdx });
  const queue = new SplitVirtqueue(mem, layout, { eventIdx });
  return { mem, driver, queue };
}

/** Chains/s for chains of `parts` descriptors: driver adds, device pops and returns. */
function chains(parts: number): number {
  const { driver, queue } = rig();
  const readable = Array.from({ length: parts - 1 }, (_, k) => ({
    addr: 0x10_0000 + k * 64,
    len: 64,
  }));
  const writable = [{ addr: 0x20_0000, len: 64 }];
  const n = Math.floor(BATCH / parts);
  // One round: the driver adds n chains and kicks, the device pops and returns them all, the
  // driver reclaims. Both sides are in the figure, as in a guest/backend pair.
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

emit({ metric: 'virtio.split.chains.1desc', value: chains(1), unit: 'chains/s' });
emit({ metric: 'virtio.split.chains.4desc', value: chains(4), unit: 'chains/s' });
