import { GuestPhysicalMemory } from '@vmkit/memory';
import { ACCESS_WRITE } from '@vmkit/paging';
import {
  type LogDirtyStrategy,
  ShadowFaultKind,
  ShadowMmu,
  ShadowOutcome,
} from '@vmkit/shadow-paging';
import { CR0, CR4, EFER } from '@vmkit/x86';
import type { Output } from '../output.js';
import { xorshift32 } from '../random.js';

/** Options of `vmkit demo log-dirty`. */
export interface LogDirtyDemoOptions {
  /** Dirty-log epochs (harvests). */
  readonly epochs: number;
  /** Guest accesses per epoch. */
  readonly accesses: number;
  /** Seed of the access pattern (the same for every strategy). */
  readonly seed: number;
}

/** What one strategy cost on the workload. */
export interface LogDirtyRow {
  /** Seed 004's strategy. */
  readonly strategy: LogDirtyStrategy;
  /** Hidden shadow page faults of all kinds during the epochs. */
  readonly faults: number;
  /** Of those, not-present faults (a shadow entry refilled). */
  readonly notPresentFaults: number;
  /** Of those, write-protect faults (a first write in the epoch made the entry writable). */
  readonly writeProtectFaults: number;
  /** Pages all harvests reported, summed over epochs. */
  readonly harvestedPages: number;
  /** Epochs whose harvest was exactly the set of frames the guest wrote. */
  readonly exactEpochs: number;
  /** Entries Histase made writable ahead of a write (write-fault prediction only). */
  readonly predicted: number;
  /** Predicted entries that were then written / predicted entries. */
  readonly precision: number;
  /** Written pages that had been predicted / written pages. */
  readonly recall: number;
}

/** The result of `vmkit demo log-dirty`. */
export interface LogDirtyDemoReport {
  /** Data pages of the guest. */
  readonly pages: number;
  /** Epochs run. */
  readonly epochs: number;
  /** Accesses per epoch. */
  readonly accesses: number;
  /** Whether the three strategies harvested the same pages in every epoch. */
  readonly harvestsEqual: boolean;
  /** One row per strategy. */
  readonly rows: readonly LogDirtyRow[];
}

const STRATEGIES: readonly LogDirtyStrategy[] = [
  'original',
  'read-fault-reduction',
  'write-fault-prediction',
];
/** Data pages of the guest, mapped by one guest page table. */
export const LOG_DIRTY_PAGES = 256;
const RAM_BASE = 0x100_0000; // guest frame n lives at host RAM_BASE + n * 4 KiB
const RAM_PAGES = 4096;
const SHADOW = { base: 0x10_0000, limit: 0x30_0000 };
const DATA_GFN = 0x100;
const DATA_LINEAR = 0x40_0000;
const WRITE_RATIO = 0.6;
const MAX_RUN = 24;

/**
 * Builds the guest: 256 data pages at linear 4 MiB (guest frames 0x100-0x1ff) under one page
 * table. Every entry has A set and every leaf D set, so the shadow MMU never writes guest
 * memory itself and the pages dirtied in an epoch are exactly the frames the guest wrote.
 *
 * @returns the shadow MMU and the host memory behind it
 */
export function buildLogDirtyGuest(): { shadow: ShadowMmu; host: GuestPhysicalMemory } {
  const host = new GuestPhysicalMemory({
    ram: [
      { base: SHADOW.base, size: SHADOW.limit - SHADOW.base },
      { base: RAM_BASE, size: RAM_PAGES * 4096 },
    ],
  });
  const put = (gpa: number, v: number) => {
    host.write32(RAM_BASE + gpa, v);
    host.write32(RAM_BASE + gpa + 4, 0);
  };
  put(0x1000, 0x2027); // PML4E 0: P, R/W, U/S, A
  put(0x2000, 0x3027);
  put(0x3000 + 2 * 8, 0x4027); // PDE 2: linear 4 MiB
  for (let i = 0; i < LOG_DIRTY_PAGES; i++) put(0x4000 + i * 8, (DATA_GFN + i) * 4096 + 0x67);
  const shadow = new ShadowMmu(host, {
    p2m: (gfn) => (gfn >= 0 && gfn < RAM_PAGES ? RAM_BASE + gfn * 4096 : -1),
    shadowMemory: SHADOW,
    guest: {
      cr0: CR0.PG | CR0.PE | CR0.WP,
      cr4: CR4.PAE,
      efer: EFER.LME | EFER.LMA,
      cr3: 0x1000n,
    },
  });
  return { shadow, host };
}

/**
 * The workload, identical for every strategy: accesses in runs of 1-24 neighbouring pages
 * (the spatial locality seed 004 observed), 60% of runs writing.
 *
 * @param options - epochs, accesses per epoch, seed
 * @returns per epoch, the page index and whether it is a write, for each access
 */
export function logDirtyWorkload(options: LogDirtyDemoOptions): [number, boolean][][] {
  const random = xorshift32(options.seed);
  return Array.from({ length: options.epochs }, () => {
    const epoch: [number, boolean][] = [];
    while (epoch.length < options.accesses) {
      const start = Math.floor(random() * LOG_DIRTY_PAGES);
      const length = 1 + Math.floor(random() * MAX_RUN);
      const write = random() < WRITE_RATIO;
      for (let k = 0; k < length && epoch.length < options.accesses; k++) {
        epoch.push([(start + k) % LOG_DIRTY_PAGES, write]);
      }
    }
    return epoch;
  });
}

