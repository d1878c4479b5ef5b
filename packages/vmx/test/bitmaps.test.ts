import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  exceptionCausesExit,
  IoBitmaps,
  ioInstructionCausesExit,
  MSR_BITMAP_SIZE,
  MsrBitmap,
  MsrBitmapOffset,
  msrAccessCausesExit,
  VmxError,
} from '../src/index.js';

describe('I/O bitmaps (SDM Vol. 3C §25.6.4, §26.1.3)', () => {
  // Independent model: the set of trapped ports; an access exits if any port it touches is
  // trapped, or it wraps past 0xffff.
  function model(trapped: ReadonlySet<number>, port: number, size: number): boolean {
    for (let i = 0; i < size; i++) {
      if (port + i > 0xffff) return true;
      if (trapped.has(port + i)) return true;
    }
    return false;
  }

  it('answers like the model for every port and size', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 0xffff }), { maxLength: 64 }),
        (ports) => {
          const io = new IoBitmaps();
          for (const p of ports) io.trap(p);
          const trapped = new Set(ports);
          for (let port = 0; port <= 0xffff; port++) {
            for (const size of [1, 2, 4]) {
              if (io.causesExit(port, size) !== model(trapped, port, size)) {
                throw new Error(`port ${port} size ${size}`);
              }
            }
          }
        },
      ),
      { numRuns: 4 },
    );
  });

  it('puts bit n of bitmap A at byte n >> 3, bit n & 7, and B at port 0x8000 + n', () => {
    const a = new Uint8Array(4096);
    const b = new Uint8Array(4096);
    a[0x3f8 >> 3] = 1 << (0x3f8 & 7);
    b[0] = 1;
    expect(ioInstructionCausesExit(a, b, 0x3f8, 1, true, false)).toBe(true);
    expect(ioInstructionCausesExit(a, b, 0x3f9, 1, true, false)).toBe(false);
    expect(ioInstructionCausesExit(a, b, 0x3f7, 2, true, false)).toBe(true);
    expect(ioInstructionCausesExit(a, b, 0x8000, 1, true, false)).toBe(true);
    expect(ioInstructionCausesExit(a, b, 0x7fff, 2, true, false)).toBe(true); // spans into B
    expect(ioInstructionCausesExit(a, b, 0x7ffe, 2, true, false)).toBe(false);
    // wrap-around always exits with bitmaps, whatever the bits
    expect(ioInstructionCausesExit(a, b, 0xffff, 2, true, false)).toBe(true);
    expect(ioInstructionCausesExit(a, b, 0xfffd, 4, true, false)).toBe(true);
    expect(ioInstructionCausesExit(a, b, 0xfffc, 4, true, false)).toBe(false);
  });

  it('without bitmaps, exits exactly when unconditional I/O exiting is 1', () => {
    const full = new Uint8Array(4096).fill(0xff);
    expect(ioInstructionCausesExit(full, full, 0x60, 1, false, false)).toBe(false);
    expect(ioInstructionCausesExit(full, full, 0x60, 1, false, true)).toBe(true);
    // with bitmaps, unconditional I/O exiting is ignored
    const empty = new Uint8Array(4096);
    expect(ioInstructionCausesExit(empty, empty, 0x60, 1, true, true)).toBe(false);
  });

  it('passes ports through again and refuses bad ranges and bitmaps', () => {
    const io = new IoBitmaps();
    io.trap(0x3f8, 8);
    io.passThrough(0x3f9);
    expect(io.causesExit(0x3f8, 1)).toBe(true);
    expect(io.causesExit(0x3f9, 1)).toBe(false);
    expect(() => io.trap(0xffff, 2)).toThrow(VmxError);
    expect(() => io.trap(-1)).toThrow(VmxError);
    expect(() => new IoBitmaps(new Uint8Array(10))).toThrow(VmxError);
  });
});

