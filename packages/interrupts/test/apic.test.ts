import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApicBus, composeMsi, decodeMsi, InterruptError, X2ApicMsr } from '../src/index.js';

describe('MSI address/data (SDM Vol. 3A §11.11)', () => {
  it('lays out the fields as the SDM figures do', () => {
    const m = composeMsi({
      vector: 0x41,
      destination: 0x12,
      destinationMode: 'logical',
      deliveryMode: 1,
      triggerMode: 'level',
      redirectionHint: true,
    });
    // Address: FEEh 31:20, destination 19:12, RH 3, DM 2. Data: vector 7:0, mode 10:8, level 14, trigger 15.
    expect(m).toEqual({ addressLow: 0xfee1_200c, addressHigh: 0, data: 0xc141 });
  });

  it('round-trips every field combination (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.record({
          vector: fc.nat(255),
          destination: fc.nat(255),
          destinationMode: fc.constantFrom<'physical' | 'logical'>('physical', 'logical'),
          deliveryMode: fc.constantFrom(0, 1, 2, 4, 5, 7),
          triggerMode: fc.constantFrom<'edge' | 'level'>('edge', 'level'),
          redirectionHint: fc.boolean(),
        }),
        (irq) => {
          expect(decodeMsi(composeMsi(irq))).toEqual(irq);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is not an interrupt outside 0xFEEx_xxxx', () => {
    expect(decodeMsi({ addressLow: 0xfed0_0000, addressHigh: 0, data: 0x41 })).toBeUndefined();
    expect(decodeMsi({ addressLow: 0xfee0_0000, addressHigh: 1, data: 0x41 })).toBeUndefined();
  });
});

describe('local APIC (SDM Vol. 3A §11.8)', () => {
  const fixed = (vector: number, level = false) => ({
    vector,
    destination: 0,
    destinationMode: 'physical' as const,
    deliveryMode: 0,
    triggerMode: level ? ('level' as const) : ('edge' as const),
  });

  it('presents the highest IRR vector only above the PPR class, and moves it to ISR on INTA', () => {
    const bus = new ApicBus({ cpus: 1 });
    const apic = bus.cpus[0]!;
    apic.accept(fixed(0x35));
    apic.accept(fixed(0x52));
    expect(apic.acknowledge()).toBe(0x52);
    expect(apic.ppr).toBe(0x50);
    expect(apic.pendingVector()).toBe(-1); // 0x35's class 3 is below the in-service class 5
    apic.accept(fixed(0x5f));
    expect(apic.pendingVector()).toBe(-1); // same class as ISR: blocked
    apic.accept(fixed(0x61));
    expect(apic.acknowledge()).toBe(0x61);
    apic.eoi(); // ends 0x61, the highest in service
    apic.eoi(); // ends 0x52
    expect(apic.acknowledge()).toBe(0x5f);
    apic.eoi();
    apic.writeMsr(X2ApicMsr.TPR, 0x40n);
    expect(apic.pendingVector()).toBe(-1); // 0x35 below TPR class 4
    apic.writeMsr(X2ApicMsr.TPR, 0x20n);
    expect(apic.acknowledge()).toBe(0x35);
  });

  it('broadcasts EOI to the I/O APIC for level-triggered vectors only, unless suppressed', () => {
    const bus = new ApicBus({ cpus: 1 });
    const apic = bus.cpus[0]!;
    const io = bus.ioApic!;
    apic.accept(fixed(0x40, true));
    apic.acknowledge();
    apic.eoi();
    apic.accept(fixed(0x41));
    apic.acknowledge();
    apic.eoi();
    expect(io.stats.eois).toBe(1);
    apic.writeMsr(X2ApicMsr.SVR, 0x11ffn);
    apic.accept(fixed(0x40, true));
    apic.acknowledge();
    apic.eoi();
    expect(io.stats.eois).toBe(1);
  });

  it('rejects illegal vectors 0-15 into ESR bit 6', () => {
    const apic = new ApicBus().cpus[0]!;
    apic.accept(fixed(7));
    expect(apic.readMsr(X2ApicMsr.ESR)).toBe(0x40n);
    expect(apic.pendingVector()).toBe(-1);
  });

  it('implements the x2APIC MSR interface with #GP where the SDM requires it', () => {
    const bus = new ApicBus({ apicIds: [0x23, 5] });
    const apic = bus.apic(0x23)!;
    expect(apic.readMsr(X2ApicMsr.ID)).toBe(0x23n);
    expect(apic.readMsr(X2ApicMsr.LDR)).toBe(0x0002_0008n); // cluster 2, bit 3
    apic.accept(fixed(0x80, true));
    expect(apic.readMsr(X2ApicMsr.IRR0 + 4)).toBe(1n);
    expect(apic.readMsr(X2ApicMsr.TMR0 + 4)).toBe(1n);
    expect(() => apic.writeMsr(X2ApicMsr.EOI, 1n)).toThrow(InterruptError);
    expect(() => apic.writeMsr(X2ApicMsr.ID, 1n)).toThrow(InterruptError);
    expect(() => apic.readMsr(X2ApicMsr.EOI)).toThrow(InterruptError);
    expect(() => apic.writeMsr(X2ApicMsr.TPR, 0x100n)).toThrow(InterruptError);
    // ICR: fixed IPI, vector 0x90, physical destination 5.
    apic.writeMsr(X2ApicMsr.ICR, (5n << 32n) | 0x90n);
    expect(bus.apic(5)!.isRequested(0x90)).toBe(true);
    apic.writeMsr(X2ApicMsr.SELF_IPI, 0x91n);
    expect(apic.isRequested(0x91)).toBe(true);
    // All-excluding-self shorthand (bits 19:18 = 11b).
    apic.writeMsr(X2ApicMsr.ICR, 0xc_0092n);
    expect(bus.apic(5)!.isRequested(0x92)).toBe(true);
    expect(apic.isRequested(0x92)).toBe(false);
  });
});

