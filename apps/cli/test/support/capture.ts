import type { Output } from '../../src/index.js';

/** An {@link Output} that records lines, JSON values and progress calls. */
export function capture(): Output & {
  lines: string[];
  values: unknown[];
  texts: string[];
  progress: Output['progress'];
  ticks: [string, number, number][];
} {
  const lines: string[] = [];
  const values: unknown[] = [];
  const ticks: [string, number, number][] = [];
  const texts: string[] = [];
  return {
    lines,
    values,
    ticks,
    texts,
    line: (t) => lines.push(t),
    text: (t) => texts.push(t),
    json: (v) => values.push(v),
    progress: (label, done, total) => ticks.push([label, done, total]),
  };
}
