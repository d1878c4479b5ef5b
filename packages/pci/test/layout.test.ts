import { describe, expect, it } from 'vitest';
import { type ConfigSpace, listCapabilities, PciFunction } from '../src/index.js';
import {
  ARI_NEXT5_ACS,
  EXAMPLE_BARS,
  exampleFunction,
  MSI64_MASKED_4,
  MSIX_3,
  PCIE_ENDPOINT,
  type Row,
  TYPE0_TABLE,
} from './spec-tables.js';

const ones = (size: number) => (size === 4 ? 0xffff_ffff : (1 << (8 * size)) - 1);

/** Checks reset value and per-bit behaviour of every row against a fresh config space. */
function checkRows(
  make: () => { cs: ConfigSpace; base: number },
  rows: readonly Row[],
  triggers: Readonly<Record<number, number>> = {},
) {
  for (const [offset, size, reset, rw, rw1c] of rows) {
    const name = `+0x${offset.toString(16)}`;
    it(`${name}: reset value, RW bits, RO bits, RW1C bits`, () => {
      const { cs, base } = make();
      const at = base + offset;
      expect(cs.read(at, size)).toBe(reset);
      // Writing all ones sets exactly the RW bits; RO keep their value; RW1C bits that were 0 stay 0.
      // Trigger bits (such as Initiate FLR) are left out of the probe and tested on their own.
      cs.write(at, size, ones(size) & ~(triggers[offset] ?? 0));
      expect(cs.read(at, size)).toBe(((reset & ~rw) | rw) >>> 0);
      // Writing zeros clears exactly the RW bits.
      cs.write(at, size, 0);
      expect(cs.read(at, size)).toBe((reset & ~rw) >>> 0);
      if (rw1c !== 0) {
        cs.set(at, size, rw1c);
        cs.write(at, size, 0);
        expect(cs.read(at, size), 'writing 0 leaves RW1C bits').toBe(rw1c);
        cs.write(at, size, rw1c);
        expect(cs.read(at, size), 'writing 1 clears RW1C bits').toBe(0);
      }
      expect(cs.writableMask(at, size)).toBe(rw >>> 0);
      expect(cs.writeOneToClearMask(at, size)).toBe(rw1c >>> 0);
    });
  }
}

describe('Type 0 header layout (PCI LB 3.0 §6.1, PCIe 4.0 §7.5.1)', () => {
  checkRows(() => ({ cs: exampleFunction().config, base: 0 }), TYPE0_TABLE);

  it('reads every header byte the table calls reserved or unimplemented as 0', () => {
    const fn = exampleFunction();
    for (const [offset, size, reset, rw, rw1c] of TYPE0_TABLE) {
      if (reset === 0 && rw === 0 && rw1c === 0) {
        fn.config.write(offset, size, ones(size));
        expect(fn.config.read(offset, size)).toBe(0);
      }
    }
  });

  it('reads DWORDs as the little-endian composition of the table', () => {
    const fn = exampleFunction();
    expect(fn.config.read(0x00, 4)).toBe(0x10c9_8086);
    expect(fn.config.read(0x08, 4)).toBe(0x0200_0001);
    expect(fn.config.read(0x2c, 4)).toBe(0xa03c_8086);
    expect(fn.config.read(0x3c, 4)).toBe(0x0000_0100);
  });

  it('covers all 64 header bytes exactly once', () => {
    const covered = new Array(64).fill(0);
    for (const [offset, size] of TYPE0_TABLE) for (let k = 0; k < size; k++) covered[offset + k]++;
    expect(covered).toEqual(new Array(64).fill(1));
  });
});

describe('MSI capability layout (PCI LB 3.0 §6.8.1)', () => {
  checkRows(() => {
    const fn = new PciFunction({ vendorId: 1, deviceId: 2, classCode: 0 });
    const msi = fn.addMsi({ vectors: 4, address64: true, perVectorMasking: true });
    return { cs: fn.config, base: msi.offset };
  }, MSI64_MASKED_4);

  it('has the four lengths of Figure 6-9', () => {
    const lengths = [
      [false, false, 0x0a],
      [true, false, 0x0e],
      [false, true, 0x14],
      [true, true, 0x18],
    ] as const;
    for (const [address64, perVectorMasking, length] of lengths) {
      const fn = new PciFunction({ vendorId: 1, deviceId: 2, classCode: 0 });
      fn.addMsi({ address64, perVectorMasking });
      const pcie = fn.addPciExpress();
      expect(pcie.offset - 0x40).toBe((length + 3) & ~3);
    }
  });
});

