import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Metrics, SimError } from '../src/index.js';

describe('Metrics', () => {
  it('counts and exports sorted JSON', () => {
    const m = new Metrics();
    m.count('b');
    m.count('a', 5);
    m.count('b', 2);
    expect(m.counter('b')).toBe(3);
    expect(m.counter('never')).toBe(0);
    expect(JSON.parse(JSON.stringify(m))).toEqual({ counters: { a: 5, b: 3 }, histograms: {} });
    expect(Object.keys(m.toJSON().counters)).toEqual(['a', 'b']);
    m.reset();
    expect(m.toJSON()).toEqual({ counters: {}, histograms: {} });
  });

  it('puts values in power-of-two buckets', () => {
    const m = new Metrics();
    for (const v of [0, 0.5, 1, 2, 3, 4, 1023, 1024]) m.observe('h', v);
    expect(m.histogram('h')).toEqual({
      count: 8,
      sum: 2057.5,
      min: 0,
      max: 1024,
      buckets: [
        { from: 0, to: 1, count: 2 },
        { from: 1, to: 2, count: 1 },
        { from: 2, to: 4, count: 2 },
        { from: 4, to: 8, count: 1 },
        { from: 512, to: 1024, count: 1 },
        { from: 1024, to: 2048, count: 1 },
      ],
    });
  });

  it('puts every value in the bucket whose bounds contain it (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.maxSafeNat(), { minLength: 1, maxLength: 50 }), (values) => {
        const m = new Metrics();
        for (const v of values) m.observe('h', v);
        const h = m.histogram('h');
        let total = 0;
        for (const b of h?.buckets ?? []) {
          const inside = values.filter((v) => v >= b.from && v < b.to).length;
          expect(b.count).toBe(inside);
          total += b.count;
        }
        expect(total).toBe(values.length);
        expect(h?.max).toBe(Math.max(...values));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses bad names and values with typed errors', () => {
    const m = new Metrics();
    expect(() => m.count('')).toThrow(SimError);
    expect(() => m.observe('h', -1)).toThrow(SimError);
    expect(() => m.observe('h', Number.NaN)).toThrow(SimError);
    expect(() => m.count('c', Number.POSITIVE_INFINITY)).toThrow(SimError);
  });
});
