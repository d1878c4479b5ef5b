// Run by scripts/pack-install-test.mjs in an empty project where only the packed tarballs are
// installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import { GuestMemoryError, GuestPhysicalMemory } from '@vmkit/memory';

const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 2 ** 30 }] });
mem.startDirtyLog();
mem.write64(0x2000, 0x1122_3344_5566_7788n);
assert.equal(mem.read32(0x2004), 0x1122_3344);
assert.deepEqual(mem.harvestDirtyPages(), [0x2000]);
assert.throws(() => mem.read8(2 ** 30), GuestMemoryError);
