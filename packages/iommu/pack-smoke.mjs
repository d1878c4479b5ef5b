// Run by scripts/pack-install-test.mjs in an empty project where only the packed
// tarballs are installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import { BumpAllocator, ContextTables, Iommu, SecondLevelTables } from '@vmkit/iommu';
import { GuestPhysicalMemory } from '@vmkit/memory';

const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 4 * 2 ** 20 }] });
const pages = new BumpAllocator(mem, 2 * 2 ** 20, 2 ** 20);
const contexts = new ContextTables(mem, pages);
const pt = new SecondLevelTables(mem, pages, 4);
pt.map(0, 0x10_0000, 0x1000, { read: true, write: true });
contexts.setContext(0x18, { domainId: 1, addressWidth: 48, pageTable: pt.root });
const iommu = new Iommu({ tables: mem, memory: mem });
iommu.dma.setRootTable(contexts.rootTable);
iommu.dma.translationEnabled = true;
iommu.dmaMemory(0x18).write32(0x10, 42);
assert.equal(mem.read32(0x10_0010), 42);
assert.throws(() => iommu.dmaMemory(0x18).read8(0x1000));
