import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOMParser, type Element } from '@xmldom/xmldom';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CompareReport,
  type CompareRow,
  compareChartSvg,
  escapeXml,
  runCli,
} from '../src/index.js';
import { capture } from './support/capture.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** A strict XML parse: any warning, error or fatal error fails. */
function parseXml(text: string) {
  return new DOMParser({
    onError: (level, message) => {
      throw new Error(`XML ${level}: ${message}`);
    },
  }).parseFromString(text, 'image/svg+xml');
}

function elements(doc: ReturnType<typeof parseXml>, tag: string): Element[] {
  return Array.from(doc.getElementsByTagName(tag));
}

describe('vmkit compare', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmkit-compare-'));
  const svg = join(dir, 'chart.svg');
  const out = capture();
  const status = runCli(
    ['compare', '--workload', 'hello', '--mmu', 'native,ept,ept-lp', '--svg', svg, '--json'],
    out,
  );
  const report = out.values[0] as CompareReport & { kind: string };

  it('runs each configuration once, in the order given, and prints one JSON object', () => {
    expect(status).toBe(0);
    expect(out.values).toHaveLength(1);
    expect(Object.keys(report)).toEqual(['kind', 'command', 'memoryMiB', 'rows', 'ratios']);
    expect(report.rows.map((r) => [r.mmu, r.vcpus])).toEqual([
      ['native', 1],
      ['ept', 1],
      ['ept-lp', 1],
    ]);
    for (const r of report.rows) {
      expect(r).toMatchObject({ end: 'exit', status: 0, result: { pid: '1' } });
      expect('console' in r).toBe(false);
    }
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('relates every configuration to the first', () => {
    const [base] = report.rows;
    report.ratios.forEach((q, i) => {
      const r = report.rows[i]!;
      expect([q.mmu, q.vcpus]).toEqual([r.mmu, r.vcpus]);
      expect(q.simulatedCycles).toBe(r.simulatedCycles / base!.simulatedCycles);
      expect(q.instructions).toBe(r.instructions / base!.instructions);
      expect(q.walkReferences).toBe(
        base!.walkReferences === 0 ? null : r.walkReferences / base!.walkReferences,
      );
      expect(q.exits).toBe(base!.exits === 0 ? null : r.exits / base!.exits);
    });
    expect(report.ratios[0]!.simulatedCycles).toBe(1);
  });

  it('shows the two-dimensional walk: EPT walks cost more references than native, large pages fewer than 4 KiB ones', () => {
    const [native, ept, lp] = report.rows;
    expect(ept!.walkReferences).toBeGreaterThan(native!.walkReferences);
    expect(lp!.walkReferences).toBeLessThan(ept!.walkReferences);
  });

  it('prints the configurations side by side with ratios against the first', () => {
    const text = capture();
    expect(runCli(['compare', '--workload', 'hello', '--mmu', 'ept,ept-lp'], text)).toBe(0);
    expect(text.lines[0]).toBe('hello, 128 MiB');
    expect(text.lines[1]).toMatch(/^\s+ept x1\s+ept-lp x1$/);
    const vs = text.lines.filter((l) => l.startsWith('  vs ept x1'));
    expect(vs.length).toBeGreaterThanOrEqual(3);
    for (const l of vs) expect(l).toMatch(/^ {2}vs ept x1\s+(1\.00x|-)\s+(\d+\.\d\dx|-)$/);
    expect(text.texts).toEqual([]); // the console is not streamed in a comparison
  });

  it('shows what shadow paging costs: exits for guest page-table writes that EPT does not have', () => {
    const spt = capture();
    const argv = ['compare', '--workload', 'kbuild', '--arg', 'tasks=2', '--arg', 'pages=2'];
    expect(runCli([...argv, '--mmu', 'spt,ept', '--json'], spt)).toBe(0);
    const [s, e] = (spt.values[0] as CompareReport).rows;
    expect(s!.shadowFaults['page-table-write']).toBeGreaterThan(0);
    expect(e!.shadowFaults).toEqual({});
    expect(s!.exits).toBeGreaterThan(e!.exits);
    expect(s!.simulatedCycles).toBeGreaterThan(e!.simulatedCycles);
    // The guest did the same work under both.
    expect(s!.result).toEqual(e!.result);
    expect(s!.instructions).toBe(e!.instructions);
    const text = capture();
    expect(runCli([...argv, '--mmu', 'spt,ept'], text)).toBe(0);
    const row = text.lines.find((l) => l.startsWith('  page-table-write'));
    expect(row).toMatch(
      new RegExp(
        `^ {2}page-table-write\\s+${s!.shadowFaults['page-table-write']!.toLocaleString('en-US')}\\s+0$`,
      ),
    );
  });

  it('writes an SVG that a strict XML parser accepts, with one bar per configuration and figure', () => {
    const doc = parseXml(readFileSync(svg, 'utf8'));
    const root = doc.documentElement!;
    expect(root.localName).toBe('svg');
    expect(root.namespaceURI).toBe(SVG_NS);
    const bars = elements(doc, 'rect').filter((r) => r.getAttribute('class') === 'bar');
    expect(bars).toHaveLength(report.rows.length * 2);
    checkBars(bars, report.rows);
  });
});

/** Bar heights are value / series maximum x the plot height (240), read back from the SVG. */
function checkBars(bars: Element[], rows: readonly CompareRow[]): void {
  const series = new Map<string, { value: number; height: number; config: string }[]>();
  for (const b of bars) {
    const name = b.getAttribute('data-series')!;
    const list = series.get(name) ?? [];
    list.push({
      value: Number(b.getAttribute('data-value')),
      height: Number(b.getAttribute('height')),
      config: b.getAttribute('data-config')!,
    });
    series.set(name, list);
  }
  expect([...series.keys()]).toEqual(['simulated time', 'VM exits']);
  const figures = {
    'simulated time': rows.map((r) => r.simulatedSeconds),
    'VM exits': rows.map((r) => r.exits),
  };
  for (const [name, list] of series) {
    const want = figures[name as keyof typeof figures];
    expect(list.map((x) => x.value)).toEqual(want);
    expect(list.map((x) => x.config)).toEqual(rows.map((r) => `${r.mmu} x${r.vcpus}`));
    const max = Math.max(...want);
    for (const x of list) expect(x.height).toBeCloseTo(max === 0 ? 0 : (x.value / max) * 240, 1);
  }
}

describe('compareChartSvg', () => {
  const row = (mmu: string, vcpus: number, s: number, exits: number): CompareRow =>
    ({ mmu, vcpus, simulatedSeconds: s, exits }) as CompareRow;

  it('scales each series to its own maximum', () => {
    const rows = [row('spt', 1, 0.004, 1000), row('ept', 1, 0.003, 10), row('ept', 2, 0.002, 0)];
    const doc = parseXml(compareChartSvg('t', rows));
    checkBars(
      elements(doc, 'rect').filter((r) => r.getAttribute('class') === 'bar'),
      rows,
    );
  });

  it('keeps any title text intact through XML escaping (checked by the parser)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', '&', '<', '>', '"', "'", ';', '#', ' ', 'x', '1') }),
        (title) => {
          const doc = parseXml(compareChartSvg(title, [row('spt', 1, 1, 1)]));
          expect(elements(doc, 'title')[0]!.textContent).toBe(title);
          expect(escapeXml(title)).not.toMatch(/[<>"']|&(?!(amp|lt|gt|quot|apos);)/);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('is checked by a parser that rejects what is not well-formed', () => {
    expect(() =>
      parseXml('<svg xmlns="http://www.w3.org/2000/svg"><text>a < b</text></svg>'),
    ).toThrow();
    expect(() => parseXml('<svg xmlns="http://www.w3.org/2000/svg"><g></svg>')).toThrow();
  });
});
