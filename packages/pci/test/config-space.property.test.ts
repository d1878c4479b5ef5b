import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigSpace, PciError, PciFunction } from '../src/index.js';
import {
  EXAMPLE,
  EXAMPLE_BARS,
  MSI64_MASKED_4,
  MSIX_3,
  type Row,
  TYPE0_TABLE,
} from './spec-tables.js';

/** A byte-level model of a configuration space built only from the spec tables. */
class Model {
  readonly value = new Uint8Array(4096);
  readonly rw = new Uint8Array(4096);
  readonly w1c = new Uint8Array(4096);

  add(rows: readonly Row[], base: number, override: Readonly<Record<number, number>> = {}) {
    for (const [offset, size, reset, rw, rw1c] of rows) {
      const value = override[offset] ?? reset;
      for (let k = 0; k < size; k++) {
        this.value[base + offset + k] = value >>> (8 * k);
        this.rw[base + offset + k] = rw >>> (8 * k);
        this.w1c[base + offset + k] = rw1c >>> (8 * k);
      }
    }
  }

  write(offset: number, size: number, v: number) {
    for (let k = 0; k < size; k++) {
      const i = offset + k;
      const b = (v >>> (8 * k)) & 0xff;
      this.value[i] = (this.value[i]! & ~this.rw[i]!) | (b & this.rw[i]!);
      this.value[i] = this.value[i]! & ~(b & this.w1c[i]!);
    }
  }
}

function build(): { fn: PciFunction; model: Model } {
  const fn = new PciFunction({ ...EXAMPLE, bars: EXAMPLE_BARS });
  const msi = fn.addMsi({ vectors: 4, address64: true, perVectorMasking: true });
  const msix = fn.addMsix({
    vectors: 3,
    tableBar: 0,
    tableOffset: 0x2000,
    pbaBar: 0,
    pbaOffset: 0x3000,
  });
  const model = new Model();
  // Capabilities Pointer and Status.Capabilities List now point at the list; Next pointers link it.
  model.add(TYPE0_TABLE, 0, { 6: 0x0010, 52: msi.offset });
  model.add(MSI64_MASKED_4, msi.offset, { 0: 0x05 | (msix.offset << 8) });
  model.add(MSIX_3, msix.offset);
  // The Next Pointer byte is RO: model it as part of the ID row's neighbour.
  model.value[msi.offset + 1] = msix.offset;
  return { fn, model };
}

const access = fc
  .record({
    dword: fc.integer({ min: 0, max: 0x7f }),
    size: fc.constantFrom<1 | 2 | 4>(1, 2, 4),
    lane: fc.nat(3),
    value: fc.nat(0xffff_ffff),
  })
  .map(({ dword, size, lane, value }) => ({
    offset: dword * 4 + (size === 4 ? 0 : size === 2 ? lane & 2 : lane),
    size,
    value,
  }));

describe('configuration space under random guest writes (fast-check)', () => {
  it('matches the spec-table model byte for byte: RO bits never change, reserved bytes read 0', () => {
    fc.assert(
      fc.property(fc.array(access, { minLength: 1, maxLength: 60 }), (writes) => {
        const { fn, model } = build();
        for (const w of writes) {
          fn.config.write(w.offset, w.size, w.value);
          model.write(w.offset, w.size, w.value);
        }
        for (let off = 0; off < 0x200; off += 4) {
          const expected =
            (model.value[off]! |
              (model.value[off + 1]! << 8) |
              (model.value[off + 2]! << 16) |
              (model.value[off + 3]! << 24)) >>>
            0;
          if (fn.config.read(off, 4) !== expected) {
            throw new Error(
              `offset 0x${off.toString(16)}: ${fn.config.read(off, 4).toString(16)} != ${expected.toString(16)}`,
            );
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never throws for any offset, size or value a guest can produce', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -8, max: 5000 }),
        fc.constantFrom<1 | 2 | 4>(1, 2, 4),
        fc.integer(),
        (o, s, v) => {
          const { fn } = build();
          fn.config.write(o, s, v);
          const r = fn.config.read(o, s);
          expect(r).toBeGreaterThanOrEqual(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('composes wide reads from narrow ones (little-endian byte lanes)', () => {
    fc.assert(
      fc.property(
        fc.array(access, { maxLength: 20 }),
        fc.integer({ min: 0, max: 0x3f }),
        (writes, dw) => {
          const { fn } = build();
          for (const w of writes) fn.config.write(w.offset, w.size, w.value);
          const o = dw * 4;
          const bytes = [0, 1, 2, 3].map((k) => fn.config.read(o + k, 1));
          const words = [fn.config.read(o, 2), fn.config.read(o + 2, 2)];
          expect(words[0]).toBe(bytes[0]! | (bytes[1]! << 8));
          expect(fn.config.read(o, 4)).toBe((words[0]! | (words[1]! << 16)) >>> 0);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('ConfigSpace register definitions', () => {
  it('refuses overlapping registers and masks that overlap or overflow', () => {
    const cs = new ConfigSpace(256);
    cs.define({ offset: 0x40, size: 4 });
    expect(() => cs.define({ offset: 0x42, size: 2 })).toThrow(PciError);
    expect(() => cs.define({ offset: 0x50, size: 2, writable: 0x1, writeOneToClear: 0x1 })).toThrow(
      PciError,
    );
    expect(() => cs.define({ offset: 0x50, size: 1, writable: 0x100 })).toThrow(PciError);
    expect(() => cs.define({ offset: 0xfe, size: 4 })).toThrow(PciError);
    expect(() => new ConfigSpace(512 as 256)).toThrow(PciError);
  });

  it('runs write hooks only for writes that touch the watched bytes', () => {
    const cs = new ConfigSpace(256);
    cs.define({ offset: 0x40, size: 4, writable: 0xffff_ffff });
    const seen: number[] = [];
    cs.onWrite(0x42, 1, (o, s, v) => seen.push(o, s, v));
    cs.write(0x40, 2, 0xaaaa);
    cs.write(0x43, 1, 0xbb);
    expect(seen).toEqual([]);
    cs.write(0x40, 4, 0x1234_5678);
    cs.write(0x42, 2, 0x9);
    expect(seen).toEqual([0x40, 4, 0x1234_5678, 0x42, 2, 0x9]);
  });
});