describe('MSI-X capability layout (PCI LB 3.0 §6.8.2)', () => {
  checkRows(() => {
    const fn = new PciFunction({ vendorId: 1, deviceId: 2, classCode: 0, bars: EXAMPLE_BARS });
    const msix = fn.addMsix({
      vectors: 3,
      tableBar: 0,
      tableOffset: 0x2000,
      pbaBar: 0,
      pbaOffset: 0x3000,
    });
    return { cs: fn.config, base: msix.offset };
  }, MSIX_3);
});

describe('PCI Express Capability layout (PCIe 4.0 §7.5.3)', () => {
  checkRows(
    () => {
      const fn = new PciFunction({ vendorId: 1, deviceId: 2, classCode: 0 });
      const cap = fn.addPciExpress({ maxPayloadSupported: 256, linkSpeed: 2, linkWidth: 8 });
      return { cs: fn.config, base: cap.offset };
    },
    PCIE_ENDPOINT,
    { 8: 0x8000 },
  );

  it('Initiate FLR reads 0 and resets the function (§7.5.3.4 bit 15)', () => {
    const fn = new PciFunction({ vendorId: 1, deviceId: 2, classCode: 0 });
    const cap = fn.addPciExpress();
    fn.config.write(0x04, 2, 0x0006);
    fn.config.write(cap.offset + 0x08, 2, 0x00e0);
    fn.config.write(cap.offset + 0x08, 2, 0x80e0);
    expect(fn.config.read(cap.offset + 0x08, 2)).toBe(0x2810);
    expect(fn.config.read(0x04, 2)).toBe(0);
    fn.config.write(0x04, 2, 0x0006);
    fn.config.write(cap.offset + 0x09, 1, 0x00);
    expect(fn.config.read(0x04, 2), 'writing 0 to bit 15 does nothing').toBe(0x0006);
  });

  it('has no FLR trigger when FLR is not supported', () => {
    const fn = new PciFunction({ vendorId: 1, deviceId: 2, classCode: 0 });
    const cap = fn.addPciExpress({ functionLevelReset: false });
    fn.config.write(0x04, 2, 0x0006);
    fn.config.write(cap.offset + 0x08, 2, 0x8000);
    expect(fn.config.read(0x04, 2)).toBe(0x0006);
    expect(fn.config.read(cap.offset + 0x04, 4) & (1 << 28)).toBe(0);
  });
});

describe('ARI Extended Capability layout (PCIe 4.0 §6.13)', () => {
  checkRows(() => {
    const fn = new PciFunction({ vendorId: 1, deviceId: 2, classCode: 0 });
    const ari = fn.addAri({ nextFunction: 5, acsFunctionGroups: true });
    return { cs: fn.config, base: ari.offset };
  }, ARI_NEXT5_ACS);
});

describe('capability list (PCI LB 3.0 §6.7)', () => {
  it('links capabilities from 0x34 with Status bit 4 set and a null terminator', () => {
    const fn = new PciFunction({ vendorId: 1, deviceId: 2, classCode: 0, bars: EXAMPLE_BARS });
    fn.addPciExpress();
    fn.addMsi();
    fn.addMsix({ vectors: 3, tableBar: 0, tableOffset: 0x2000, pbaBar: 0, pbaOffset: 0x3000 });
    const read = (o: number, s: 1 | 2 | 4) => fn.config.read(o, s);
    expect(read(0x06, 2) & 0x10).toBe(0x10);
    expect(read(0x34, 1)).toBe(0x40);
    const caps = listCapabilities(read);
    expect(caps.map((c) => c.id)).toEqual([0x10, 0x05, 0x11]);
    expect(caps.map((c) => c.offset)).toEqual([0x40, 0x7c, 0x8c]);
    expect(read(0x8d, 1)).toBe(0);
    for (const c of caps) expect(c.offset % 4).toBe(0);
  });

  it('survives a reset with the list intact', () => {
    const fn = new PciFunction({ vendorId: 1, deviceId: 2, classCode: 0 });
    fn.addPciExpress();
    fn.addMsi();
    fn.reset();
    expect(listCapabilities((o, s) => fn.config.read(o, s)).map((c) => c.id)).toEqual([0x10, 0x05]);
  });
});
