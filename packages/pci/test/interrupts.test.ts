import { describe, expect, it } from 'vitest';
import { type InterruptSink, type MsiMessage, PciFunction } from '../src/index.js';

function recorder() {
  const messages: MsiMessage[] = [];
  const intx: [number, number, boolean][] = [];
  const sink: InterruptSink = {
    deliverMsi: (m) => messages.push(m),
    setIntx: (rid, pin, level) => intx.push([rid, pin, level]),
  };
  return { sink, messages, intx };
}

function device() {
  const r = recorder();
  const fn = new PciFunction({
    vendorId: 0x8086,
    deviceId: 0x10ca,
    classCode: 0x020000,
    interruptPin: 1,
    bars: [{ index: 0, kind: 'memory32', size: 0x4000 }],
    interrupts: r.sink,
  });
  fn.assignRoutingId(0x0310);
  return { fn, ...r };
}

describe('MSI (PCI LB 3.0 §6.8.1)', () => {
  it('sends the programmed address and data, replacing the low MME bits with the vector', () => {
    const { fn, messages } = device();
    const msi = fn.addMsi({ vectors: 8, address64: true, perVectorMasking: true });
    const o = msi.offset;
    fn.config.write(o + 4, 4, 0xfee0_1003); // bits 1:0 are RO 0
    fn.config.write(o + 8, 4, 0);
    fn.config.write(o + 0x0c, 2, 0x4047);
    fn.config.write(o + 2, 2, 0x0021); // enable, MME = 2 (4 vectors)
    expect(msi.signal(0)).toBe('dropped'); // bus mastering is off
    fn.config.write(0x04, 2, 0x0004);
    expect(msi.signal(3)).toBe('sent');
    expect(msi.signal(4)).toBe('dropped'); // only 4 vectors allocated
    expect(messages).toEqual([
      { addressLow: 0xfee0_1000, addressHigh: 0, data: 0x4047, requesterId: 0x0310 },
    ]);
    expect(msi.signal(1)).toBe('sent');
    expect(messages[1]!.data).toBe(0x4045);
  });

  it('holds a masked vector pending and sends it when unmasked', () => {
    const { fn, messages } = device();
    const msi = fn.addMsi({ vectors: 4, address64: false, perVectorMasking: true });
    const o = msi.offset;
    fn.config.write(0x04, 2, 0x0004);
    fn.config.write(o + 4, 4, 0xfee0_0000);
    fn.config.write(o + 8, 2, 0x30);
    fn.config.write(o + 2, 2, 0x0021);
    fn.config.write(o + 0x0c, 4, 0b0010);
    expect(msi.signal(1)).toBe('pending');
    expect(fn.config.read(o + 0x10, 4)).toBe(0b0010);
    fn.config.write(o + 0x10, 4, 0); // Pending Bits are RO
    expect(msi.isPending(1)).toBe(true);
    expect(messages).toEqual([]);
    fn.config.write(o + 0x0c, 4, 0);
    expect(messages.map((m) => m.data)).toEqual([0x31]);
    expect(msi.isPending(1)).toBe(false);
  });

  it('takes INTx off the line while MSI is enabled', () => {
    const { fn, intx } = device();
    const msi = fn.addMsi();
    fn.setIntx(true);
    expect(fn.config.read(0x06, 2) & 0x8).toBe(0x8);
    fn.config.write(msi.offset + 2, 2, 1);
    fn.setIntx(false);
    fn.config.write(msi.offset + 2, 2, 0);
    expect(intx).toEqual([
      [0x0310, 1, true],
      [0x0310, 1, false],
    ]);
  });
});

