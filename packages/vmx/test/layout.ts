// A generic check of an encoder against a transcribed bit layout: setting one field to its
// largest value (or true) and every other field to 0 (or false) must set exactly that field's
// bits. The layout comes from test/sdm-tables.ts, never from src/.
import { expect } from 'vitest';
import type { Layout } from './sdm-tables.js';

export function bitsOf(lo: number, hi: number): number {
  let m = 0;
  for (let b = lo; b <= hi; b++) m = (m | (1 << b)) >>> 0;
  return m;
}

/**
 * @param layout - the table
 * @param zero - a value with every field 0/false
 * @param encode - the encoder under test
 * @param maxOf - optional override of a field's largest encodable value (typed value, and the
 *   raw bits it must produce)
 */
export function checkLayout<T extends object>(
  layout: Layout,
  zero: T,
  encode: (value: T) => number,
  maxOf: Partial<Record<string, readonly [unknown, number]>> = {},
): void {
  expect(encode(zero)).toBe(0);
  for (const [field, lo, hi] of layout) {
    const sample = zero as Record<string, unknown>;
    const override = maxOf[field];
    const isFlag = typeof sample[field] === 'boolean';
    const value = override ? override[0] : isFlag ? true : 2 ** (hi - lo + 1) - 1;
    const expected = override ? override[1] : bitsOf(lo, hi);
    expect(encode({ ...zero, [field]: value }), field).toBe(expected);
  }
  // The fields cover disjoint bits, so all of them together set their union.
  let union = 0;
  for (const [, lo, hi] of layout) {
    expect((union & bitsOf(lo, hi)) >>> 0, 'overlapping layout').toBe(0);
    union = (union | bitsOf(lo, hi)) >>> 0;
  }
}

/** Extracts a field's raw bits from a value, using only the layout. */
export function fieldOf(layout: Layout, value: number, field: string): number {
  const entry = layout.find(([name]) => name === field);
  if (!entry) throw new Error(`no field ${field}`);
  const [, lo, hi] = entry;
  return ((value >>> 0) & bitsOf(lo, hi)) >>> lo;
}
