import { PciFunction, PciSegment, routingId } from '@vmkit/pci';
import { SriovPfDriver, SriovPhysicalFunction } from '@vmkit/sriov';
import { emit, opsPerSecond } from '@vmkit/test-kit';

const segment = new PciSegment();
const pf = new PciFunction({ vendorId: 0x8086, deviceId: 0x10fb, classCode: 0x020000 });
pf.addPciExpress();
new SriovPhysicalFunction(pf, segment, {
  totalVfs: 63,
  vfDeviceId: 0x10ed,
  routing: { firstVfOffset: 0x80, vfStride: 2 },
  vfBars: [{ index: 0, kind: 'memory64', size: 0x4000 }],
  vf: { classCode: 0x020000 },
  setupVf: (vf) => {
    vf.addPciExpress();
    vf.addMsix({ vectors: 3, tableBar: 0, tableOffset: 0x2000, pbaBar: 0, pbaOffset: 0x3000 });
  },
});
const rid = routingId(3, 0, 0);
segment.hotAdd(rid, pf);
const driver = new SriovPfDriver(segment, rid, { base: 0xe000_0000, size: 0x1000_0000 });
emit({
  metric: 'sriov.enable+disable.63vfs',
  value: opsPerSecond(
    () => {
      driver.setNumVfs(63);
      driver.setNumVfs(0);
    },
    1,
    { minMs: 100, rounds: 3 },
  ),
  unit: 'cycles/s',
});
driver.setNumVfs(63);
let sink = 0;
const vfRids = driver.vfRoutingIds(63);
emit({
  metric: 'sriov.vf.configRead32',
  value: opsPerSecond(() => {
    for (const r of vfRids) sink ^= segment.configRead(r, 0x04, 4);
  }, 63),
  unit: 'ops/s',
});
if (sink === 0.5) console.log(sink);
