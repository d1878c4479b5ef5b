import { listExtendedCapabilities } from '@vmkit/pci';
import { describe, expect, it } from 'vitest';
import { makePf } from './fixtures.js';

type Row = readonly [offset: number, size: 1 | 2 | 4, reset: number, rw: number, rw1c: number];

/**
 * The SR-IOV Extended Capability transcribed from PCIe Base 4.0 §9.3.3 (Figure 9-10 and the
 * register tables §9.3.3.1-15) for the fixture PF: TotalVFs 63, InitialVFs 63, First VF Offset
 * 0x80, VF Stride 2, VF Device ID 10EDh, Supported Page Sizes 553h, two 64-bit prefetchable 16 KiB
 * VF BARs at VF BAR0/1 and VF BAR3/4.
 */
const TABLE: readonly Row[] = [
  [0x00, 4, 0x0001_0010, 0, 0], // header: ID 0010h, version 1, next 000h (last)
  [0x04, 4, 0, 0, 0], // SR-IOV Capabilities
  [0x08, 2, 0, 0x0019, 0], // Control: VF Enable, VF MSE, ARI Capable Hierarchy RW
  [0x0a, 2, 0, 0, 0], // Status (VF Migration Status RW1C only when migration capable)
  [0x0c, 2, 63, 0, 0], // InitialVFs
  [0x0e, 2, 63, 0, 0], // TotalVFs
  [0x10, 2, 0, 0xffff, 0], // NumVFs
  [0x12, 1, 0, 0, 0], // Function Dependency Link
  [0x13, 1, 0, 0, 0], // reserved
  [0x14, 2, 0x80, 0, 0], // First VF Offset
  [0x16, 2, 2, 0, 0], // VF Stride
  [0x18, 2, 0, 0, 0], // reserved
  [0x1a, 2, 0x10ed, 0, 0], // VF Device ID
  [0x1c, 4, 0x553, 0, 0], // Supported Page Sizes
  [0x20, 4, 0x1, 0x553, 0], // System Page Size
  [0x24, 4, 0xc, 0xffff_c000, 0], // VF BAR0 (64-bit prefetchable 16 KiB)
  [0x28, 4, 0, 0xffff_ffff, 0], // VF BAR1 (upper half)
  [0x2c, 4, 0, 0, 0], // VF BAR2 not implemented
  [0x30, 4, 0xc, 0xffff_c000, 0], // VF BAR3
  [0x34, 4, 0, 0xffff_ffff, 0], // VF BAR4
  [0x38, 4, 0, 0, 0], // VF BAR5
  [0x3c, 4, 0, 0, 0], // VF Migration State Array Offset
];

describe('SR-IOV Extended Capability layout (PCIe 4.0 §9.3.3)', () => {
  it('is found in the extended list after ARI', () => {
    const { pf } = makePf();
    const caps = listExtendedCapabilities((o, s) => pf.config.read(o, s));
    expect(caps.map((c) => [c.id, c.version])).toEqual([
      [0x000e, 1],
      [0x0010, 1],
    ]);
  });

  for (const [offset, size, reset, rw] of TABLE) {
    it(`+0x${offset.toString(16)}: reset value and RW bits`, () => {
      const { pf, sriov } = makePf();
      const at = sriov.offset + offset;
      expect(pf.config.read(at, size)).toBe(reset);
      expect(pf.config.writableMask(at, size)).toBe(rw >>> 0);
    });
  }

  it('ignores NumVFs writes while VF Enable is set', () => {
    const { pf, sriov } = makePf();
    pf.config.write(sriov.offset + 0x10, 2, 4);
    pf.config.write(sriov.offset + 0x08, 2, 1);
    pf.config.write(sriov.offset + 0x10, 2, 9);
    expect(sriov.numVfs).toBe(4);
    pf.config.write(sriov.offset + 0x08, 2, 0);
    pf.config.write(sriov.offset + 0x10, 2, 9);
    expect(sriov.numVfs).toBe(9);
  });

  it('grows the VF BAR aperture to the System Page Size', () => {
    const { pf, sriov } = makePf();
    pf.config.write(sriov.offset + 0x20, 4, 0x10); // 64 KiB pages
    expect(sriov.systemPageSize).toBe(0x1_0000);
    pf.config.write(sriov.offset + 0x24, 4, 0xffff_ffff);
    expect(pf.config.read(sriov.offset + 0x24, 4)).toBe(0xffff_000c);
    expect(sriov.vfBarSize(0)).toBe(0x1_0000);
    pf.config.write(sriov.offset + 0x20, 4, 0x4); // unsupported size (16 KiB): bit not writable
    expect(pf.config.read(sriov.offset + 0x20, 4)).toBe(0);
  });

  it('keeps ARI Capable Hierarchy RO 0 in a PF that is not the lowest-numbered', () => {
    const { pf, sriov } = makePf({ lowestPf: false });
    pf.config.write(sriov.offset + 0x08, 2, 0x10);
    expect(sriov.control).toBe(0);
  });

  it('recomputes First VF Offset and VF Stride from NumVFs and ARI Capable Hierarchy', () => {
    const { pf, sriov } = makePf({
      routing: (numVfs, ari) => ({ firstVfOffset: ari ? 1 : 0x80 + numVfs, vfStride: ari ? 1 : 2 }),
    });
    pf.config.write(sriov.offset + 0x10, 2, 5);
    expect(pf.config.read(sriov.offset + 0x14, 4)).toBe((2 << 16) | 0x85);
    pf.config.write(sriov.offset + 0x08, 2, 0x10);
    expect(pf.config.read(sriov.offset + 0x14, 4)).toBe((1 << 16) | 1);
  });
});
