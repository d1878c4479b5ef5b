import { describe, expect, it } from 'vitest';
import { extractExamples, opsPerSecond } from '../src/index.js';

describe('extractExamples', () => {
  it('takes only blocks fenced as ts example, in order', () => {
    const md = [
      '# title',
      '```ts example',
      'const a = 1;',
      '```',
      '```ts',
      'not an example',
      '```',
      '```sh',
      'npm i',
      '```',
      '```ts example',
      'const b = 2;',
      '```',
    ].join('\n');
    expect(extractExamples(md)).toEqual(['const a = 1;\n', 'const b = 2;\n']);
  });

  it('finds nothing in a README without examples', () => {
    expect(extractExamples('# nothing\n```ts\nx\n```\n')).toEqual([]);
  });
});

describe('opsPerSecond', () => {
  it('warms up, runs every round for at least the minimum time, and reports a rate', () => {
    let calls = 0;
    const start = performance.now();
    const rate = opsPerSecond(() => calls++, 10, { minMs: 5, rounds: 3 });
    expect(performance.now() - start).toBeGreaterThanOrEqual(15);
    expect(calls).toBeGreaterThanOrEqual(3 + 3);
    expect(Number.isFinite(rate) && rate > 0).toBe(true);
  });
});
