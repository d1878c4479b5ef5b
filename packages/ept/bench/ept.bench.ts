// JSON lines: cold two-dimensional walks, combined-TLB hits, EPT translations, and the seed-003
// locality experiment (references per walk and EPT cache hits, 4 KiB vs 2 MiB EPT pages,
// scattered vs confined guest page tables).
import { Ept, EptBuilder, NestedMmu } from '@vmkit/ept';
import { PageWalker, PagingState, splitLinear } from '@vmkit/paging';
import { emit, opsPerSecond } from '@vmkit/test-kit';
import { CR0, CR4, EFER } from '@vmkit/x86';
import {
  EPT_TABLES,
  GUEST_SIZE,
  HOST_OFFSET,
  hostMemory,
  mapGuest,
} from '../test/support/setup.js';
import { runWorkload } from '../test/support/workload.js';

let sink = 0;

for (const levels of [4, 5] as const) {
  const host = hostMemory();
  const b = new EptBuilder(host, {
    tableBase: EPT_TABLES,
    tableLimit: EPT_TABLES + 0x10_0000,
    walkLength: levels,
  });
  b.map(0, HOST_OFFSET, GUEST_SIZE);
  const ept = new Ept(host, { eptp: b.eptp() });
  const tables = Array.from({ length: 64 }, (_, i) => 0x2000 + i * 0x1000);
  const base = levels === 5 ? 0x00ab_cdef_1234_0000n : 0x7f12_3456_0000n;
  const halves: [number, number][] = [];
  for (let i = 0; i < 64; i++) {
    const linear = base + BigInt(i) * 0x1000n;
    mapGuest(host, {
      levels,
      root: 0x1000,
      linear,
      frame: 0x30_0000 + i * 0x1000,
      tables,
      flags: 0x67n,
    });
    halves.push(splitLinear(linear));
  }
  const state = new PagingState({
    cr0: CR0.PG | CR0.PE,
    cr4: CR4.PAE | (levels === 5 ? CR4.LA57 : 0),
    efer: EFER.LME | EFER.LMA,
    cr3: 0x1000n,
  });
  const walker = new PageWalker(host, ept);
  emit({
    metric: `ept.walk2d.cold.${levels}-over-${levels}`,
    value: opsPerSecond(() => {
      for (let i = 0; i < 64; i++) {
        ept.references.clear();
        sink += walker.walk(state, halves[i]![0], halves[i]![1], 0);
      }
    }, 64),
    unit: 'walks/s',
  });
  ept.references.clear();
  walker.walk(state, halves[0]![0], halves[0]![1], 0);
  emit({
    metric: `ept.walk2d.references.${levels}-over-${levels}`,
    value: ept.references.count,
    unit: 'references/walk',
  });

  if (levels === 4) {
    // The same walk with 2 MiB EPT pages and nothing cached: 4 + 5 * 3 = 19 references.
    const lp = hostMemory();
    const b2 = new EptBuilder(lp, { tableBase: EPT_TABLES, tableLimit: EPT_TABLES + 0x10_0000 });
    b2.map(0, HOST_OFFSET, GUEST_SIZE, { pageSize: 0x20_0000 });
    const t2 = Array.from({ length: 64 }, (_, i) => 0x2000 + i * 0x1000);
    mapGuest(lp, {
      levels: 4,
      root: 0x1000,
      linear: base,
      frame: 0x30_0000,
      tables: t2,
      flags: 0x67n,
    });
    const ept2 = new Ept(lp, { eptp: b2.eptp() });
    ept2.references.clear();
    new PageWalker(lp, ept2).walk(state, halves[0]![0], halves[0]![1], 0);
    emit({
      metric: 'ept.walk2d.references.4-over-4.ept-2m',
      value: ept2.references.count,
      unit: 'references/walk',
    });

    const mmu = new NestedMmu(host, {
      eptp: b.eptp(),
      guest: { cr0: CR0.PG | CR0.PE, cr4: CR4.PAE, efer: EFER.LME | EFER.LMA, cr3: 0x1000n },
    });
    for (const [hi, lo] of halves) mmu.translate(hi, lo, 0);
    emit({
      metric: 'ept.combined-tlb.hit',
      value: opsPerSecond(() => {
        for (let i = 0; i < 64; i++) sink += mmu.translate(halves[i]![0], halves[i]![1] + 8, 0);
      }, 64),
      unit: 'translations/s',
    });
    const plain = new Ept(host, { eptp: b.eptp() });
    emit({
      metric: 'ept.translate.cold.4-level',
      value: opsPerSecond(() => {
        for (let i = 0; i < 64; i++) sink += plain.translate(0x30_0000 + i * 0x1000, 1, 0, 0);
        plain.references.clear();
      }, 64),
      unit: 'translations/s',
    });
  }
}

// Combined-TLB misses (a one-entry TLB, 64 pages in turn: each miss resumes from the combined
// PDE cache and walks the EPT for the PTE and the data page through warm EPT caches), without
// and with a walk observer, to show the observer costs nothing when absent.
{
  const host = hostMemory();
  const b = new EptBuilder(host, { tableBase: EPT_TABLES, tableLimit: EPT_TABLES + 0x10_0000 });
  b.map(0, HOST_OFFSET, GUEST_SIZE);
  const tables = Array.from({ length: 8 }, (_, i) => 0x2000 + i * 0x1000);
  const halves: [number, number][] = [];
  for (let i = 0; i < 64; i++) {
    const linear = 0x7f12_3456_0000n + BigInt(i) * 0x1000n;
    mapGuest(host, {
      levels: 4,
      root: 0x1000,
      linear,
      frame: 0x30_0000 + i * 0x1000,
      tables,
      flags: 0x67n,
    });
    halves.push(splitLinear(linear));
  }
  for (const observed of [false, true]) {
    const mmu = new NestedMmu(host, {
      eptp: b.eptp(),
      guest: { cr0: CR0.PG | CR0.PE, cr4: CR4.PAE, efer: EFER.LME | EFER.LMA, cr3: 0x1000n },
      tlb: { small: { sets: 1, ways: 1 } },
    });
    if (observed) {
      mmu.walkObserver = (address) => {
        sink ^= address;
      };
    }
    emit({
      metric: observed ? 'ept.nested.miss.observed' : 'ept.nested.miss',
      value: opsPerSecond(() => {
        for (let i = 0; i < 64; i++) sink += mmu.translate(halves[i]![0], halves[i]![1], 0);
      }, 64),
      unit: 'translations/s',
      referencesPerWalk: mmu.stats.referencesPerWalk(),
    });
  }
}

// Seed 003: EPT_LP and confined guest page tables (20,000 random reads, small combined TLB).
for (const eptPageSize of [4096, 0x20_0000] as const) {
  for (const confined of [false, true]) {
    const r = runWorkload({ eptPageSize, confined }, 20_000);
    const name = `${eptPageSize === 4096 ? 'ept-4k' : 'ept-2m'}.${confined ? 'confined' : 'scattered'}`;
    emit({
      metric: `ept.locality.${name}.references-per-walk`,
      value: r.referencesPerWalk,
      unit: 'references/walk',
    });
    emit({ metric: `ept.locality.${name}.ept-entry-reads`, value: r.eptReads, unit: 'reads' });
    emit({
      metric: `ept.locality.${name}.ept-mapping-hits`,
      value: r.eptMappingHits,
      unit: 'hits',
    });
  }
}
if (sink === 0.5) console.log(sink);
