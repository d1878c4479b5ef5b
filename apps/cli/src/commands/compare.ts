import type { MmuStrategy } from '@vmkit/vmm';
import { count, ratio, seconds, table } from '../format.js';
import type { Output } from '../output.js';
import type { Workload } from '../workload.js';
import { type RunReport, runWorkload } from './run.js';

/** Options of `vmkit compare`. */
export interface CompareOptions {
  /** The guest program and its arguments, the same for every configuration. */
  readonly workload: Workload;
  /** The strategies to run, in order; the first configuration is the baseline of the ratios. */
  readonly mmus: readonly MmuStrategy[];
  /** The vCPU counts to run each strategy with. */
  readonly vcpus: readonly number[];
  /** Guest RAM in MiB. */
  readonly memoryMiB: number;
  /** Instruction budget of each run. */
  readonly maxInstructions: number;
}

/** One configuration's figures in a comparison: a {@link RunReport} without the console. */
export type CompareRow = Omit<RunReport, 'console'>;

/** Ratios of a configuration's figures to the first configuration's (1 for the first). */
export interface CompareRatios {
  /** The strategy. */
  readonly mmu: MmuStrategy;
  /** Virtual CPUs. */
  readonly vcpus: number;
  /** Simulated cycles / baseline simulated cycles (below 1: faster than the baseline). */
  readonly simulatedCycles: number;
  /** VM exits / baseline VM exits (null when the baseline had none). */
  readonly exits: number | null;
  /** Page-walk references / baseline page-walk references (null when the baseline had none). */
  readonly walkReferences: number | null;
  /** Instructions / baseline instructions. */
  readonly instructions: number;
}

/** The result of `vmkit compare`. */
export interface CompareReport {
  /** The kernel command line every configuration ran. */
  readonly command: string;
  /** Guest RAM in MiB. */
  readonly memoryMiB: number;
  /** One row per configuration, strategies in the order given, vCPU counts within each. */
  readonly rows: readonly CompareRow[];
  /** Each row's figures against the first row's. */
  readonly ratios: readonly CompareRatios[];
}

/**
 * Runs the workload under every (strategy, vCPU count) configuration and relates each to the
 * first.
 *
 * @param options - workload, strategies, vCPU counts, RAM, budget
 * @param out - where progress is shown
 * @returns the figures and ratios
 * @throws VmmError when the Vm refuses a configuration
 */
export function runCompare(options: CompareOptions, out: Output): CompareReport {
  const rows: CompareRow[] = [];
  for (const mmu of options.mmus) {
    for (const vcpus of options.vcpus) {
      const { console: _, ...row } = runWorkload(
        {
          workload: options.workload,
          mmu,
          vcpus,
          memoryMiB: options.memoryMiB,
          maxInstructions: options.maxInstructions,
          stream: false,
        },
        out,
      );
      rows.push(row);
    }
  }
  const base = rows[0]!;
  const of = (v: number, b: number) => (b === 0 ? null : v / b);
  return {
    command: options.workload.command,
    memoryMiB: options.memoryMiB,
    rows,
    ratios: rows.map((r) => ({
      mmu: r.mmu,
      vcpus: r.vcpus,
      simulatedCycles: r.simulatedCycles / base.simulatedCycles,
      exits: of(r.exits, base.exits),
      walkReferences: of(r.walkReferences, base.walkReferences),
      instructions: r.instructions / base.instructions,
    })),
  };
}

/**
 * A configuration's short name, as column headers and chart labels show it.
 *
 * @param row - the configuration
 * @returns e.g. `ept-lp x2`
 */
export function configName(row: { readonly mmu: string; readonly vcpus: number }): string {
  return `${row.mmu} x${row.vcpus}`;
}

/**
 * Prints a {@link CompareReport}: configurations side by side with ratios against the first,
 * or one JSON object with `json`.
 *
 * @param report - the comparison
 * @param json - whether to print JSON instead of text
 * @param out - where to print
 */
export function printCompare(report: CompareReport, json: boolean, out: Output): void {
  if (json) {
    out.json({ kind: 'compare', ...report });
    return;
  }
  const rows = report.rows;
  const base = rows[0]!;
  const vs = `  vs ${configName(base)}`;
  const line = (label: string, f: (r: CompareRow) => string) => [label, ...rows.map(f)];
  const against = (f: (r: CompareRow) => number) => line(vs, (r) => ratio(f(r), f(base)));
  // Exit reasons, the most frequent (in any configuration) first.
  const most = (k: string) => Math.max(...rows.map((r) => r.exitsByReason[k] ?? 0));
  const reasons = [...new Set(rows.flatMap((r) => Object.keys(r.exitsByReason)))].sort(
    (a, b) => most(b) - most(a) || (a < b ? -1 : 1),
  );
  const kinds = [...new Set(rows.flatMap((r) => Object.keys(r.shadowFaults)))].filter((k) =>
    rows.some((r) => (r.shadowFaults[k] ?? 0) > 0),
  );
  const shadowFaults = (r: CompareRow) => Object.values(r.shadowFaults).reduce((a, b) => a + b, 0);
  const cells: string[][] = [
    ['', ...rows.map(configName)],
    line('end', (r) => (r.end === 'exit' ? `exit ${r.status}` : r.end)),
    line('simulated time', (r) => seconds(r.simulatedSeconds)),
    against((r) => r.simulatedCycles),
    line('instructions', (r) => count(r.instructions)),
    line('VM exits', (r) => count(r.exits)),
    against((r) => r.exits),
    ...reasons.map((k) => line(`  ${k}`, (r) => count(r.exitsByReason[k] ?? 0))),
    line('shadow faults', (r) => count(shadowFaults(r))),
    ...kinds.map((k) => line(`  ${k}`, (r) => count(r.shadowFaults[k] ?? 0))),
    line('page-walk references', (r) => count(r.walkReferences)),
    against((r) => r.walkReferences),
    line('TLB misses', (r) => count(r.tlb.misses)),
    line('wall time', (r) => seconds(r.wallSeconds)),
  ];
  out.line(`${report.command}, ${report.memoryMiB} MiB`);
  for (const l of table(cells)) out.line(l);
}
