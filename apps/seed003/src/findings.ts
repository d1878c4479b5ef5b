import type { CompareRow } from '@vmkit/cli';
import type { MmuStrategy } from '@vmkit/vmm';
import type { Seed003Results } from './experiment.js';

/** One of seed 003's claims, the paper's figure, and what vmkit measured. */
export interface Finding {
  /** A stable identifier. */
  readonly id: string;
  /** The claim, as the issue states seed 003's expectation. */
  readonly claim: string;
  /** The paper's figure, as text. */
  readonly paper: string;
  /** vmkit's figure, or null when a configuration it needs did not run. */
  readonly measured: number | null;
  /** vmkit's figure as text (`not run` when null). */
  readonly display: string;
  /** Whether vmkit's figure points the same way as the paper's, or null when not measured. */
  readonly agrees: boolean | null;
}

/** The shadow-fault kind of a guest write to a write-protected guest page table. */
export const PAGE_TABLE_WRITE = 'page-table-write';

/**
 * VM exits caused by the write protection of guest page tables: under shadow paging each
 * guest write to one of its page tables faults, exits and is emulated (seed 003 §II.A).
 *
 * @param row - a configuration's figures
 * @returns those exits (0 for EPT, which leaves the guest its page tables)
 */
export function pageTableWriteExits(row: CompareRow): number {
  return row.shadowFaults[PAGE_TABLE_WRITE] ?? 0;
}

const percent = (x: number) => `${(x * 100).toFixed(1)}%`;
const signed = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;

/**
 * Relates the results to seed 003's four expectations: the share of SPT exits caused by
 * write-protected guest page tables (web), EPT's gain over SPT on a uniprocessor kernel build,
 * how SPT and EPT scale with vCPUs (kernel build), and what 2 MiB pages add to EPT.
 *
 * @param results - the experiment's rows
 * @returns the findings, in the order the README lists them
 */
export function findings(results: Seed003Results): Finding[] {
  const find = (program: string, mmu: MmuStrategy, vcpus: number) =>
    results.rows.find((r) => r.workload === program && r.mmu === mmu && r.vcpus === vcpus);
  const time = (program: string, mmu: MmuStrategy, vcpus: number) =>
    find(program, mmu, vcpus)?.simulatedCycles;
  const up = results.options.vcpus[0] ?? 1;
  const mp = Math.max(...results.options.vcpus);
  const list: Finding[] = [];
  const add = (
    id: string,
    claim: string,
    paper: string,
    measured: number | undefined,
    show: (x: number) => string,
    agrees: (x: number) => boolean,
  ) =>
    list.push({
      id,
      claim,
      paper,
      measured: measured ?? null,
      display: measured === undefined ? 'not run' : show(measured),
      agrees: measured === undefined ? null : agrees(measured),
    });

  const webSpt = find('web', 'spt', up);
  add(
    'web-spt-pt-write-share',
    `web under SPT, ${up} vCPU: share of VM exits caused by write-protected guest page tables`,
    'about 95% (Figure 17, WebBench)',
    webSpt === undefined || webSpt.exits === 0
      ? undefined
      : pageTableWriteExits(webSpt) / webSpt.exits,
    percent,
    (x) => x > 0.5,
  );
  const eptWeb = find('web', 'ept', up);
  add(
    'web-ept-pt-write-exits',
    `web under EPT, ${up} vCPU: VM exits caused by guest page-table writes`,
    'none: EPT leaves the guest its page tables (§III.B)',
    eptWeb === undefined ? undefined : pageTableWriteExits(eptWeb),
    (x) => String(x),
    (x) => x === 0,
  );
  const kSpt = time('kbuild', 'spt', up);
  const kEpt = time('kbuild', 'ept', up);
  add(
    'kbuild-ept-over-spt',
    `kbuild, ${up} vCPU: EPT's gain over SPT (SPT time / EPT time - 1)`,
    'about +24% (Figure 7)',
    kSpt === undefined || kEpt === undefined ? undefined : kSpt / kEpt - 1,
    signed,
    (x) => x > 0,
  );
  const speedup = (mmu: MmuStrategy) => {
    const one = time('kbuild', mmu, up);
    const many = time('kbuild', mmu, mp);
    return one === undefined || many === undefined || mp === up ? undefined : one / many;
  };
  const eptSpeedup = speedup('ept');
  add(
    'kbuild-ept-scaling',
    `kbuild under EPT: speedup from ${up} to ${mp} vCPUs`,
    'keeps scaling: 8.17x at 16 vCPUs (Figure 8)',
    eptSpeedup,
    (x) => `${x.toFixed(2)}x`,
    (x) => x > 1,
  );
  // SPT "stops scaling": it gains less from more vCPUs than EPT does on the same workload.
  add(
    'kbuild-spt-scaling',
    `kbuild under SPT: speedup from ${up} to ${mp} vCPUs (below EPT's)`,
    'does not scale beyond 4 vCPUs: the shadow lock (Figure 8)',
    eptSpeedup === undefined ? undefined : speedup('spt'),
    (x) => `${x.toFixed(2)}x`,
    (x) => x < eptSpeedup!,
  );
  const spt4 = time('kbuild', 'spt', 4);
  const sptMp = time('kbuild', 'spt', mp);
  add(
    'kbuild-spt-beyond-4',
    `kbuild under SPT: speedup from 4 to ${mp} vCPUs`,
    'none: flat beyond 4 vCPUs (Figure 8)',
    spt4 === undefined || sptMp === undefined || mp <= 4 ? undefined : spt4 / sptMp,
    (x) => `${x.toFixed(2)}x`,
    (x) => x < 1.1,
  );
  const ept4 = time('kbuild', 'ept', 4);
  const eptMp = time('kbuild', 'ept', mp);
  add(
    'kbuild-ept-beyond-4',
    `kbuild under EPT: speedup from 4 to ${mp} vCPUs`,
    'keeps gaining beyond 4 vCPUs, unlike SPT (Figure 8)',
    ept4 === undefined || eptMp === undefined || mp <= 4 ? undefined : ept4 / eptMp,
    (x) => `${x.toFixed(2)}x`,
    (x) => x > 1,
  );
  const kSptMp = time('kbuild', 'spt', mp);
  const kEptMp = time('kbuild', 'ept', mp);
  add(
    'kbuild-ept-over-spt-mp',
    `kbuild, ${mp} vCPUs: EPT's speedup over SPT (SPT time / EPT time), larger than on ${up}`,
    '3.9x on 16 vCPUs, against 1.24x on 1 (Figures 7, 8)',
    kSptMp === undefined || kEptMp === undefined || kSpt === undefined || kEpt === undefined
      ? undefined
      : kSptMp / kEptMp,
    (x) => `${x.toFixed(2)}x`,
    (x) => x > kSpt! / kEpt!,
  );
  for (const program of ['kbuild', 'web']) {
    const ept = time(program, 'ept', up);
    const lp = time(program, 'ept-lp', up);
    add(
      `${program}-large-pages`,
      `${program}, ${up} vCPU: what 2 MiB EPT pages add (EPT time / EPT-LP time - 1)`,
      program === 'kbuild' ? 'about +2% (Figure 7)' : 'about +14% (Figure 10, WebBench)',
      ept === undefined || lp === undefined ? undefined : ept / lp - 1,
      signed,
      (x) => x > 0,
    );
  }
  return list;
}
