// Run by scripts/pack-install-test.mjs in an empty project where only the packed
// tarballs are installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import { Ept, EptBuilder } from '@vmkit/ept';
import { GuestPhysicalMemory } from '@vmkit/memory';

const host = new GuestPhysicalMemory({ ram: [{ base: 0, size: 0x40_0000 }] });
const b = new EptBuilder(host, { tableBase: 0x1000, tableLimit: 0x10_0000 });
b.map(0, 0x20_0000, 0x1000);
const ept = new Ept(host, { eptp: b.eptp() });
assert.equal(ept.translate(0x123, 1, 0, 0), 0x20_0123);
