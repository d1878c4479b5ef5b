import { GuestPhysicalMemory } from '@vmkit/memory';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeFaultRecord,
  FaultReason,
  InterruptRemappingTable,
  Iommu,
  type RemappedInterrupt,
  remappableMsi,
} from '../src/index.js';

const IRT = 0x10_0000;
const NIC = 0x0310;

function setup(x2apic = false) {
  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 0x20_0000 }] });
  const got: RemappedInterrupt[] = [];
  const iommu = new Iommu({
    tables: mem,
    memory: mem,
    interruptSink: { deliverInterrupt: (i) => got.push(i) },
  });
  const table = new InterruptRemappingTable(mem, IRT, 7, x2apic); // 256 entries
  iommu.interrupts.setTable({ address: IRT, sizeField: 7, extendedInterruptMode: x2apic });
  iommu.interrupts.remappingEnabled = true;
  return { mem, iommu, table, got };
}

describe('IRTE format (VT-d §9.10)', () => {
  it('is written bit-exact: P, FPD, DM, RH, TM, DLM, V, DST, SID, SQ, SVT', () => {
    const { mem, table } = setup();
    table.set(5, {
      vector: 0x41,
      destination: 3,
      destinationMode: 'logical',
      redirectionHint: true,
      triggerMode: 'level',
      deliveryMode: 1,
      faultProcessingDisable: true,
      sourceValidation: 'requester-id',
      sourceId: NIC,
      sourceQualifier: 2,
    });
    const lo = 1n | 2n | 4n | 8n | 0x10n | (1n << 5n) | (0x41n << 16n) | (3n << 40n);
    const hi = BigInt(NIC) | (2n << 16n) | (1n << 18n);
    expect(mem.read64(IRT + 5 * 16)).toBe(lo);
    expect(mem.read64(IRT + 5 * 16 + 8)).toBe(hi);
  });

  it('remaps a remappable-format MSI to the IRTE vector and destination', () => {
    const { iommu, table, got } = setup();
    table.set(0xa5, {
      vector: 0x61,
      destination: 2,
      sourceValidation: 'requester-id',
      sourceId: NIC,
    });
    const { addressLow, data } = remappableMsi(0xa5);
    expect(addressLow).toBe((0xfee0_0000 | (0xa5 << 5) | 0x10) >>> 0);
    iommu.interrupts.deliverMsi({ addressLow, addressHigh: 0, data, requesterId: NIC });
    expect(got).toEqual([
      {
        vector: 0x61,
        destination: 2,
        destinationMode: 'physical',
        deliveryMode: 0,
        triggerMode: 'edge',
        redirectionHint: false,
        requesterId: NIC,
      },
    ]);
  });

  it('adds the subhandle when SHV is set and takes handle bit 15 from address bit 2', () => {
    const { iommu, table } = setup();
    table.set(0x13, { vector: 0x70, destination: 1 });
    const base = remappableMsi(0x10);
    const r = iommu.interrupts.remap({
      addressLow: base.addressLow | 0x8,
      addressHigh: 0,
      data: 3,
      requesterId: 1,
    });
    expect(r).toMatchObject({ ok: true, irq: { vector: 0x70 } });
    expect(remappableMsi(0x8000).addressLow).toBe(0xfee0_0014);
  });

  it('uses 32-bit destinations in extended interrupt mode (x2APIC)', () => {
    const { iommu, table } = setup(true);
    table.set(1, { vector: 0x30, destination: 0x1_0002 });
    expect(
      iommu.interrupts.remap({ ...remappableMsi(1), addressHigh: 0, requesterId: 9 }),
    ).toMatchObject({
      ok: true,
      irq: { destination: 0x1_0002 },
    });
  });
});

