import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DirtyBitmap, GuestMemoryError } from '../src/index.js';

describe('DirtyBitmap', () => {
  it('harvests exactly the marked pages, sorted, and clears them', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 5000 })
          .chain((n) =>
            fc.tuple(
              fc.constant(n),
              fc.array(fc.integer({ min: 0, max: n - 1 }), { maxLength: 300 }),
            ),
          ),
        ([n, pages]) => {
          const bitmap = new DirtyBitmap(n);
          for (const p of pages) bitmap.mark(p);
          const expected = [...new Set(pages)].sort((a, b) => a - b);
          expect(bitmap.count()).toBe(expected.length);
          for (const p of expected) expect(bitmap.isDirty(p)).toBe(true);
          expect(bitmap.harvest()).toEqual(expected);
          expect(bitmap.count()).toBe(0);
          expect(bitmap.harvest()).toEqual([]);
        },
      ),
    );
  });

  it('covers the top bits of words and summary words', () => {
    const bitmap = new DirtyBitmap(2 ** 20);
    const pages = [0, 31, 32, 1023, 1024, 2 ** 20 - 1];
    for (const p of pages) bitmap.mark(p);
    expect(bitmap.harvest()).toEqual(pages);
  });

  it('marks ranges and refuses pages outside the bitmap', () => {
    const bitmap = new DirtyBitmap(100);
    bitmap.markRange(95, 5);
    expect(bitmap.harvest()).toEqual([95, 96, 97, 98, 99]);
    expect(() => bitmap.markRange(95, 6)).toThrow(GuestMemoryError);
    expect(() => bitmap.mark(-1)).toThrow(GuestMemoryError);
    expect(() => bitmap.mark(0.5)).toThrow(GuestMemoryError);
    expect(() => new DirtyBitmap(-3)).toThrow(GuestMemoryError);
    expect(() => new DirtyBitmap(2 ** 31 + 1)).toThrow(GuestMemoryError);
  });
});
