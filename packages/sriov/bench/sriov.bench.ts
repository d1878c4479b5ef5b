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

// NIC: frames from VF1's driver to VF2's driver through TX DMA, the L2 switch and RX DMA, all
// through the IOMMU, with MSI-X interrupts to the APIC bus; and VF1 to the wire.
{
  const { nicHost } = await import('../test/nic-fixture.js');
  const { buildFrame, parseMac, Wire } = await import('@vmkit/sriov');
  const host = nicHost(2);
  const [a, b] = host.drivers;
  const frame = buildFrame(b!.mac, a!.mac, 0x0800, new Uint8Array(1500 - 14));
  const BATCH = 32;
  emit({
    metric: 'sriov.nic.vf-to-vf.1500B',
    value: opsPerSecond(() => {
      for (let i = 0; i < BATCH; i++) a!.send(frame);
      b!.receive();
      for (const c of host.apics.cpus) while (c.acknowledge() >= 0) c.eoi();
    }, BATCH),
    unit: 'packets/s',
  });
  const out = buildFrame(parseMac('00:1b:21:00:00:01'), a!.mac, 0x0800, new Uint8Array(1500 - 14));
  emit({
    metric: 'sriov.nic.vf-to-wire.1500B',
    value: opsPerSecond(() => {
      for (let i = 0; i < BATCH; i++) a!.send(out);
      for (const c of host.apics.cpus) while (c.acknowledge() >= 0) c.eoi();
    }, BATCH),
    unit: 'packets/s',
    lineRate: Math.round(1e9 / new Wire().frameTimeNs(out.length)),
    note: 'lineRate: frames/s a 10 GbE wire carries at this size',
  });
}
