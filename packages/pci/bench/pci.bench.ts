import { Ecam, PciFunction, PciSegment, routingId } from '@vmkit/pci';
import { emit, opsPerSecond } from '@vmkit/test-kit';

const seg = new PciSegment();
const fn = new PciFunction({
  vendorId: 0x8086,
  deviceId: 0x10ca,
  classCode: 0x020000,
  bars: [{ index: 0, kind: 'memory64', size: 0x4000 }],
});
fn.addPciExpress();
fn.addMsix({ vectors: 3, tableBar: 0, tableOffset: 0x2000, pbaBar: 0, pbaOffset: 0x3000 });
const rid = routingId(0, 3, 0);
seg.hotAdd(rid, fn);
const ecam = new Ecam(seg);
const N = 1024;
const offsets = Uint16Array.from({ length: N }, (_, i) => (i * 4) & 0xfc);

let sink = 0;
emit({
  metric: 'pci.config.read32',
  value: opsPerSecond(() => {
    for (const o of offsets) sink ^= fn.config.read(o, 4);
  }, N),
  unit: 'ops/s',
});
emit({
  metric: 'pci.config.write16.command',
  value: opsPerSecond(() => {
    for (let i = 0; i < N; i++) fn.config.write(0x04, 2, i & 0x0404);
  }, N),
  unit: 'ops/s',
  note: 'each write runs the decode-change hook',
});
emit({
  metric: 'pci.segment.configRead32',
  value: opsPerSecond(() => {
    for (const o of offsets) sink ^= seg.configRead(rid, o, 4);
  }, N),
  unit: 'ops/s',
});
const base = 3 << 15;
emit({
  metric: 'pci.ecam.read32',
  value: opsPerSecond(() => {
    for (const o of offsets) sink ^= Number(ecam.read(base + o, 4));
  }, N),
  unit: 'ops/s',
});
if (sink === 0.5) console.log(sink);
