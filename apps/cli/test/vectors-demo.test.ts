import {
  ApicBus,
  HostInterruptRouter,
  InterruptError,
  VectorAllocator,
  type VectoringPolicy,
} from '@vmkit/interrupts';
import { describe, expect, it } from 'vitest';
import { runCli, runVectorsDemo } from '../src/index.js';
import { capture } from './support/capture.js';

/** VFs of 3 MSI-X vectors bound, round robin over PCPUs, until the allocator is exhausted. */
function directVfLimit(policy: VectoringPolicy, pcpus: number): number {
  const router = new HostInterruptRouter(
    new ApicBus({ cpus: pcpus }),
    new VectorAllocator({ pcpus, policy }),
  );
  let bound = 0;
  try {
    for (;;) {
      router.bindMsi(
        { vm: Math.floor(bound / 3), vcpu: 0, vector: 0x40 },
        Math.floor(bound / 3) % pcpus,
      );
      bound++;
    }
  } catch (e) {
    if (!(e instanceof InterruptError) || e.code !== 'EXHAUSTED') throw e;
  }
  return Math.floor(bound / 3);
}

/** The EOI scenario driven through the package directly: pins raised, serviced one by one. */
function directRedundant(policy: VectoringPolicy, pcpus: number) {
  const bus = new ApicBus({ cpus: pcpus });
  const io = bus.ioApic!;
  const router = new HostInterruptRouter(bus, new VectorAllocator({ pcpus, policy }));
  const n = Math.min(pcpus, 24);
  const b = Array.from({ length: n }, (_, i) =>
    router.bindIoApicPin(i, { vm: i + 1, vcpu: 0, vector: 0x60 + i }, i),
  );
  const dispatchAll = () => {
    for (let guard = 0; guard < 100; guard++) {
      let injected = 0;
      for (let p = 0; p < pcpus; p++) injected += router.dispatch(p);
      for (let i = 0; i < n; i++) if (!io.isAsserted(i)) router.guestEoi(b[i]!);
      if (injected === 0) return;
    }
  };
  for (let i = 0; i < n; i++) io.setLine(i, true);
  dispatchAll();
  for (let i = 0; i < n; i++) {
    io.setLine(i, false);
    router.guestEoi(b[i]!);
    dispatchAll();
  }
  return { injected: router.stats.injected, redundant: router.stats.redundant };
}

describe('vmkit demo vectors', () => {
  it.each([1, 2, 4, 7])('reports what the interrupts package computes for %i PCPUs', (pcpus) => {
    const report = runVectorsDemo({ pcpus }, capture());
    expect(report.vectorsPerPcpu).toBe(200);
    expect(report.rows.map((r) => r.policy)).toEqual(['global', 'per-pcpu', 'hybrid']);
    for (const r of report.rows) {
      expect(r.vfLimit).toBe(directVfLimit(r.policy, pcpus));
      expect({ injected: r.injected, redundant: r.redundant }).toEqual(
        directRedundant(r.policy, pcpus),
      );
      expect(r.levelDevices).toBe(pcpus);
    }
  });

  it('shows seed 003: 66 VFs globally, 66 per PCPU otherwise, redundant EOIs only per-PCPU', () => {
    const [global, perPcpu, hybrid] = runVectorsDemo({ pcpus: 4 }, capture()).rows;
    expect([global!.vfLimit, perPcpu!.vfLimit, hybrid!.vfLimit]).toEqual([66, 264, 264]);
    expect(global!.redundant).toBe(0);
    expect(hybrid!.redundant).toBe(0);
    expect(perPcpu!.redundant).toBeGreaterThan(0);
    // Two PCPUs: the interrupts package's own scenario has exactly one redundant interrupt.
    expect(runVectorsDemo({ pcpus: 2 }, capture()).rows[1]!.redundant).toBe(1);
  });

  it('prints one JSON line per policy with --json, and a table without', () => {
    const out = capture();
    expect(runCli(['demo', 'vectors', '--pcpus', '3', '--json'], out)).toBe(0);
    expect(out.lines).toEqual([]);
    expect(out.values).toHaveLength(3);
    expect(out.values[1]).toEqual({
      kind: 'policy',
      pcpus: 3,
      policy: 'per-pcpu',
      vfLimit: 198,
      levelDevices: 3,
      injected: expect.any(Number),
      redundant: expect.any(Number),
    });
    const text = capture();
    expect(runCli(['demo', 'vectors'], text)).toBe(0);
    expect(text.lines[0]).toMatch(/^4 PCPUs/);
    expect(text.lines.some((l) => /^hybrid\s+264\s/.test(l))).toBe(true);
    expect(text.ticks.at(-1)).toEqual(['policies', 3, 3]);
  });

  it.each([
    [['demo', 'vectors', '--pcpus', '0']],
    [['demo', 'vectors', '--pcpus', '256']],
    [['demo', 'vectors', '--pcpus', 'four']],
    [['demo', 'vectors', '--seed', '3']],
    [['demo', 'vectors', 'extra']],
    [['demo', 'nothing']],
    [['demo']],
  ])('exits 2 for %j', (argv) => {
    expect(runCli(argv, capture())).toBe(2);
  });
});
