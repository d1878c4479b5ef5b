import { GuestPhysicalMemory } from '@vmkit/memory';
import { BumpAllocator, ContextTables, Iommu, SecondLevelTables } from '../src/index.js';

/** Host memory: tables at 16 MiB, guest RAM (the DMA target) in the first 16 MiB. */
export function setup(options: { levels?: 3 | 4 | 5 } = {}) {
  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 32 * 2 ** 20 }] });
  const pages = new BumpAllocator(mem, 16 * 2 ** 20, 16 * 2 ** 20);
  const contexts = new ContextTables(mem, pages);
  const iommu = new Iommu({ tables: mem, memory: mem, sagaw: [39, 48, 57] });
  iommu.dma.setRootTable(contexts.rootTable);
  iommu.dma.translationEnabled = true;
  const levels = options.levels ?? 4;
  const domain = () => new SecondLevelTables(mem, pages, levels);
  return { mem, pages, contexts, iommu, domain, levels };
}

/** Writes a raw 64-bit entry from a bigint, as a test transcribing the spec bit layout. */
export function poke(mem: GuestPhysicalMemory, address: number, value: bigint): void {
  mem.write64(address, value);
}
