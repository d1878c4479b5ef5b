// Run by scripts/pack-install-test.mjs in an empty project where only the packed
// tarballs are installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import { ApicBus, composeMsi } from '@vmkit/interrupts';

const bus = new ApicBus({ cpus: 2 });
const msi = composeMsi({
  vector: 0x41,
  destination: 1,
  destinationMode: 'physical',
  deliveryMode: 0,
  triggerMode: 'edge',
});
bus.deliverMsi({ ...msi, requesterId: 0x18 });
assert.equal(bus.cpus[1].acknowledge(), 0x41);