/**
 * Runs the workload under one strategy: a warm-up pass outside log-dirty mode (shadows exist,
 * as in a running VM), then the epochs, harvesting after each.
 *
 * @param strategy - seed 004's strategy
 * @param workload - from {@link logDirtyWorkload}
 * @returns the counters and each epoch's harvest
 */
export function runStrategy(
  strategy: LogDirtyStrategy,
  workload: readonly (readonly [number, boolean][])[],
): { row: LogDirtyRow; harvests: number[][] } {
  const { shadow, host } = buildLogDirtyGuest();
  for (let i = 0; i < LOG_DIRTY_PAGES; i++) shadow.translate(0, DATA_LINEAR + i * 4096, 0);
  shadow.startLogDirty({ strategy });
  const s = shadow.stats;
  const before = Float64Array.from(s.faults);
  const harvests: number[][] = [];
  let exactEpochs = 0;
  for (const epoch of workload) {
    const written = new Set<number>();
    for (const [page, write] of epoch) {
      const outcome = shadow.translate(0, DATA_LINEAR + page * 4096 + 16, write ? ACCESS_WRITE : 0);
      if (outcome !== ShadowOutcome.OK) throw new Error(`access to page ${page}: ${outcome}`);
      if (write) {
        const hpa = shadow.result.hostPhysical;
        host.write8(hpa, (host.read8(hpa) + 1) & 0xff);
        written.add(Math.floor(shadow.result.physical / 4096));
      }
    }
    const harvest = shadow.harvest();
    harvests.push(harvest);
    const want = [...written].sort((a, b) => a - b);
    if (harvest.length === want.length && harvest.every((g, i) => g === want[i])) exactEpochs++;
  }
  const kind = (k: number) => s.faults[k]! - before[k]!;
  let faults = 0;
  for (let k = 0; k < s.faults.length; k++) faults += kind(k);
  return {
    row: {
      strategy,
      faults,
      notPresentFaults: kind(ShadowFaultKind.NOT_PRESENT),
      writeProtectFaults: kind(ShadowFaultKind.WRITE_PROTECT),
      harvestedPages: harvests.reduce((n, h) => n + h.length, 0),
      exactEpochs,
      predicted: s.predicted,
      precision: s.precision(),
      recall: s.recall(),
    },
    harvests,
  };
}

/**
 * Seed 004's log-dirty strategies on one workload: faults per strategy, whether the harvests
 * agree (with each other and with the frames written), and Histase's prediction precision and
 * recall.
 *
 * @param options - epochs, accesses per epoch, seed
 * @param out - where to report progress
 * @returns the figures
 */
export function runLogDirtyDemo(options: LogDirtyDemoOptions, out: Output): LogDirtyDemoReport {
  const workload = logDirtyWorkload(options);
  const runs = STRATEGIES.map((strategy, i) => {
    const r = runStrategy(strategy, workload);
    out.progress('strategies', i + 1, STRATEGIES.length);
    return r;
  });
  const key = (h: number[][]) => h.map((e) => e.join(',')).join(';');
  const first = key(runs[0]!.harvests);
  return {
    pages: LOG_DIRTY_PAGES,
    epochs: options.epochs,
    accesses: options.accesses,
    harvestsEqual: runs.every((r) => key(r.harvests) === first),
    rows: runs.map((r) => r.row),
  };
}

/**
 * Prints a {@link LogDirtyDemoReport} as a table, or as JSON lines with `json`.
 *
 * @param report - the demo's result
 * @param json - whether to print JSON lines instead of text
 * @param out - where to print
 */
export function printLogDirtyDemo(report: LogDirtyDemoReport, json: boolean, out: Output): void {
  if (json) {
    for (const r of report.rows) out.json({ kind: 'strategy', ...r });
    out.json({
      kind: 'summary',
      pages: report.pages,
      epochs: report.epochs,
      accesses: report.accesses,
      harvestsEqual: report.harvestsEqual,
    });
    return;
  }
  out.line(
    `${report.epochs} epochs x ${report.accesses} accesses in runs over ${report.pages} guest pages (shadow paging)`,
  );
  out.line(
    'strategy                faults  not-present  write-protect  harvested  exact epochs  predicted  precision  recall',
  );
  const ratio = (r: LogDirtyRow, v: number) => (r.predicted === 0 ? '-' : v.toFixed(2));
  for (const r of report.rows) {
    out.line(
      [
        r.strategy.padEnd(22),
        String(r.faults).padStart(6),
        String(r.notPresentFaults).padStart(11),
        String(r.writeProtectFaults).padStart(13),
        String(r.harvestedPages).padStart(9),
        `${r.exactEpochs}/${report.epochs}`.padStart(12),
        String(r.predicted).padStart(9),
        ratio(r, r.precision).padStart(9),
        ratio(r, r.recall).padStart(6),
      ].join('  '),
    );
  }
  out.line(
    `harvests identical across strategies in every epoch: ${report.harvestsEqual ? 'yes' : 'NO'}`,
  );
}
