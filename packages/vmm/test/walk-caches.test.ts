// Page-walk references are priced by the cache level that served them: each vCPU's MMU feeds
// its walk references into @vmkit/sim's cache model, the run reports them by level, and
// simulated time charges memory.latency[level] for each.
import { defaultProfile, MEMORY_LEVELS, withFigures } from '@vmkit/sim';
import { describe, expect, it } from 'vitest';
import { MMU_STRATEGIES, Vm, type VmRunResult } from '../src/index.js';

const WORKLOAD = 'memdirty mb=8 passes=2';
const assume = (ref: string) => ({ kind: 'assumption' as const, ref });
const share = (value: number) =>
  withFigures(defaultProfile, `share-${value}`, {
    'memory.pageTableShare': { value, source: assume('test') },
  });

function run(mmu: (typeof MMU_STRATEGIES)[number], profile = defaultProfile, vcpus = 1) {
  const r = new Vm({ command: WORKLOAD, mmu, profile, vcpus }).run({
    maxInstructions: 60_000_000,
  });
  expect(r.end).toBe('exit');
  return r;
}

const total = (r: VmRunResult) =>
  MEMORY_LEVELS.reduce((n, level) => n + r.walkReferencesByLevel[level], 0);

describe('walk references by cache level', () => {
  it('every strategy reports all its walk references by level, and its PSC hits', () => {
    for (const mmu of MMU_STRATEGIES) {
      const r = run(mmu);
      expect(Object.keys(r.walkReferencesByLevel)).toEqual([...MEMORY_LEVELS]);
      expect(total(r)).toBe(r.walkReferences);
      expect(r.walkReferences).toBeGreaterThan(0);
      // The first touch of each table line comes from DRAM; the hot upper levels stay in L1.
      expect(r.walkReferencesByLevel.dram).toBeGreaterThan(0);
      expect(r.walkReferencesByLevel.l1).toBeGreaterThan(r.walkReferencesByLevel.dram);
      const names = ['pde', 'pdpte', 'pml4e', 'pml5e'];
      const ept = ['ept-pde', 'ept-pdpte', 'ept-pml4e', 'ept-pml5e', 'ept-mappings'];
      expect(Object.keys(r.pscHits)).toEqual(mmu.startsWith('ept') ? [...names, ...ept] : names);
      expect(r.pscHits.pde).toBeGreaterThan(0);
      if (mmu.startsWith('ept')) expect(r.pscHits['ept-mappings']).toBeGreaterThan(0);
    }
  }, 60_000);

  it('feeds the addresses the hardware walks: guest tables, EPT tables above RAM, shadow tables', () => {
    const ram = 128 * 2 ** 20; // the default guest RAM; the VMM's tables start above it
    for (const mmu of MMU_STRATEGIES) {
      const vm = new Vm({ command: 'hello', mmu });
      const seen = { ram: 0, vmm: 0 };
      for (const v of vm.vcpus) {
        const hw = v.translation.mmu as { walkObserver?: (a: number, i: number) => void };
        const feed = hw.walkObserver!;
        hw.walkObserver = (address, info) => {
          if (address < ram) seen.ram++;
          else seen.vmm++;
          feed(address, info);
        };
      }
      const r = vm.run();
      expect(seen.ram + seen.vmm).toBe(r.walkReferences);
      expect(total(r)).toBe(r.walkReferences);
      // native: guest tables only; spt: the hardware walks only shadow tables (VMM memory);
      // ept/ept-lp: guest tables in RAM and EPT tables above it, both host-physical.
      if (mmu === 'native') expect(seen.vmm).toBe(0);
      if (mmu === 'spt') expect(seen.ram).toBe(0);
      if (mmu.startsWith('ept')) expect(Math.min(seen.ram, seen.vmm)).toBeGreaterThan(0);
    }
  }, 60_000);

  it('prices each reference at the latency of its level (a dearer DRAM adds exactly its misses)', () => {
    const dearer = withFigures(defaultProfile, 'dram+100', {
      'memory.latency.dram': { value: 250, source: assume('test') },
    });
    for (const mmu of ['native', 'ept'] as const) {
      const base = run(mmu);
      const slow = run(mmu, dearer);
      // The same run (time is counted, not measured), so only the price of DRAM references moves.
      expect(slow.walkReferencesByLevel).toEqual(base.walkReferencesByLevel);
      expect(slow.perVcpu[0]!.simulatedCycles - base.perVcpu[0]!.simulatedCycles).toBe(
        100 * base.walkReferencesByLevel.dram,
      );
    }
  }, 60_000);

  it('ept-lp walks hit the caches differently from ept: fewer EPT lines, fewer DRAM references', () => {
    const ept = run('ept');
    const lp = run('ept-lp');
    // 2 MiB EPT pages skip the EPT PT level: fewer references, and fewer distinct lines to miss.
    expect(lp.walkReferences).toBeLessThan(ept.walkReferences);
    expect(lp.walkReferencesByLevel.dram).toBeLessThan(ept.walkReferencesByLevel.dram);
    expect(lp.pscHits['ept-pde']).toBe(0); // no EPT PDE references a table under ept-lp
    expect(ept.pscHits['ept-pde']).toBeGreaterThan(0);
    // Walk cost per reference differs too, not only the count.
    const cost = (r: VmRunResult) =>
      MEMORY_LEVELS.reduce(
        (n, level) =>
          n + r.walkReferencesByLevel[level] * defaultProfile.memory.latency[level].value,
        0,
      ) / r.walkReferences;
    expect(cost(lp)).not.toBe(cost(ept));
  }, 60_000);

  it('lowering the page-table share raises simulated time monotonically', () => {
    const shares = [1, 0.25, 0.05, 0.01, 0.002];
    const runs = shares.map((s) => run('ept', share(s)));
    for (let i = 1; i < runs.length; i++) {
      expect(runs[i]!.walkReferences).toBe(runs[0]!.walkReferences);
      expect(runs[i]!.simulatedCycles).toBeGreaterThanOrEqual(runs[i - 1]!.simulatedCycles);
    }
    expect(runs.at(-1)!.simulatedCycles).toBeGreaterThan(runs[0]!.simulatedCycles);
    expect(runs.at(-1)!.walkReferencesByLevel.dram).toBeGreaterThan(
      runs[0]!.walkReferencesByLevel.dram,
    );
  }, 60_000);

  it('several vCPUs: per-vCPU L1/L2, one L3, all references accounted for', () => {
    for (const mmu of ['spt', 'ept'] as const) {
      const vm = new Vm({ command: WORKLOAD, mmu, vcpus: 2 });
      const r = vm.run({ maxInstructions: 60_000_000 });
      expect(r.end).toBe('exit');
      expect(total(r)).toBe(r.walkReferences);
      const [a, b] = vm.vcpus.map((v) => v.translation.walkCaches);
      expect(a!.levels[0]).not.toBe(b!.levels[0]);
      expect(a!.levels[1]).not.toBe(b!.levels[1]);
      expect(a!.levels[2]).toBe(b!.levels[2]);
      // The second vCPU finds lines the first one brought into the shared L3 (the kernel's
      // tables, and under ept the EPT), so the run has L3 hits.
      expect(r.walkReferencesByLevel.l3).toBeGreaterThan(0);
      for (const level of MEMORY_LEVELS) {
        const i = MEMORY_LEVELS.indexOf(level);
        expect(a!.served[i]! + b!.served[i]!).toBe(r.walkReferencesByLevel[level]);
      }
    }
  }, 60_000);
});