describe('MSR bitmaps (SDM Vol. 3C §25.6.9, §26.1.3)', () => {
  const inRange = (m: number) => m <= 0x1fff || (m >= 0xc000_0000 && m <= 0xc000_1fff);
  const arbMsr = fc.oneof(
    fc.integer({ min: 0, max: 0x1fff }),
    fc.integer({ min: 0xc000_0000, max: 0xc000_1fff }),
  );

  it('answers like a set model for every in-range MSR, read and write', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(arbMsr, fc.boolean()), { maxLength: 64 }), (entries) => {
        const bitmap = new MsrBitmap();
        const model = new Set<string>();
        for (const [msr, write] of entries) {
          bitmap.intercept(msr, write ? 'write' : 'read');
          model.add(`${write ? 'w' : 'r'}${msr}`);
        }
        for (const base of [0, 0xc000_0000]) {
          for (let n = 0; n <= 0x1fff; n++) {
            for (const write of [false, true]) {
              const expected = model.has(`${write ? 'w' : 'r'}${base + n}`);
              if (bitmap.causesExit(base + n, write) !== expected) throw new Error(`${base + n}`);
            }
          }
        }
      }),
      { numRuns: 6 },
    );
  });

  it('always exits outside both ranges, and always without MSR bitmaps', () => {
    const page = new Uint8Array(MSR_BITMAP_SIZE);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), fc.boolean(), (msr, write) => {
        expect(msrAccessCausesExit(page, msr, write, true)).toBe(!inRange(msr));
        expect(msrAccessCausesExit(page, msr, write, false)).toBe(true);
      }),
      { numRuns: 2000 },
    );
    for (const m of [0x2000, 0xbfff_ffff, 0xc000_2000, 0x4000_0000]) {
      expect(msrAccessCausesExit(page, m, false, true)).toBe(true);
    }
  });

  it('lays out the four 1-KByte bitmaps as the SDM does', () => {
    expect(MsrBitmapOffset).toEqual({
      READ_LOW: 0,
      READ_HIGH: 1024,
      WRITE_LOW: 2048,
      WRITE_HIGH: 3072,
    });
    const cases: Array<[number, boolean, number]> = [
      [0x10, false, 0 + (0x10 >> 3)],
      [0xc000_0080, false, 1024 + (0x80 >> 3)],
      [0x10, true, 2048 + (0x10 >> 3)],
      [0xc000_0080, true, 3072 + (0x80 >> 3)],
    ];
    for (const [msr, write, byte] of cases) {
      const b = new MsrBitmap();
      b.intercept(msr, write ? 'write' : 'read');
      const set = [...b.page.keys()].filter((i) => b.page[i] !== 0);
      expect(set).toEqual([byte]);
      expect(b.page[byte]).toBe(1 << (msr & 0x1fff & 7));
      b.passThrough(msr);
      expect(b.page.every((x) => x === 0)).toBe(true);
    }
    expect(() => new MsrBitmap().intercept(0x4000_0000)).toThrow(VmxError);
    expect(() => new MsrBitmap(new Uint8Array(1))).toThrow(VmxError);
  });
});

describe('exception bitmap with PFEC_MASK / PFEC_MATCH (SDM Vol. 3C §25.6.3, §26.2)', () => {
  // Independent model written from the SDM sentences.
  function model(bitmap: number, vector: number, pfec: number, mask: number, match: number) {
    const bit = Math.floor(bitmap / 2 ** vector) % 2 === 1;
    if (vector !== 14) return bit;
    const equal = (pfec & mask) >>> 0 === match >>> 0;
    return equal ? bit : !bit;
  }
  const u32 = fc.integer({ min: 0, max: 0xffff_ffff });

  it('agrees with the model for all vectors and error codes', () => {
    fc.assert(
      fc.property(
        u32,
        fc.integer({ min: 0, max: 31 }),
        u32,
        u32,
        u32,
        (bitmap, vector, pfec, mask, match) => {
          expect(exceptionCausesExit(bitmap, vector, pfec, mask, match)).toBe(
            model(bitmap, vector, pfec, mask, match),
          );
        },
      ),
      { numRuns: 3000 },
    );
    // the interesting #PF cases come from masks that match often
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 0, max: 0xff }),
        fc.integer({ min: 0, max: 0xff }),
        fc.integer({ min: 0, max: 0xff }),
        (bit14, pfec, mask, match) => {
          const bitmap = bit14 ? 1 << 14 : 0;
          expect(exceptionCausesExit(bitmap, 14, pfec, mask, match)).toBe(
            model(bitmap, 14, pfec, mask, match),
          );
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('gives the shadow-paging and "no #PF exits" configurations', () => {
    for (let pfec = 0; pfec < 256; pfec++) {
      expect(exceptionCausesExit(1 << 14, 14, pfec, 0, 0)).toBe(true);
      expect(exceptionCausesExit(1 << 14, 14, pfec, 0, 0xffff_ffff)).toBe(false);
      expect(exceptionCausesExit(0, 14, pfec, 0, 0xffff_ffff)).toBe(true);
      expect(exceptionCausesExit(0, 14, pfec, 0, 0)).toBe(false);
    }
    expect(exceptionCausesExit(1 << 6, 6, 0, 0, 0)).toBe(true);
    expect(exceptionCausesExit(1 << 6, 13, 0, 0, 0)).toBe(false);
    expect(exceptionCausesExit(0xffff_ffff, 32, 0, 0, 0)).toBe(false);
  });
});
