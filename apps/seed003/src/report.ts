import { type CompareRow, count, seconds } from '@vmkit/cli';
import type { Seed003Results } from './experiment.js';
import { type Finding, pageTableWriteExits } from './findings.js';

/**
 * The results as the Markdown table the README shows: one row per configuration with its
 * simulated time, its ratio to the same workload's first configuration (SPT on 1 vCPU in the
 * paper's experiment), its speedup over the same strategy on the first vCPU count, VM exits and
 * those caused by guest page-table writes, shadow faults, page-walk references and TLB misses.
 *
 * @param results - the experiment's rows
 * @returns the table's lines
 */
export function resultsTable(results: Seed003Results): string[] {
  const lines = [
    '| workload | mmu | vCPUs | simulated time | vs first | speedup vs 1st vCPU count | VM exits | guest PT-write exits | shadow faults | page-walk refs | TLB misses | instructions |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of results.rows) {
    const same = results.rows.filter((x) => x.command === r.command);
    const first = same[0]!;
    const oneVcpu = same.find((x) => x.mmu === r.mmu && x.vcpus === results.options.vcpus[0]);
    lines.push(
      `| ${[
        r.command,
        r.mmu,
        String(r.vcpus),
        seconds(r.simulatedSeconds),
        `${(r.simulatedCycles / first.simulatedCycles).toFixed(2)}x`,
        oneVcpu === undefined
          ? '-'
          : `${(oneVcpu.simulatedCycles / r.simulatedCycles).toFixed(2)}x`,
        count(r.exits),
        count(pageTableWriteExits(r)),
        count(shadowFaultCount(r)),
        count(r.walkReferences),
        count(r.tlb.misses),
        count(r.instructions),
      ].join(' | ')} |`,
    );
  }
  return lines;
}

/**
 * The findings as a Markdown table: claim, paper, vmkit, and whether they point the same way.
 *
 * @param list - from `findings`
 * @returns the table's lines
 */
export function findingsTable(list: readonly Finding[]): string[] {
  const verdict = (f: Finding) => (f.agrees === null ? 'not run' : f.agrees ? 'yes' : 'no');
  return [
    '| seed 003 expectation | paper | vmkit | same direction |',
    '|---|---|--:|---|',
    ...list.map((f) => `| ${f.claim} | ${f.paper} | ${f.display} | ${verdict(f)} |`),
  ];
}

function shadowFaultCount(r: CompareRow): number {
  return Object.values(r.shadowFaults).reduce((a, b) => a + b, 0);
}
