import { GuestPhysicalMemory, type MmioHandler } from '@vmkit/memory';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BarKind, decodeBarSize, mapBars, PciError, PciFunction } from '../src/index.js';

/** A function with placeholder identity and the given BARs. */
function withBars(bars: PciFunctionBars): PciFunction {
  return new PciFunction({ vendorId: 1, deviceId: 1, classCode: 0, bars });
}

type PciFunctionBars = NonNullable<ConstructorParameters<typeof PciFunction>[0]['bars']>;

/**
 * The sizing procedure of PCI Local Bus 3.0 §6.2.5.1 as a driver performs it, written here
 * without reference to src/: save, write all ones, read back, restore; clear the type bits
 * (bit 0 for I/O, bits 3:0 for memory), invert, add one. For a 64-bit BAR the upper register
 * supplies the upper 32 address bits of the mask.
 */
function sizeBySoftware(fn: PciFunction, offset: number): { size: bigint; flags: number } {
  const cs = fn.config;
  const saved = cs.read(offset, 4);
  cs.write(offset, 4, 0xffff_ffff);
  const low = cs.read(offset, 4);
  cs.write(offset, 4, saved);
  if (low & 1) return { size: BigInt((~(low & 0xffff_fffc) >>> 0) + 1), flags: low & 0x3 };
  let mask = BigInt((low & 0xffff_fff0) >>> 0);
  if ((low & 0b110) === 0b100) {
    const savedHigh = cs.read(offset + 4, 4);
    cs.write(offset + 4, 4, 0xffff_ffff);
    mask |= BigInt(cs.read(offset + 4, 4)) << 32n;
    cs.write(offset + 4, 4, savedHigh);
    return { size: (~mask & 0xffff_ffff_ffff_ffffn) + 1n, flags: low & 0xf };
  }
  return { size: BigInt((~Number(mask) >>> 0) + 1), flags: low & 0xf };
}

const make = (kind: BarKind, size: number, prefetchable = false) =>
  new PciFunction({
    vendorId: 0x1af4,
    deviceId: 0x1000,
    classCode: 0,
    bars: [{ index: 1, kind, size, prefetchable }],
  });

describe('BAR sizing protocol (PCI LB 3.0 §6.2.5.1)', () => {
  it('answers every power-of-two size of a 32-bit memory BAR, 16 B to 2 GiB', () => {
    for (let log = 4; log <= 31; log++) {
      for (const pf of [false, true]) {
        const fn = make('memory32', 2 ** log, pf);
        const { size, flags } = sizeBySoftware(fn, 0x14);
        expect(size).toBe(2n ** BigInt(log));
        expect(flags).toBe(pf ? 0b1000 : 0b0000);
      }
    }
  });

  it('answers every power-of-two size of a 64-bit memory BAR, 16 B to 2^63 B', () => {
    for (let log = 4; log <= 63; log++) {
      const fn = make('memory64', 2 ** log, true);
      const { size, flags } = sizeBySoftware(fn, 0x14);
      expect(size).toBe(2n ** BigInt(log));
      expect(flags).toBe(0b1100);
    }
  });

  it('answers every I/O BAR size, 4 to 256 B', () => {
    for (let log = 2; log <= 8; log++) {
      const { size, flags } = sizeBySoftware(make('io', 2 ** log), 0x14);
      expect(size).toBe(2n ** BigInt(log));
      expect(flags).toBe(0b01);
    }
  });

  it('agrees with decodeBarSize for random sizes and kinds', () => {
    fc.assert(
      fc.property(fc.constantFrom<BarKind>('memory32', 'memory64', 'io'), fc.nat(63), (kind, n) => {
        const [lo, hi] = kind === 'io' ? [2, 8] : kind === 'memory32' ? [4, 31] : [4, 63];
        const log = lo + (n % (hi - lo + 1));
        const fn = make(kind, 2 ** log);
        fn.config.write(0x14, 4, 0xffff_ffff);
        fn.config.write(0x18, 4, 0xffff_ffff);
        const high = kind === 'memory64' ? fn.config.read(0x18, 4) : undefined;
        expect(decodeBarSize(fn.config.read(0x14, 4), high)).toBe(2 ** log);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps the programmed address aligned to the size, whatever is written', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 20 }), fc.nat(0xffff_ffff), (log, value) => {
        const fn = make('memory32', 2 ** log);
        fn.config.write(0x14, 4, value);
        const address = fn.bar(1)!.address!;
        expect(address % 2 ** log).toBe(0);
        expect(address).toBe(Number(BigInt(value) & ~(2n ** BigInt(log) - 1n)));
      }),
      { numRuns: 200 },
    );
  });

  it('rejects sizes the spec does not allow', () => {
    const bad: [BarKind, number][] = [
      ['memory32', 8],
      ['memory32', 2 ** 32],
      ['memory32', 3000],
      ['io', 2],
      ['io', 512],
      ['memory64', 0],
    ];
    for (const [kind, size] of bad) expect(() => make(kind, size)).toThrow(PciError);
    expect(() => withBars([{ index: 5, kind: 'memory64', size: 16 }])).toThrow(PciError);
    expect(() =>
      withBars([
        { index: 0, kind: 'memory64', size: 16 },
        { index: 1, kind: 'memory32', size: 16 },
      ]),
    ).toThrow(PciError);
  });
});