describe('MSI-X (PCI LB 3.0 §6.8.2)', () => {
  function withMsix() {
    const d = device();
    const msix = d.fn.addMsix({
      vectors: 3,
      tableBar: 0,
      tableOffset: 0x2000,
      pbaBar: 0,
      pbaOffset: 0x3000,
    });
    d.fn.config.write(0x04, 2, 0x0006);
    return { ...d, msix, bar: d.fn.barHandler(0) };
  }

  it('keeps the table in the BAR: entries reset masked, address bits 1:0 RO', () => {
    const { msix, bar } = withMsix();
    for (let v = 0; v < 3; v++) {
      expect(bar.read(0x2000 + v * 16 + 12, 4)).toBe(1n);
    }
    bar.write(0x2000, 4, 0xfee0_0003n);
    bar.write(0x2004, 4, 0x1n);
    bar.write(0x2008, 4, 0xdead_beefn);
    bar.write(0x200c, 4, 0xffff_fffen);
    expect(bar.read(0x2000, 8)).toBe(0x1_fee0_0000n);
    expect(bar.read(0x2008, 4)).toBe(0xdead_beefn);
    expect(bar.read(0x200c, 4)).toBe(0n); // only bit 0 is RW
    expect(msix.entry(0)).toEqual({
      addressLow: 0xfee0_0000,
      addressHigh: 1,
      data: 0xdead_beef,
      masked: false,
    });
    bar.write(0x2010, 8, 0x0000_0000_fee0_1000n);
    expect(msix.entry(1).addressLow).toBe(0xfee0_1000);
  });

  it('sends per entry, pends while the entry or the function is masked, and sends on unmask', () => {
    const { fn, msix, bar, messages } = withMsix();
    const o = msix.offset;
    for (let v = 0; v < 3; v++) {
      bar.write(0x2000 + v * 16, 4, BigInt(0xfee0_0000 + (v << 12)));
      bar.write(0x2008 + v * 16, 4, BigInt(0x40 + v));
    }
    expect(msix.signal(0)).toBe('dropped'); // not enabled
    fn.config.write(o + 2, 2, 0x8000);
    expect(msix.signal(0)).toBe('pending'); // entries reset masked
    expect(bar.read(0x3000, 8)).toBe(1n);
    bar.write(0x3000, 8, 0n); // the PBA is read-only
    expect(bar.read(0x3000, 8)).toBe(1n);
    bar.write(0x200c, 4, 0n); // unmask entry 0: the pending message goes out
    expect(messages.map((m) => m.data)).toEqual([0x40]);
    expect(bar.read(0x3000, 8)).toBe(0n);
    bar.write(0x201c, 4, 0n);
    bar.write(0x202c, 4, 0n);
    fn.config.write(o + 2, 2, 0xc000); // Function Mask
    expect(msix.signal(2)).toBe('pending');
    expect(msix.signal(1)).toBe('pending');
    fn.config.write(o + 2, 2, 0x8000);
    expect(messages.map((m) => m.data).sort()).toEqual([0x40, 0x41, 0x42]);
    expect(msix.signal(5)).toBe('dropped');
    expect(fn.signalInterrupt(1)).toBe('sent');
  });

  it('passes other offsets of the BAR to the device handler', () => {
    const regs: [number, bigint][] = [];
    const fn = new PciFunction({
      vendorId: 1,
      deviceId: 1,
      classCode: 0,
      bars: [
        {
          index: 0,
          kind: 'memory32',
          size: 0x4000,
          handler: { read: (o) => BigInt(o), write: (o, _s, v) => regs.push([o, v]) },
        },
      ],
    });
    fn.addMsix({ vectors: 3, tableBar: 0, tableOffset: 0x2000, pbaBar: 0, pbaOffset: 0x3000 });
    const bar = fn.barHandler(0);
    expect(bar.read(0x100, 4)).toBe(0x100n);
    bar.write(0x1ffc, 4, 5n);
    expect(bar.read(0x2030, 4)).toBe(0x2030n); // past the 3-entry table
    expect(regs).toEqual([[0x1ffc, 5n]]);
  });

  it('rejects a table that does not fit its BAR or overlaps the PBA', () => {
    const { fn } = device();
    expect(() =>
      fn.addMsix({ vectors: 3, tableBar: 0, tableOffset: 0x3ff0, pbaBar: 0, pbaOffset: 0 }),
    ).toThrow();
    expect(() =>
      fn.addMsix({ vectors: 3, tableBar: 0, tableOffset: 0x0, pbaBar: 0, pbaOffset: 0x10 }),
    ).toThrow();
    expect(() =>
      fn.addMsix({ vectors: 3, tableBar: 1, tableOffset: 0x0, pbaBar: 0, pbaOffset: 0x1000 }),
    ).toThrow();
    expect(() =>
      fn.addMsix({ vectors: 3, tableBar: 0, tableOffset: 0x4, pbaBar: 0, pbaOffset: 0x1000 }),
    ).toThrow();
  });
});

describe('INTx and Interrupt Disable (PCIe 4.0 §7.5.1.1.3 bit 10)', () => {
  it('gates the line but not Status.Interrupt Status', () => {
    const { fn, intx } = device();
    fn.config.write(0x04, 2, 0x0400);
    fn.setIntx(true);
    expect(fn.config.read(0x06, 2) & 0x8).toBe(0x8);
    expect(intx).toEqual([]);
    fn.config.write(0x04, 2, 0x0000);
    expect(intx).toEqual([[0x0310, 1, true]]);
    fn.setIntx(false);
    expect(fn.config.read(0x06, 2) & 0x8).toBe(0);
    expect(intx.at(-1)).toEqual([0x0310, 1, false]);
  });
});
