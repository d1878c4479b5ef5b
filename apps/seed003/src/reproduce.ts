import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Output } from '@vmkit/cli';
import { seed003ChartSvg } from './chart.js';
import { runSeed003, type Seed003Options, type Seed003Results } from './experiment.js';
import { type Finding, findings } from './findings.js';
import { findingsTable, resultsTable } from './report.js';

/** What {@link reproduce} wrote and printed. */
export interface Reproduction {
  /** The experiment's rows and skipped configurations. */
  readonly results: Seed003Results;
  /** Seed 003's expectations against the rows. */
  readonly findings: readonly Finding[];
  /** Path of `results.json`. */
  readonly json: string;
  /** Path of `chart.svg`. */
  readonly svg: string;
}

/**
 * Runs the experiment, writes `results.json` (options, rows, skipped configurations,
 * findings) and `chart.svg` into `dir`, and prints the results table, the findings table and
 * any skipped configuration as Markdown.
 *
 * @param options - what to run (`PAPER_EXPERIMENT` for the README's table)
 * @param dir - the output directory (created if missing)
 * @param out - where the tables are printed
 * @returns the results and the files written
 */
export function reproduce(options: Seed003Options, dir: string, out: Output): Reproduction {
  const results = runSeed003(options, out);
  const list = findings(results);
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'results.json');
  const svg = join(dir, 'chart.svg');
  writeFileSync(json, `${JSON.stringify({ ...results, findings: list }, null, 2)}\n`);
  writeFileSync(svg, seed003ChartSvg(results));
  for (const l of resultsTable(results)) out.line(l);
  out.line('');
  for (const l of findingsTable(list)) out.line(l);
  if (results.skipped.length > 0) out.line('');
  for (const s of results.skipped) {
    const n = `${s.vcpus} vCPU${s.vcpus === 1 ? '' : 's'}`;
    out.line(`not run: ${s.command} under ${s.mmu} on ${n}: ${s.reason}`);
  }
  return { results, findings: list, json, svg };
}
