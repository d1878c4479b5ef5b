import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  findings,
  findingsTable,
  resultsTable,
  type Seed003Results,
  seed003ChartSvg,
} from '../src/index.js';

const file = (name: string) => readFileSync(new URL(`../${name}`, import.meta.url), 'utf8');

// The README's tables and the chart must be what the code makes of results/results.json, so
// neither can be edited by hand or drift from the data.
describe('the committed results', () => {
  const saved = JSON.parse(file('results/results.json')) as Seed003Results & {
    findings: unknown;
  };
  const readme = file('README.md');

  it('are a full run of the paper experiment', () => {
    const { workloads, mmus, vcpus } = saved.options;
    expect(saved.rows.length + saved.skipped.length).toBe(
      workloads.length * mmus.length * vcpus.length,
    );
    for (const r of saved.rows) expect([r.end, r.status]).toEqual(['exit', 0]);
  });

  it('give the findings saved with them', () => {
    expect(findings(saved)).toEqual(saved.findings);
  });

  it('are the tables in the README', () => {
    for (const line of [...resultsTable(saved), ...findingsTable(findings(saved))])
      expect(readme).toContain(line);
  });

  it('are the chart', () => {
    expect(file('results/chart.svg')).toBe(seed003ChartSvg(saved));
  });
});
