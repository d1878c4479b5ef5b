import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOMParser } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import {
  type Finding,
  findings,
  PAGE_TABLE_WRITE,
  reproduce,
  type Seed003Options,
} from '../src/index.js';

/** An Output that records what the app prints. */
function capture() {
  const lines: string[] = [];
  return {
    lines,
    line: (t: string) => lines.push(t),
    text: () => {},
    json: () => {},
    progress: () => {},
  };
}

const TINY: Seed003Options = {
  workloads: [
    { program: 'kbuild', args: ['tasks=3', 'jobs=2', 'pages=2'] },
    { program: 'web', args: ['requests=3', 'concurrency=2', 'size=256'] },
  ],
  mmus: ['spt', 'ept', 'ept-lp'],
  vcpus: [1, 2],
  memoryMiB: 64,
  maxInstructions: 50_000_000,
};

describe('seed 003 reproduction, tiny configuration end to end', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seed003-'));
  const out = capture();
  const r = reproduce(TINY, dir, out);
  const { rows, skipped } = r.results;

  it('accounts for every configuration: it ran, or the Vm refused it as unsupported', () => {
    expect(rows.length + skipped.length).toBe(2 * 3 * 2);
    expect(rows.length).toBeGreaterThan(0);
    for (const s of skipped) expect(s.reason).not.toBe('');
  });

  it('ran the same guest work under every strategy and vCPU count', () => {
    for (const w of ['kbuild', 'web']) {
      const same = rows.filter((x) => x.workload === w);
      for (const x of same) {
        expect([x.end, x.status]).toEqual(['exit', 0]);
        expect(x.result!.status_sum).toBe(same[0]!.result!.status_sum);
        expect(x.result!.tasks ?? x.result!.served).toBe('3');
      }
    }
  });

  it('counts guest page-table write exits under SPT only', () => {
    for (const x of rows) {
      const pt = x.shadowFaults[PAGE_TABLE_WRITE] ?? 0;
      if (x.mmu !== 'spt') expect(pt).toBe(0);
      expect(pt).toBeLessThanOrEqual(x.exits);
    }
  });

  it('writes results.json with the rows, the skipped configurations and the findings', () => {
    const saved = JSON.parse(readFileSync(r.json, 'utf8'));
    expect(saved).toEqual(JSON.parse(JSON.stringify({ ...r.results, findings: r.findings })));
  });

  it('derives each finding from the rows', () => {
    const time = (w: string, mmu: string, n: number) =>
      rows.find((x) => x.workload === w && x.mmu === mmu && x.vcpus === n)?.simulatedCycles;
    const byId = new Map<string, Finding>(r.findings.map((f) => [f.id, f]));
    const check = (id: string, want: number | undefined) => {
      const f = byId.get(id)!;
      if (want === undefined)
        expect([f.measured, f.agrees, f.display]).toEqual([null, null, 'not run']);
      else expect(f.measured).toBeCloseTo(want, 12);
    };
    const ratio = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined ? undefined : a / b;
    const minus1 = (x: number | undefined) => (x === undefined ? undefined : x - 1);
    check('kbuild-ept-over-spt', minus1(ratio(time('kbuild', 'spt', 1), time('kbuild', 'ept', 1))));
    check('kbuild-ept-scaling', ratio(time('kbuild', 'ept', 1), time('kbuild', 'ept', 2)));
    check('kbuild-spt-scaling', ratio(time('kbuild', 'spt', 1), time('kbuild', 'spt', 2)));
    check(
      'kbuild-large-pages',
      minus1(ratio(time('kbuild', 'ept', 1), time('kbuild', 'ept-lp', 1))),
    );
    check('kbuild-spt-beyond-4', undefined); // needs 4 and more vCPUs
    check('kbuild-ept-beyond-4', undefined);
    check('kbuild-ept-over-spt-mp', ratio(time('kbuild', 'spt', 2), time('kbuild', 'ept', 2)));
    expect(r.findings.map((f) => f.id)).toEqual([
      'web-spt-pt-write-share',
      'web-ept-pt-write-exits',
      'kbuild-ept-over-spt',
      'kbuild-ept-scaling',
      'kbuild-spt-scaling',
      'kbuild-spt-beyond-4',
      'kbuild-ept-beyond-4',
      'kbuild-ept-over-spt-mp',
      'kbuild-large-pages',
      'web-large-pages',
    ]);
    check('web-large-pages', minus1(ratio(time('web', 'ept', 1), time('web', 'ept-lp', 1))));
    expect(findings(r.results)).toEqual(r.findings);
  });

  it('prints the results table, one line per configuration that ran, then the findings', () => {
    const table = out.lines.filter((l) => l.startsWith('| kbuild t') || l.startsWith('| web r'));
    expect(table).toEqual(
      rows.map((x) => expect.stringMatching(`^\\| ${x.command} \\| ${x.mmu} \\| ${x.vcpus} \\|`)),
    );
    expect(out.lines).toContain('| seed 003 expectation | paper | vmkit | same direction |');
    expect(out.lines.filter((l) => l.startsWith('not run: '))).toHaveLength(skipped.length);
  });

  it('draws chart.svg as well-formed SVG with a bar per configuration and figure', () => {
    const doc = new DOMParser({
      onError: (level, message) => {
        throw new Error(`XML ${level}: ${message}`);
      },
    }).parseFromString(readFileSync(r.svg, 'utf8'), 'image/svg+xml');
    expect(doc.documentElement!.namespaceURI).toBe('http://www.w3.org/2000/svg');
    const bars = Array.from(doc.getElementsByTagName('rect')).filter(
      (e) => e.getAttribute('class') === 'bar',
    );
    expect(bars).toHaveLength(rows.length * 2);
    for (const b of bars) {
      const row = rows.find(
        (x) =>
          x.command === b.getAttribute('data-command') &&
          x.mmu === b.getAttribute('data-mmu') &&
          x.vcpus === Number(b.getAttribute('data-vcpus')),
      )!;
      const metric = b.getAttribute('data-metric');
      expect(Number(b.getAttribute('data-value'))).toBe(
        metric === 'VM exits' ? row.exits : row.simulatedSeconds,
      );
    }
  });
});
