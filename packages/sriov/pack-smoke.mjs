// Run by scripts/pack-install-test.mjs in an empty project where only the packed
// tarballs are installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import { PciFunction, PciSegment } from '@vmkit/pci';
import { SriovPfDriver, SriovPhysicalFunction } from '@vmkit/sriov';

const segment = new PciSegment();
const pf = new PciFunction({ vendorId: 0x8086, deviceId: 0x10fb, classCode: 0x020000 });
new SriovPhysicalFunction(pf, segment, {
  totalVfs: 8,
  vfDeviceId: 0x10ed,
  routing: { firstVfOffset: 0x80, vfStride: 2 },
  vf: { classCode: 0x020000 },
});
segment.hotAdd(0x0300, pf);
const driver = new SriovPfDriver(segment, 0x0300, { base: 0xe000_0000, size: 0x100_0000 });
assert.deepEqual(driver.setNumVfs(2), [0x0380, 0x0382]);