describe('source-ID validation (SVT/SQ/SID)', () => {
  /** The spec's rule, written out per SQ value: which requester-ID bits are compared. */
  const compared = [0xffff, 0xfffb, 0xfff9, 0xfff8];
  it('matches the spec table for every SVT/SQ and random requester IDs', () => {
    fc.assert(
      fc.property(
        fc.nat(0xffff),
        fc.nat(0xffff),
        fc.constantFrom(0, 1, 2, 3),
        fc.constantFrom('none', 'requester-id', 'bus-range'),
        (sid, rid, sq, svt) => {
          const { iommu, table } = setup();
          table.set(2, {
            vector: 0x50,
            destination: 0,
            sourceValidation: svt as 'none',
            sourceId: sid,
            sourceQualifier: sq as 0,
          });
          const r = iommu.interrupts.remap({
            ...remappableMsi(2),
            addressHigh: 0,
            requesterId: rid,
          });
          const expected =
            svt === 'none' ||
            (svt === 'requester-id' && (rid & compared[sq]!) === (sid & compared[sq]!)) ||
            (svt === 'bus-range' && rid >>> 8 >= sid >>> 8 && rid >>> 8 <= (sid & 0xff));
          expect(r.ok).toBe(expected);
          if (!r.ok) expect(r.reason).toBe(FaultReason.IR_SOURCE_ID_INVALID);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('blocks an interrupt from a wrong source and records fault 26h with the index', () => {
    const { iommu, table, got } = setup();
    table.set(7, { vector: 0x41, destination: 0, sourceValidation: 'requester-id', sourceId: NIC });
    iommu.interrupts.deliverMsi({ ...remappableMsi(7), addressHigh: 0, requesterId: 0x0318 });
    expect(got).toEqual([]);
    const rec = iommu.dma.faults.pending()[0]!;
    expect(rec).toEqual({ sourceId: 0x0318, reason: 0x26, read: false, faultInfo: 7 });
    // Interrupt faults carry interrupt_index in FI bits 63:48.
    expect(encodeFaultRecord(rec) & 0xffff_ffff_ffff_ffffn).toBe(7n << 48n);
  });
});

describe('interrupt remapping faults (20h-25h)', () => {
  it('reports each blocking condition with its fault reason', () => {
    const { iommu, table, mem } = setup();
    const send = (m: { addressLow: number; data: number }) =>
      iommu.interrupts.remap({ ...m, addressHigh: 0, requesterId: NIC });
    expect(send({ ...remappableMsi(1), data: 0x1_0000 })).toEqual({ ok: false, reason: 0x20 });
    expect(send(remappableMsi(256))).toEqual({ ok: false, reason: 0x21 });
    expect(send(remappableMsi(3))).toEqual({ ok: false, reason: 0x22 });
    table.set(4, { vector: 1, destination: 0 });
    mem.write32(IRT + 4 * 16, mem.read32(IRT + 4 * 16) | (1 << 15)); // IM = 1: posted, unsupported
    expect(send(remappableMsi(4))).toEqual({ ok: false, reason: 0x24 });
    table.set(5, { vector: 1, destination: 0 });
    mem.write32(IRT + 5 * 16 + 4, 0x0000_0001); // xAPIC mode: DST bits 7:0 reserved
    expect(send(remappableMsi(5))).toEqual({ ok: false, reason: 0x24 });
    table.set(6, { vector: 1, destination: 0 });
    mem.write32(IRT + 6 * 16 + 8, 3 << 18); // SVT = 11b reserved
    expect(send(remappableMsi(6))).toEqual({ ok: false, reason: 0x24 });
    expect(send({ addressLow: 0xfee0_0000, data: 0x30 })).toEqual({ ok: false, reason: 0x25 });
    iommu.interrupts.compatibilityFormatAllowed = true;
    expect(send({ addressLow: 0xfee0_1000, data: 0x8031 })).toMatchObject({
      ok: true,
      irq: { vector: 0x31, destination: 1, triggerMode: 'level' },
    });
    expect(iommu.dma.faults.pending().map((f) => f.reason)).toEqual([
      0x20, 0x21, 0x22, 0x24, 0x24, 0x24, 0x25,
    ]);
  });

  it('caches IRTEs until the interrupt entry cache is invalidated', () => {
    const { iommu, table } = setup();
    table.set(9, { vector: 0x40, destination: 0 });
    const m = { ...remappableMsi(9), addressHigh: 0, requesterId: 1 };
    expect(iommu.interrupts.remap(m)).toMatchObject({ irq: { vector: 0x40 } });
    table.set(9, { vector: 0x41, destination: 0 });
    expect(iommu.interrupts.remap(m)).toMatchObject({ irq: { vector: 0x40 } });
    iommu.interrupts.invalidateEntryCache(8, 1);
    expect(iommu.interrupts.remap(m)).toMatchObject({ irq: { vector: 0x41 } });
    table.clear(9);
    iommu.interrupts.invalidateEntryCache();
    expect(iommu.interrupts.remap(m)).toEqual({ ok: false, reason: 0x22 });
  });

  it('suppresses fault recording for an IRTE with FPD, still blocking', () => {
    const { iommu, table } = setup();
    table.set(3, {
      vector: 1,
      destination: 0,
      faultProcessingDisable: true,
      sourceValidation: 'requester-id',
      sourceId: 5,
    });
    expect(iommu.interrupts.remap({ ...remappableMsi(3), addressHigh: 0, requesterId: 6 }).ok).toBe(
      false,
    );
    expect(iommu.dma.faults.pending()).toEqual([]);
    expect(iommu.interrupts.blocked).toBe(1);
  });
});
