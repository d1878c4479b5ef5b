import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseSize, runCli, runMemoryDemo } from '../src/index.js';
import { capture } from './support/capture.js';

describe('vmkit demo memory', () => {
  it('dirties and harvests pages of a 64 GiB guest while allocating only what it touched', () => {
    const out = capture();
    const report = runMemoryDemo({ size: 64 * 2 ** 30, epochs: 4, writes: 5000, seed: 7 }, out);
    expect(report.epochs).toHaveLength(4);
    for (const e of report.epochs) {
      expect(e.dirtyPages).toBeGreaterThan(0);
      expect(e.dirtyPages).toBeLessThanOrEqual(e.writes);
    }
    const last = report.epochs.at(-1)!;
    expect(report.hostBytes).toBe(last.materializedPages * 4096);
    expect(report.hostBytes).toBeLessThan(2 ** 30);
    expect(report.refusedAccess.code).toBe('CROSSES_REGION');
  });

  it('is deterministic for a seed', () => {
    const a = runMemoryDemo({ size: 2 ** 30, epochs: 2, writes: 1000, seed: 3 }, capture());
    const b = runMemoryDemo({ size: 2 ** 30, epochs: 2, writes: 1000, seed: 3 }, capture());
    expect(a.epochs.map((e) => e.dirtyPages)).toEqual(b.epochs.map((e) => e.dirtyPages));
  });

  it('prints JSON lines with --json', () => {
    const out = capture();
    expect(runCli(['demo', 'memory', '--size', '1G', '--epochs', '2', '--json'], out)).toBe(0);
    expect(out.values.map((v) => (v as { kind: string }).kind)).toEqual([
      'epoch',
      'epoch',
      'summary',
    ]);
  });
});

describe('vmkit usage errors', () => {
  it.each([
    [['frobnicate']],
    [['demo', 'memory', '--epochs', '0']],
    [['demo', 'memory', '--size', 'lots']],
    [['demo', 'memory', '--bogus']],
    [['demo', 'memory', 'extra']],
  ])('exits 2 for %j', (argv) => {
    expect(runCli(argv, capture())).toBe(2);
  });

  it('exits 1 with the memory error for a guest size that is not page aligned', () => {
    expect(runCli(['demo', 'memory', '--size', '1000'], capture())).toBe(1);
  });

  it('parses binary size suffixes', () => {
    expect(parseSize('64G', 's')).toBe(64 * 2 ** 30);
    expect(parseSize('2KiB', 's')).toBe(2048);
    expect(parseSize('4096', 's')).toBe(4096);
  });
});

describe('the built binary', () => {
  const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));

  it('runs as a program and prints the version', () => {
    expect(execFileSync('node', [main, '--version'], { encoding: 'utf8' })).toMatch(/^vmkit \d/);
  });

  it('reports a usage error on stderr with status 2', () => {
    const r = spawnSync('node', [main, 'nope'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown command "nope"');
  });
});
