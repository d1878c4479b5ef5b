import { GuestMemoryError } from '@vmkit/memory';
import { describeGuestMemory } from '@vmkit/memory/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DmaFaultError, FaultReason } from '../src/index.js';
import { setup } from './helpers.js';

const SID = 0x0310;
const RW = { read: true, write: true };

// An identity-like mapping: IOVA = host address for [0, 8 MiB), nothing above.
describeGuestMemory('DmaMemory through an identity-mapped domain', () => {
  const { iommu, contexts, domain } = setup();
  const pt = domain();
  pt.map(0, 0, 8 * 2 ** 20, RW);
  contexts.setContext(SID, { domainId: 1, addressWidth: 48, pageTable: pt.root });
  return { mem: iommu.dmaMemory(SID), ramBase: 0x1_0000, hole: 9 * 2 ** 20 };
});

describeGuestMemory('DmaMemory through a pass-through context', () => {
  const { iommu, contexts } = setup();
  contexts.setContext(SID, { domainId: 2, addressWidth: 48, translation: 'pass-through' });
  return { mem: iommu.dmaMemory(SID), ramBase: 0x1_0000, hole: 40 * 2 ** 20 };
});

describe('DMA through the IOMMU', () => {
  it('relocates: device addresses land where the domain maps them, 4 KiB and 2 MiB pages alike', () => {
    const { iommu, contexts, domain, mem } = setup();
    const pt = domain();
    pt.map(0x1000, 0x30_0000, 0x2000, RW);
    pt.map(0x40_0000, 0x60_0000, 0x20_0000, RW);
    contexts.setContext(SID, { domainId: 1, addressWidth: 48, pageTable: pt.root });
    const dev = iommu.dmaMemory(SID);
    dev.write32(0x1ffe, 0xaabb_ccdd); // straddles two 4 KiB pages mapped contiguously
    expect(mem.read32(0x30_0ffe)).toBe(0xaabb_ccdd);
    dev.writeBytes(0x40_0000 + 0x1f_fff0, new Uint8Array(16).fill(7));
    expect(mem.read8(0x7f_ffff)).toBe(7);
    expect(iommu.dma.iotlb.size).toBe(3); // two 4 KiB entries and one 2 MiB entry
  });

  it('blocks a DMA outside the domain, records the fault, and performs none of it', () => {
    const { iommu, contexts, domain, mem } = setup();
    const pt = domain();
    pt.map(0x1000, 0x30_0000, 0x1000, RW);
    pt.map(0x3000, 0x30_2000, 0x1000, { read: true, write: false });
    contexts.setContext(SID, { domainId: 1, addressWidth: 48, pageTable: pt.root });
    const dev = iommu.dmaMemory(SID);
    mem.fill(0x30_0000, 0x3000, 0x55);
    // A write spanning a mapped page and an unmapped one is refused whole.
    expect(() => dev.writeBytes(0x1800, new Uint8Array(0x1000))).toThrow(DmaFaultError);
    expect(mem.read8(0x30_0800)).toBe(0x55);
    expect(() => dev.write32(0x3000, 1)).toThrow(
      expect.objectContaining({ reason: FaultReason.WRITE_NOT_PERMITTED, address: 0x3000 }),
    );
    expect(dev.read8(0x3000)).toBe(0x55);
    expect(iommu.dma.faults.pending().map((f) => [f.reason, f.faultInfo, f.read])).toEqual([
      [0x05, 0x2000, false],
      [0x05, 0x3000, false],
    ]);
    // Another requester with no context entry reaches nothing.
    expect(() => iommu.dmaMemory(0x0311).read8(0x1000)).toThrow(
      expect.objectContaining({ reason: FaultReason.CONTEXT_NOT_PRESENT }),
    );
    expect(iommu.dmaMemory(0x0311).contains(0x1000, 1)).toBe(false);
  });

  it('keeps a stale translation until the IOTLB is invalidated (page-, domain-selective, global)', () => {
    const { iommu, contexts, domain, mem } = setup();
    const pt = domain();
    pt.map(0x1000, 0x30_0000, 0x1000, RW);
    pt.map(0x20_0000, 0x40_0000, 0x20_0000, RW);
    contexts.setContext(SID, { domainId: 1, addressWidth: 48, pageTable: pt.root });
    const dev = iommu.dmaMemory(SID);
    dev.write8(0x1000, 1);
    dev.write8(0x20_0000, 2);
    pt.unmap(0x1000, 0x1000);
    pt.unmap(0x20_0000, 0x20_0000);
    expect(dev.read8(0x1000)).toBe(1); // stale but cached: what hardware does
    iommu.dma.invalidateIotlb({
      granularity: 'page',
      domainId: 2,
      address: 0x1000,
      addressMask: 0,
    });
    expect(dev.read8(0x1000)).toBe(1); // wrong domain: nothing invalidated
    iommu.dma.invalidateIotlb({
      granularity: 'page',
      domainId: 1,
      address: 0x1000,
      addressMask: 0,
    });
    expect(() => dev.read8(0x1000)).toThrow(DmaFaultError);
    // A 4 KiB page-selective invalidation inside the superpage removes the whole 2 MiB entry.
    expect(dev.read8(0x20_0000)).toBe(2);
    iommu.dma.invalidateIotlb({
      granularity: 'page',
      domainId: 1,
      address: 0x30_0000,
      addressMask: 0,
    });
    expect(() => dev.read8(0x20_0000)).toThrow(DmaFaultError);
    pt.map(0x5000, 0x30_5000, 0x1000, RW);
    mem.write8(0x30_5000, 9);
    expect(dev.read8(0x5000)).toBe(9);
    iommu.dma.invalidateIotlb({ granularity: 'domain', domainId: 1 });
    expect(iommu.dma.iotlb.size).toBe(0);
    expect(iommu.dma.iotlb.hits).toBeGreaterThan(0);
  });

  it('keeps a stale context until the context cache is invalidated', () => {
    const { iommu, contexts, domain } = setup();
    const pt = domain();
    pt.map(0, 0, 0x1000, RW);
    contexts.setContext(SID, { domainId: 1, addressWidth: 48, pageTable: pt.root });
    const dev = iommu.dmaMemory(SID);
    dev.read8(0);
    contexts.clearContext(SID);
    expect(dev.read8(0)).toBe(0);
    iommu.dma.invalidateContextCache({
      granularity: 'device',
      domainId: 1,
      sourceId: SID & ~7,
      functionMask: 3,
    });
    iommu.dma.invalidateIotlb({ granularity: 'domain', domainId: 1 });
    expect(() => dev.read8(0)).toThrow(
      expect.objectContaining({ reason: FaultReason.CONTEXT_NOT_PRESENT }),
    );
  });

  it('rejects non-integer and out-of-range addresses as GuestMemoryError', () => {
    const { iommu } = setup();
    const dev = iommu.dmaMemory(SID);
    for (const bad of [-1, 0.5, 2 ** 52, Number.NaN]) {
      expect(() => dev.read32(bad)).toThrow(GuestMemoryError);
    }
  });
});