describe('APIC bus destinations (SDM §11.6.2, §11.12.10)', () => {
  it('routes physical, broadcast, cluster-logical and lowest-priority deliveries', () => {
    const bus = new ApicBus({ apicIds: [0, 1, 0x10, 0x11] });
    const irq = (
      destination: number,
      destinationMode: 'physical' | 'logical',
      deliveryMode = 0,
    ) => ({
      vector: 0x40 + destination,
      destination,
      destinationMode,
      deliveryMode,
      triggerMode: 'edge' as const,
    });
    expect(bus.deliver(irq(0x11, 'physical'))).toBe(1);
    expect(bus.apic(0x11)!.isRequested(0x51)).toBe(true);
    expect(bus.deliver(irq(0xff, 'physical'), true)).toBe(4);
    expect(bus.deliver({ ...irq(0x0001_0003, 'logical'), vector: 0x70 })).toBe(2);
    expect(bus.apic(0x10)!.isRequested(0x70) && bus.apic(0x11)!.isRequested(0x70)).toBe(true);
    bus.apic(0)!.writeMsr(X2ApicMsr.TPR, 0x30n);
    expect(bus.deliver({ ...irq(0x3, 'logical', 1), vector: 0x71 }, true)).toBe(1);
    expect(bus.apic(1)!.isRequested(0x71)).toBe(true); // APIC 1 has the lower priority
    expect(bus.deliver(irq(0x42, 'physical'))).toBe(0);
    expect(bus.undeliverable).toBe(1);
  });

  it('takes MSIs and INTx as a @vmkit/pci InterruptSink', () => {
    const bus = new ApicBus({ cpus: 2 });
    bus.deliverMsi({
      ...composeMsi({
        vector: 0x55,
        destination: 1,
        destinationMode: 'physical',
        deliveryMode: 0,
        triggerMode: 'edge',
      }),
      requesterId: 0x18,
    });
    expect(bus.cpus[1]!.isRequested(0x55)).toBe(true);
    // 00:03.0 INTA# -> pin 16 + (3 + 1 - 1) % 4 = 19.
    bus.ioApic!.setEntry(19, 0x8066, 0);
    bus.setIntx(0x18, 1, true);
    expect(bus.cpus[0]!.isRequested(0x66)).toBe(true);
    expect(bus.cpus[0]!.readMsr(X2ApicMsr.TMR0 + 3)).toBe(1n << 6n);
  });
});

describe('I/O APIC (82093AA)', () => {
  it('exposes ID, version and redirection entries through IOREGSEL/IOWIN', () => {
    const io = new ApicBus().ioApic!;
    io.write(0x00, 4, 0x01n);
    expect(io.read(0x10, 4)).toBe(0x0017_0011n); // 24 entries, version 11h
    io.write(0x00, 4, 0x12n); // entry 1 low
    expect(io.read(0x10, 4)).toBe(0x1_0000n); // masked at reset
    io.write(0x10, 4, 0xffff_ffffn);
    expect(io.read(0x10, 4)).toBe(0x1_afffn); // delivery status and Remote IRR are RO
    io.write(0x00, 4, 0x13n);
    io.write(0x10, 4, 0xffff_ffffn);
    expect(io.read(0x10, 4)).toBe(0xff00_0000n);
  });

  it('sends edge pins on rising edges and level pins until EOI, with Remote IRR', () => {
    const bus = new ApicBus();
    const io = bus.ioApic!;
    io.setEntry(2, 0x0030, 0); // edge, vector 0x30
    io.setEntry(3, 0x8031, 0); // level, vector 0x31
    io.setLine(2, true);
    io.setLine(2, true);
    io.setLine(2, false);
    io.setLine(2, true);
    expect(io.stats.sent[2]).toBe(2);
    io.setLine(3, true);
    io.setLine(3, true);
    expect(io.stats.sent[3]).toBe(1);
    expect(io.entry(3)[0] & (1 << 14)).not.toBe(0);
    io.eoi(0x31); // line still high: sent again
    expect(io.stats.sent[3]).toBe(2);
    io.setLine(3, false);
    io.eoi(0x31);
    expect(io.stats.sent[3]).toBe(2);
    expect(io.entry(3)[0] & (1 << 14)).toBe(0);
    io.setEntry(3, 0x1_8031, 0); // masked
    io.setLine(3, true);
    expect(io.stats.sent[3]).toBe(2);
    io.setEntry(3, 0x8031, 0); // unmasking an active level pin sends
    expect(io.stats.sent[3]).toBe(3);
  });
});
