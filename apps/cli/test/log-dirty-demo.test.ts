import { ACCESS_WRITE } from '@vmkit/paging';
import type { LogDirtyStrategy } from '@vmkit/shadow-paging';
import { describe, expect, it } from 'vitest';
import {
  buildLogDirtyGuest,
  LOG_DIRTY_PAGES,
  logDirtyWorkload,
  runCli,
  runLogDirtyDemo,
} from '../src/index.js';
import { capture } from './support/capture.js';

/** Drives the shadow MMU directly with the demo's guest and accesses. */
function direct(strategy: LogDirtyStrategy, workload: [number, boolean][][]) {
  const { shadow } = buildLogDirtyGuest();
  for (let i = 0; i < LOG_DIRTY_PAGES; i++) shadow.translate(0, 0x40_0000 + i * 4096, 0);
  const warm = shadow.stats.totalFaults();
  shadow.startLogDirty({ strategy });
  const harvests: number[][] = [];
  const written: number[][] = [];
  for (const epoch of workload) {
    const w = new Set<number>();
    for (const [page, write] of epoch) {
      shadow.translate(0, 0x40_0000 + page * 4096, write ? ACCESS_WRITE : 0);
      if (write) w.add(0x100 + page);
    }
    harvests.push(shadow.harvest());
    written.push([...w].sort((a, b) => a - b));
  }
  const s = shadow.stats;
  return {
    faults: s.totalFaults() - warm,
    harvests,
    written,
    predicted: s.predicted,
    precision: s.precision(),
    recall: s.recall(),
  };
}

describe('vmkit demo log-dirty', () => {
  const options = { epochs: 5, accesses: 300, seed: 4 };
  const report = runLogDirtyDemo(options, capture());
  const workload = logDirtyWorkload(options);

  it('reports what the shadow MMU counts for each strategy', () => {
    expect(report.rows.map((r) => r.strategy)).toEqual([
      'original',
      'read-fault-reduction',
      'write-fault-prediction',
    ]);
    for (const row of report.rows) {
      const d = direct(row.strategy, workload);
      expect(row.faults).toBe(d.faults);
      expect(row.notPresentFaults + row.writeProtectFaults).toBe(d.faults);
      expect(row.predicted).toBe(d.predicted);
      expect(row.precision).toBe(d.precision);
      expect(row.recall).toBe(d.recall);
      expect(row.harvestedPages).toBe(d.harvests.flat().length);
      // Every harvest is exactly the set of frames the workload wrote in that epoch.
      expect(d.harvests).toEqual(d.written);
      expect(row.exactEpochs).toBe(options.epochs);
    }
    expect(report.harvestsEqual).toBe(true);
  });

  it('shows seed 004: fewer faults with read-fault reduction, fewest with prediction', () => {
    const [original, rfr, wfp] = report.rows;
    expect(original!.faults).toBeGreaterThan(rfr!.faults);
    expect(rfr!.faults).toBeGreaterThan(wfp!.faults);
    expect(rfr!.notPresentFaults).toBe(0);
    expect(original!.predicted + rfr!.predicted).toBe(0);
    expect(wfp!.precision).toBeGreaterThan(0);
    expect(wfp!.precision).toBeLessThanOrEqual(1);
    expect(wfp!.recall).toBeGreaterThan(0);
    expect(wfp!.recall).toBeLessThanOrEqual(1);
  });

  it('prints three strategy lines and a summary with --json, and a table without', () => {
    const out = capture();
    expect(runCli(['demo', 'log-dirty', '--epochs', '2', '--accesses', '100', '--json'], out)).toBe(
      0,
    );
    expect(out.lines).toEqual([]);
    expect(out.values.map((v) => (v as { kind: string }).kind)).toEqual([
      'strategy',
      'strategy',
      'strategy',
      'summary',
    ]);
    expect(out.values[3]).toEqual({
      kind: 'summary',
      pages: 256,
      epochs: 2,
      accesses: 100,
      harvestsEqual: true,
    });
    const text = capture();
    expect(runCli(['demo', 'log-dirty', '--epochs', '2'], text)).toBe(0);
    expect(text.lines.at(-1)).toBe('harvests identical across strategies in every epoch: yes');
    expect(text.lines.some((l) => /^write-fault-prediction\s+\d+/.test(l))).toBe(true);
  });

  it.each([
    [['demo', 'log-dirty', '--epochs', '0']],
    [['demo', 'log-dirty', '--accesses', '1.5']],
    [['demo', 'log-dirty', '--pcpus', '2']],
    [['demo', 'toString']],
  ])('exits 2 for %j', (argv) => {
    expect(runCli(argv, capture())).toBe(2);
  });
});