describe('BAR decode and mapping', () => {
  const regs = new Uint32Array(1024);
  const handler: MmioHandler = {
    read: (o) => BigInt(regs[o >>> 2]!),
    write: (o, _s, v) => {
      regs[o >>> 2] = Number(v);
    },
  };

  it('maps a memory BAR only while Memory Space Enable is set and follows reprogramming', () => {
    const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 0x10_0000 }] });
    const fn = withBars([{ index: 0, kind: 'memory64', size: 0x1000, handler }]);
    const mapping = mapBars(fn, mem, 'nic');
    fn.config.write(0x10, 4, 0xfebf_0000);
    fn.config.write(0x14, 4, 0);
    expect(mem.regions().map((r) => r.name)).toEqual(['ram@0x0']);
    fn.config.write(0x04, 2, 0x0002);
    expect(mem.regions().map((r) => r.name)).toEqual(['ram@0x0', 'nic.bar0']);
    mem.write32(0xfebf_0010, 0x1234);
    expect(regs[4]).toBe(0x1234);
    fn.config.write(0x10, 4, 0xfebe_0000);
    expect(mem.contains(0xfebf_0010, 4)).toBe(false);
    expect(mem.read32(0xfebe_0010)).toBe(0x1234);
    fn.config.write(0x14, 4, 0x1);
    expect(mem.read32(0x1_febe_0010)).toBe(0x1234);
    fn.config.write(0x04, 2, 0);
    expect(mem.regions().length).toBe(1);
    fn.config.write(0x04, 2, 0x0002);
    mapping.detach();
    expect(mem.regions().length).toBe(1);
  });

  it('records, and does not map, a BAR the guest programs over RAM', () => {
    const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 0x10_0000 }] });
    const fn = withBars([{ index: 2, kind: 'memory32', size: 0x1000, handler }]);
    const mapping = mapBars(fn, mem, 'dev');
    fn.config.write(0x18, 4, 0x8_0000);
    fn.config.write(0x04, 2, 0x0002);
    expect(mapping.conflicts).toEqual([{ index: 2, base: 0x8_0000, size: 0x1000 }]);
    mem.write32(0x8_0000, 7);
    expect(mem.read32(0x8_0000)).toBe(7);
    fn.config.write(0x18, 4, 0xe000_0000);
    expect(mapping.conflicts).toEqual([]);
    expect(mem.regions().map((r) => r.name)).toContain('dev.bar2');
  });

  it('does not decode the sizing pattern of a 64-bit BAR above 2^52, nor address 0', () => {
    const fn = withBars([
      { index: 0, kind: 'memory64', size: 0x1000 },
      { index: 2, kind: 'io', size: 0x20 },
    ]);
    fn.config.write(0x04, 2, 0x0003);
    fn.config.write(0x10, 4, 0xffff_ffff);
    fn.config.write(0x14, 4, 0xffff_ffff);
    expect(fn.decodedBars()).toEqual([]);
    fn.config.write(0x18, 4, 0xc000);
    expect(fn.decodedBars().map((b) => [b.index, b.kind, b.base, b.size])).toEqual([
      [2, 'io', 0xc000, 0x20],
    ]);
  });
});
