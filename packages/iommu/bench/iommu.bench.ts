import { BumpAllocator, ContextTables, Iommu, SecondLevelTables } from '@vmkit/iommu';
import { GuestPhysicalMemory } from '@vmkit/memory';
import { emit, opsPerSecond } from '@vmkit/test-kit';

const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 256 * 2 ** 20 }] });
const pages = new BumpAllocator(mem, 128 * 2 ** 20, 64 * 2 ** 20);
const contexts = new ContextTables(mem, pages);
const pt = new SecondLevelTables(mem, pages, 4);
const SPAN = 64 * 2 ** 20; // 16 Ki pages of 4 KiB
pt.map(0, 0, SPAN, { read: true, write: true }, [4096]);
const SID = 0x0310;
contexts.setContext(SID, { domainId: 1, addressWidth: 48, pageTable: pt.root });
const iommu = new Iommu({ tables: mem, memory: mem, iotlbEntries: 4096 });
iommu.dma.setRootTable(contexts.rootTable);
iommu.dma.translationEnabled = true;
const unit = iommu.dma;

const N = 4096;
// Hits: 512 distinct pages, all resident in the IOTLB after the warm-up.
const hot = Float64Array.from({ length: N }, (_, i) => (i % 512) * 4096 + ((i * 8) % 4096));
// Misses: a stride through 16 Ki pages with a 4096-entry IOTLB always misses.
const cold = Float64Array.from({ length: N }, (_, i) => ((i * 4099) % 16384) * 4096);
let sink = 0;
emit({
  metric: 'iommu.translate.iotlb-hit',
  value: opsPerSecond(() => {
    for (const a of hot) sink += unit.translateOrThrow(SID, a, false, 4);
  }, N),
  unit: 'translations/s',
});
let i = 0;
emit({
  metric: 'iommu.translate.iotlb-miss',
  value: opsPerSecond(() => {
    unit.invalidateIotlb({ granularity: 'global' });
    for (const a of cold) sink += unit.translateOrThrow(SID, a + (i++ & 0xff8), false, 4);
  }, N),
  unit: 'translations/s',
  note: '4-level walk, 4 paging-entry reads each',
});
const dev = iommu.dmaMemory(SID);
emit({
  metric: 'iommu.dma.read32.iotlb-hit',
  value: opsPerSecond(() => {
    for (const a of hot) sink ^= dev.read32(a);
  }, N),
  unit: 'ops/s',
});
emit({
  metric: 'memory.read32.direct (baseline)',
  value: opsPerSecond(() => {
    for (const a of hot) sink ^= mem.read32(a);
  }, N),
  unit: 'ops/s',
});
const buf = new Uint8Array(1500);
emit({
  metric: 'iommu.dma.readBytes.1500B',
  value: opsPerSecond(() => {
    for (let k = 0; k < 256; k++) dev.readBytes(k * 4096 + 100, buf);
  }, 256),
  unit: 'ops/s',
});
if (sink === 0.5) console.log(sink);
