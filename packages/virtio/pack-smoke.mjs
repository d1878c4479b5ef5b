// Run by scripts/pack-install-test.mjs in an empty project where only the packed
// tarballs are installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import { GuestPhysicalMemory } from '@vmkit/memory';
import { needEvent, SplitVirtqueue } from '@vmkit/virtio';
import { SplitQueueDriver } from '@vmkit/virtio/testing';

const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 1 << 20 }] });
const layout = SplitQueueDriver.layoutAt(0x1000, 8);
const driver = new SplitQueueDriver(mem, layout);
const queue = new SplitVirtqueue(mem, layout);
driver.add([], [{ addr: 0x8000, len: 4 }]);
driver.kick();
const chain = queue.pop();
assert.equal(chain.writableBytes, 4);
assert.equal(needEvent(0, 1, 0), true);
