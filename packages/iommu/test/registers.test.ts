import { GuestPhysicalMemory } from '@vmkit/memory';
import { describe, expect, it } from 'vitest';
import {
  BumpAllocator,
  ContextTables,
  DmaFaultError,
  type InterruptMessage,
  Iommu,
  SecondLevelTables,
  VtdRegisters,
} from '../src/index.js';

const BASE = 0xfed9_0000;
const field = (v: bigint, hi: number, lo: number) =>
  Number((v >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n));

function setup() {
  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 0x100_0000 }] });
  const iommu = new Iommu({ tables: mem, memory: mem });
  const events: InterruptMessage[] = [];
  const regs = new VtdRegisters(iommu, (m) => events.push(m));
  mem.addMmio({ name: 'dmar', base: BASE, size: regs.size, handler: regs });
  const pages = new BumpAllocator(mem, 0x80_0000, 0x40_0000);
  const contexts = new ContextTables(mem, pages);
  const pt = new SecondLevelTables(mem, pages, 4);
  pt.map(0, 0x10_0000, 0x2000, { read: true, write: true });
  contexts.setContext(0x18, { domainId: 3, addressWidth: 48, pageTable: pt.root });
  return { mem, iommu, regs, events, contexts, pt };
}

describe('VT-d register interface', () => {
  it('reports capabilities in the CAP and ECAP layouts', () => {
    const { mem } = setup();
    const cap = mem.read64(BASE + 0x08);
    expect(field(cap, 2, 0)).toBe(6); // ND: 16-bit domain IDs
    expect(field(cap, 12, 8)).toBe(0b00110); // SAGAW: 39-bit (bit 1) and 48-bit (bit 2)
    expect(field(cap, 21, 16)).toBe(47); // MGAW - 1
    expect(field(cap, 33, 24) * 16).toBe(0x200); // FRO
    expect(field(cap, 37, 34)).toBe(0b11); // SLLPS: 2 MiB and 1 GiB
    expect(field(cap, 39, 39)).toBe(1); // PSI
    expect(field(cap, 47, 40)).toBe(7); // NFR: 8 records
    const ecap = mem.read64(BASE + 0x10);
    expect(field(ecap, 1, 1)).toBe(0); // QI: no queued invalidation
    expect(field(ecap, 3, 3)).toBe(1); // IR
    expect(field(ecap, 6, 6)).toBe(1); // PT
    expect(field(ecap, 17, 8) * 16).toBe(0x100); // IRO
    expect(mem.read32(BASE)).toBe(0x10);
  });

  it('is programmed the way an IOMMU driver does it, and then blocks and reports faults', () => {
    const { mem, iommu, contexts, events } = setup();
    const dev = iommu.dmaMemory(0x18);
    mem.write64(BASE + 0x20, BigInt(contexts.rootTable)); // RTADDR
    mem.write32(BASE + 0x18, 1 << 30); // GCMD.SRTP
    expect(mem.read32(BASE + 0x1c) & (1 << 30)).not.toBe(0); // GSTS.RTPS
    mem.write64(BASE + 0x28, (1n << 63n) | (1n << 61n)); // CCMD: ICC, global
    expect(mem.read64(BASE + 0x28) >> 59n).toBe((0b01n << 2n) | 0b01n); // ICC clear, CIRG and CAIG = global
    mem.write64(BASE + 0x108, (1n << 63n) | (1n << 60n)); // IOTLB: IVT, global
    expect(mem.read64(BASE + 0x108) >> 57n).toBe((0b01n << 3n) | 0b01n); // IVT clear, IIRG and IAIG = global
    expect(dev.read8(0x5000)).toBe(0); // translation still off: passes through
    mem.write32(BASE + 0x18, 1 << 31); // GCMD.TE
    expect(mem.read32(BASE + 0x1c) >>> 31).toBe(1);
    dev.write32(0x10, 0xabcd);
    expect(mem.read32(0x10_0010)).toBe(0xabcd);
    // Fault events are masked at reset; program and unmask them, then fault.
    mem.write32(BASE + 0x3c, 0x4021);
    mem.write32(BASE + 0x40, 0xfee0_0000);
    expect(() => dev.write32(0x5000, 1)).toThrow(DmaFaultError);
    expect(mem.read32(BASE + 0x38)).toBe(0xc000_0000 >>> 0); // IM and IP
    expect(events).toEqual([]);
    mem.write32(BASE + 0x38, 0);
    expect(events).toEqual([
      { addressLow: 0xfee0_0000, addressHigh: 0, data: 0x4021, requesterId: 0 },
    ]);
    expect(mem.read32(BASE + 0x34)).toBe(0x0102); // FSTS: PPF, FRI = 1
    const hi = mem.read64(BASE + 0x208);
    expect(mem.read64(BASE + 0x200)).toBe(0x5000n);
    expect(field(hi, 15, 0)).toBe(0x18); // SID
    expect(field(hi, 39, 32)).toBe(0x05); // FR: write not permitted
    expect(field(hi, 63, 63)).toBe(1); // F
    // A second fault while PPF is set raises no new event.
    expect(() => dev.read8(0x9000)).toThrow(DmaFaultError);
    expect(events.length).toBe(1);
    mem.write32(BASE + 0x20c, 0x8000_0000); // write 1 to F of record 0
    expect(mem.read64(BASE + 0x208) >> 63n).toBe(0n);
    mem.write32(BASE + 0x18, 0); // TE off
    expect(mem.read32(BASE + 0x1c) >>> 31).toBe(0);
  });

  it('performs page-selective IOTLB invalidation from IVA (ADDR, AM) and DID', () => {
    const { mem, iommu, contexts, pt } = setup();
    mem.write64(BASE + 0x20, BigInt(contexts.rootTable));
    mem.write32(BASE + 0x18, 1 << 30);
    mem.write32(BASE + 0x18, 1 << 31);
    const dev = iommu.dmaMemory(0x18);
    mem.write8(0x10_1000, 7);
    expect(dev.read8(0x1000)).toBe(7);
    pt.unmap(0x1000, 0x1000);
    expect(dev.read8(0x1000)).toBe(7); // stale IOTLB entry
    mem.write64(BASE + 0x100, 0x1000n); // IVA: ADDR 0x1000, AM 0
    mem.write64(BASE + 0x108, (1n << 63n) | (3n << 60n) | (3n << 32n)); // page-selective, DID 3
    expect(() => dev.read8(0x1000)).toThrow(DmaFaultError);
    expect(dev.read8(0x0)).toBe(0); // the other page is still mapped
  });
});
