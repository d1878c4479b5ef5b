import { describe, expect, it } from 'vitest';
import { type GuestMemory, GuestMemoryError } from './index.js';

/** A fresh memory to test, plus where it has RAM and where it has nothing. */
export interface GuestMemoryFixture {
  /** The memory under test. */
  readonly mem: GuestMemory;
  /** Base of a RAM range of at least 3 pages (12 KiB) that the suite may overwrite. */
  readonly ramBase: number;
  /** An address with no memory behind it for at least 8 bytes. */
  readonly hole: number;
}

/**
 * The conformance suite every {@link GuestMemory} implementation must pass: little-endian
 * layout, value truncation, page-straddling accesses, bulk operations, memmove semantics and
 * typed errors for unbacked addresses. Call it from the implementation's own test file.
 *
 * @param name - the implementation's name, used in the describe block
 * @param create - makes a fresh fixture for each test
 */
export function describeGuestMemory(name: string, create: () => GuestMemoryFixture): void {
  describe(`GuestMemory conformance: ${name}`, () => {
    it('stores little-endian values of every width', () => {
      const { mem, ramBase } = create();
      mem.write64(ramBase, 0x0102030405060708n);
      expect(mem.read8(ramBase)).toBe(0x08);
      expect(mem.read16(ramBase)).toBe(0x0708);
      expect(mem.read32(ramBase)).toBe(0x05060708);
      expect(mem.read32(ramBase + 4)).toBe(0x01020304);
      expect(mem.read64(ramBase)).toBe(0x0102030405060708n);
      mem.write32(ramBase, 0xfedcba98);
      expect(mem.read32(ramBase)).toBe(0xfedcba98);
    });

    it('truncates written values to the access width', () => {
      const { mem, ramBase } = create();
      mem.write32(ramBase, 0);
      mem.write8(ramBase, 0x1ff);
      mem.write16(ramBase + 2, -1);
      expect(mem.read32(ramBase)).toBe(0xffff00ff);
      mem.write64(ramBase, -1n);
      expect(mem.read64(ramBase)).toBe(0xffff_ffff_ffff_ffffn);
    });

    it('handles accesses that straddle a 4 KiB page boundary', () => {
      const { mem, ramBase } = create();
      const edge = ramBase + 4096;
      for (const [size, value] of [
        [2, 0xbeef],
        [4, 0xcafebabe],
      ] as const) {
        for (let k = 1; k < size; k++) {
          const write = size === 2 ? mem.write16.bind(mem) : mem.write32.bind(mem);
          const read = size === 2 ? mem.read16.bind(mem) : mem.read32.bind(mem);
          write(edge - k, value);
          expect(read(edge - k)).toBe(value);
        }
      }
      for (let k = 1; k < 8; k++) {
        mem.write64(edge - k, 0x1122334455667788n);
        expect(mem.read64(edge - k)).toBe(0x1122334455667788n);
        expect(mem.read8(edge - k)).toBe(0x88);
      }
    });

    it('bulk-reads, writes and fills across pages', () => {
      const { mem, ramBase } = create();
      const data = Uint8Array.from({ length: 6000 }, (_, i) => (i * 7) & 0xff);
      mem.writeBytes(ramBase + 100, data);
      const back = new Uint8Array(6000);
      mem.readBytes(ramBase + 100, back);
      expect(back).toEqual(data);
      mem.fill(ramBase + 4000, 200, 0xab);
      expect(mem.read8(ramBase + 3999)).toBe(data[3899]);
      expect(mem.read8(ramBase + 4000)).toBe(0xab);
      expect(mem.read8(ramBase + 4199)).toBe(0xab);
      expect(mem.read8(ramBase + 4200)).toBe(data[4100]);
    });

    it('copies overlapping ranges as memmove does', () => {
      const { mem, ramBase } = create();
      const data = Uint8Array.from({ length: 5000 }, (_, i) => i & 0xff);
      const expected = new Uint8Array(5100);
      expected.set(data);
      expected.copyWithin(100, 0, 5000);
      mem.writeBytes(ramBase, data);
      mem.copy(ramBase + 100, ramBase, 5000);
      const up = new Uint8Array(5100);
      mem.readBytes(ramBase, up);
      expect(up).toEqual(expected);
      const down = expected.slice();
      down.copyWithin(0, 100, 5100);
      mem.copy(ramBase, ramBase + 100, 5000);
      const back = new Uint8Array(5100);
      mem.readBytes(ramBase, back);
      expect(back).toEqual(down);
    });

    it('throws a typed error naming the address for unbacked memory', () => {
      const { mem, hole } = create();
      for (const access of [
        () => mem.read8(hole),
        () => mem.read32(hole),
        () => mem.read64(hole),
        () => mem.write16(hole, 1),
        () => mem.writeBytes(hole, new Uint8Array(4)),
        () => mem.readBytes(hole, new Uint8Array(4)),
        () => mem.fill(hole, 4, 0),
      ]) {
        expect(access).toThrow(GuestMemoryError);
        try {
          access();
        } catch (e) {
          expect((e as GuestMemoryError).address).toBe(hole);
        }
      }
      expect(mem.contains(hole, 1)).toBe(false);
    });

    it('rejects addresses that are not 52-bit integers', () => {
      const { mem } = create();
      for (const bad of [-1, 1.5, Number.NaN, 2 ** 52, Number.POSITIVE_INFINITY]) {
        expect(() => mem.read8(bad)).toThrow(GuestMemoryError);
        expect(() => mem.write32(bad, 0)).toThrow(GuestMemoryError);
      }
    });
  });
}
