// Run by scripts/pack-install-test.mjs in an empty project where only the packed
// tarballs are installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import { GuestPhysicalMemory } from '@vmkit/memory';
import { ShadowMmu, ShadowOutcome } from '@vmkit/shadow-paging';

const host = new GuestPhysicalMemory({ ram: [{ base: 0, size: 0x80_0000 }] });
const p2m = (gfn) => (gfn < 0x400 ? 0x40_0000 + gfn * 4096 : -1);
const put = (gpa, v) => host.write32(0x40_0000 + gpa, v);
put(0x1000, 0x2027);
put(0x2000, 0x3027);
put(0x3000, 0x4027);
put(0x4008, 0x9067);
const shadow = new ShadowMmu(host, {
  p2m,
  shadowMemory: { base: 0x10_0000, limit: 0x20_0000 },
  guest: { cr0: 0x8001_0001, cr4: 0x20, efer: 0x500, cr3: 0x1000n },
});
assert.equal(shadow.translate(0, 0x1234, 0), ShadowOutcome.OK);
assert.equal(shadow.result.hostPhysical, 0x40_9234);