describe('isolation property (fast-check)', () => {
  it('every DMA either lands where the domain maps it or faults with nothing performed', () => {
    const page = fc.integer({ min: 0, max: 63 });
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(page, fc.integer({ min: 0, max: 15 }), fc.boolean()), {
          selector: (t) => t[0],
          maxLength: 20,
        }),
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 64 * 4096 - 8 }),
            fc.constantFrom(1, 2, 4, 8),
            fc.boolean(),
          ),
          {
            maxLength: 30,
          },
        ),
        (mappings, accesses) => {
          const { iommu, contexts, domain, mem } = setup({ levels: 3 });
          const pt = domain();
          const model = new Map<number, { hpa: number; write: boolean }>();
          for (const [p, frame, writable] of mappings) {
            const hpa = 0x20_0000 + frame * 4096;
            pt.map(p * 4096, hpa, 4096, { read: true, write: writable });
            model.set(p, { hpa, write: writable });
          }
          contexts.setContext(SID, { domainId: 1, addressWidth: 39, pageTable: pt.root });
          const dev = iommu.dmaMemory(SID);
          const snapshot = () => {
            const b = new Uint8Array(0x1_0000);
            mem.readBytes(0x20_0000, b);
            return b;
          };
          for (const [iova, size, write] of accesses) {
            const pages = [Math.floor(iova / 4096), Math.floor((iova + size - 1) / 4096)];
            const allowed = pages.every((p) => model.has(p) && (!write || model.get(p)!.write));
            const before = write ? snapshot() : undefined;
            let ok = true;
            try {
              if (write) {
                if (size === 8) dev.write64(iova, 0x0102_0304_0506_0708n);
                else if (size === 4) dev.write32(iova, 0x0a0b_0c0d);
                else if (size === 2) dev.write16(iova, 0xeeff);
                else dev.write8(iova, 0x5a);
              } else {
                dev.readBytes(iova, new Uint8Array(size));
              }
            } catch (e) {
              if (!(e instanceof DmaFaultError)) throw e;
              ok = false;
            }
            expect(ok).toBe(allowed);
            if (write && !ok)
              expect(Buffer.from(snapshot()).equals(Buffer.from(before!))).toBe(true);
            if (write && ok) {
              const hpa = model.get(pages[0]!)!.hpa + (iova % 4096);
              if (pages[0] === pages[1])
                expect(mem.read8(hpa)).toBe([0, 0x5a, 0xff, 0, 0x0d, 0, 0, 0, 0x08][size]);
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('never throws anything but typed faults on random table contents (fuzz)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.nat(2 ** 39 - 1),
        fc.boolean(),
        (junk, iova, write) => {
          const { iommu, contexts, domain, mem } = setup({ levels: 3 });
          const pt = domain();
          contexts.setContext(SID, { domainId: 1, addressWidth: 39, pageTable: pt.root });
          // Scribble over the context entry and the top-level table.
          const ctxAddr = contexts.rootTable + 4096 + 0x10 * 16;
          mem.writeBytes(ctxAddr, junk.subarray(0, 16));
          mem.writeBytes(pt.root + (Math.floor(iova / 2 ** 30) % 512) * 8, junk.subarray(16, 24));
          const r = iommu.dma.translate(SID, iova, write);
          if (!r.ok) expect(Object.values(FaultReason)).toContain(r.reason);
        },
      ),
      { numRuns: 200 },
    );
  });
});
