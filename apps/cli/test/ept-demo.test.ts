import { Ept, EptBuilder, NestedMmu, REF_GUEST } from '@vmkit/ept';
import { GuestPhysicalMemory } from '@vmkit/memory';
import { PageWalker, PagingState, splitLinear, WalkOutcome } from '@vmkit/paging';
import { CR0, CR4, EFER } from '@vmkit/x86';
import { describe, expect, it } from 'vitest';
import { buildLocalityGuest, runCli, runEptDemo } from '../src/index.js';
import { capture } from './support/capture.js';

/** The CLI's page order, written out again: xorshift32 with the seed (0 -> 1). */
function order(seed: number, count: number, pages: number): [number, number][] {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  return Array.from({ length: count }, () => [
    Math.floor(next() * pages),
    Math.floor(next() * 512),
  ]);
}

describe('vmkit demo ept', () => {
  const accesses = 3000;
  const report = runEptDemo({ accesses, seed: 5 }, capture());

  it('reports what NestedMmu counts for the same guest and reads', () => {
    for (const row of report.locality) {
      const { host, eptp, cr3, linears } = buildLocalityGuest(row.eptPageSize, row.confined);
      const mmu = new NestedMmu(host, {
        eptp,
        guest: { cr0: CR0.PG | CR0.PE, cr4: CR4.PAE, efer: EFER.LME | EFER.LMA, cr3 },
        tlb: {
          small: { sets: 16, ways: 4 },
          large: { sets: 4, ways: 4 },
          huge: { sets: 1, ways: 2 },
        },
      });
      for (const [page, slot] of order(5, accesses, linears.length)) {
        expect(mmu.translate(0, linears[page]! + slot * 8, 0)).toBe(WalkOutcome.OK);
      }
      const e = mmu.ept.stats;
      expect(row).toEqual({
        eptPageSize: row.eptPageSize,
        confined: row.confined,
        translations: accesses,
        tlbHits: mmu.stats.hits,
        walks: mmu.stats.walks,
        references: mmu.stats.references,
        referencesPerWalk: mmu.stats.referencesPerWalk(),
        referencesPerTranslation: mmu.stats.references / accesses,
        eptEntryReads: e.totalReads(),
        eptMappingHits: e.mappingHits,
        eptPscHits: e.pscHits[2]! + e.pscHits[3]! + e.pscHits[4]! + e.pscHits[5]!,
      });
      expect(mmu.stats.hits + mmu.stats.misses).toBe(accesses);
    }
  });

  it('shows seed 003: 2 MiB EPT pages and confined guest page tables cost fewer references', () => {
    const [base, confined, lp, both] = report.locality;
    expect([base!.eptPageSize, base!.confined, both!.eptPageSize, both!.confined]).toEqual([
      4096,
      false,
      0x20_0000,
      true,
    ]);
    expect(lp!.referencesPerWalk).toBeLessThan(base!.referencesPerWalk);
    expect(lp!.eptMappingHits).toBeGreaterThan(base!.eptMappingHits);
    expect(confined!.referencesPerWalk).toBeLessThan(base!.referencesPerWalk);
    expect(confined!.eptMappingHits).toBeGreaterThan(base!.eptMappingHits);
    expect(both!.eptEntryReads).toBeLessThanOrEqual(lp!.eptEntryReads);
  });

  it('counts g + (g + 1) e references for uncached walks, from the reference log', () => {
    expect(report.walks.map((w) => [w.guestLevels, w.eptPageSize, w.references])).toEqual([
      [4, 4096, 4 + 5 * 4],
      [4, 0x20_0000, 4 + 5 * 3],
      [5, 4096, 5 + 6 * 5],
    ]);
    for (const w of report.walks) expect(w.guestReferences).toBe(w.guestLevels);
  });

  it('agrees with a 4-over-4 walk the test builds on its own', () => {
    const host = new GuestPhysicalMemory({ ram: [{ base: 0, size: 0x300_0000 }] });
    const b = new EptBuilder(host, { tableBase: 0x10_0000, tableLimit: 0x20_0000 });
    b.map(0, 0x200_0000, 0x100_0000);
    const ept = new Ept(host, { eptp: b.eptp() });
    const put = (gpa: number, v: number) => host.write32(0x200_0000 + gpa, v);
    put(0x1000, 0x2000 | 0x27);
    put(0x2000, 0x3000 | 0x27);
    put(0x3000 + 2 * 8, 0x4000 | 0x27);
    put(0x4000, 0x9000 | 0x67);
    const state = new PagingState({
      cr0: CR0.PG | CR0.PE,
      cr4: CR4.PAE,
      efer: EFER.LME | EFER.LMA,
      cr3: 0x1000n,
    });
    const [hi, lo] = splitLinear(0x40_0123n);
    expect(new PageWalker(host, ept).walk(state, hi, lo, 0)).toBe(WalkOutcome.OK);
    expect(ept.references.count).toBe(report.walks[0]!.references);
    expect(ept.references.countWhere(REF_GUEST, REF_GUEST)).toBe(report.walks[0]!.guestReferences);
  });

  it('prints four locality rows and three walk rows with --json, and a table without', () => {
    const out = capture();
    expect(runCli(['demo', 'ept', '--accesses', '500', '--seed', '2', '--json'], out)).toBe(0);
    expect(out.lines).toEqual([]);
    expect(out.values.map((v) => (v as { kind: string }).kind)).toEqual([
      'locality',
      'locality',
      'locality',
      'locality',
      'walk2d',
      'walk2d',
      'walk2d',
    ]);
    expect(Object.keys(out.values[0] as object)).toEqual([
      'kind',
      'eptPageSize',
      'confined',
      'translations',
      'tlbHits',
      'walks',
      'references',
      'referencesPerWalk',
      'referencesPerTranslation',
      'eptEntryReads',
      'eptMappingHits',
      'eptPscHits',
    ]);
    const text = capture();
    expect(runCli(['demo', 'ept', '--accesses', '500'], text)).toBe(0);
    expect(text.lines.some((l) => /^2 MiB\s+confined/.test(l))).toBe(true);
    expect(text.values).toEqual([]);
  });

  it('is deterministic for a seed and depends on it', () => {
    const a = runEptDemo({ accesses: 800, seed: 9 }, capture());
    const b = runEptDemo({ accesses: 800, seed: 9 }, capture());
    const c = runEptDemo({ accesses: 800, seed: 10 }, capture());
    expect(a).toEqual(b);
    expect(a.locality.map((r) => r.references)).not.toEqual(c.locality.map((r) => r.references));
  });

  it.each([
    [['demo', 'ept', '--accesses', '0']],
    [['demo', 'ept', '--accesses', 'many']],
    [['demo', 'ept', '--seed', '-1']],
    [['demo', 'ept', '--pcpus', '4']],
    [['demo', 'ept', '--accesses']],
  ])('exits 2 for %j', (argv) => {
    expect(runCli(argv, capture())).toBe(2);
  });
});
