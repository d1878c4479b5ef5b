// Run by scripts/pack-install-test.mjs in an empty project where only the packed
// tarballs are installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import { decodeBarSize, PciFunction, PciSegment, routingId } from '@vmkit/pci';

const fn = new PciFunction({
  vendorId: 0x8086,
  deviceId: 0x10ca,
  classCode: 0x020000,
  bars: [{ index: 0, kind: 'memory64', size: 0x4000 }],
});
const seg = new PciSegment();
seg.hotAdd(routingId(0, 3, 0), fn);
seg.configWrite(routingId(0, 3, 0), 0x10, 4, 0xffff_ffff);
seg.configWrite(routingId(0, 3, 0), 0x14, 4, 0xffff_ffff);
assert.equal(
  decodeBarSize(
    seg.configRead(routingId(0, 3, 0), 0x10, 4),
    seg.configRead(routingId(0, 3, 0), 0x14, 4),
  ),
  0x4000,
);
