import { Ept, EptBuilder, NestedMmu, REF_GUEST } from '@vmkit/ept';
import { GuestPhysicalMemory } from '@vmkit/memory';
import { PageWalker, PagingState, splitLinear, WalkOutcome } from '@vmkit/paging';
import { CR0, CR4, EFER } from '@vmkit/x86';
import type { Output } from '../output.js';
import { xorshift32 } from '../random.js';

/** Options of `vmkit demo ept`. */
export interface EptDemoOptions {
  /** Guest reads per configuration. */
  readonly accesses: number;
  /** Seed of the pseudo-random page order. */
  readonly seed: number;
}

/** EPT page size of a configuration: 4 KiB or 2 MiB (EPT_LP). */
export type EptPageSize = 4096 | 0x20_0000;

/** One configuration of seed 003's locality experiment and what it cost. */
export interface EptLocalityRow {
  /** EPT page size in bytes. */
  readonly eptPageSize: EptPageSize;
  /** Whether the guest page tables sit in one 2 MiB region (else spread over 16). */
  readonly confined: boolean;
  /** Guest reads translated. */
  readonly translations: number;
  /** Translations served by the combined TLB (guest-linear to host-physical). */
  readonly tlbHits: number;
  /** Two-dimensional walks (combined-TLB misses). */
  readonly walks: number;
  /** Memory references of all walks: guest entries plus EPT entries. */
  readonly references: number;
  /** `references / walks`. */
  readonly referencesPerWalk: number;
  /** `references / translations`. */
  readonly referencesPerTranslation: number;
  /** EPT entries read by EPT walks. */
  readonly eptEntryReads: number;
  /** Guest-physical accesses served by a cached guest-physical mapping (no EPT walk). */
  readonly eptMappingHits: number;
  /** EPT walks shortened by an EPT paging-structure-cache hit. */
  readonly eptPscHits: number;
}

/** An uncached two-dimensional walk, its references counted from `Ept`'s reference log. */
export interface Walk2dRow {
  /** Guest paging levels (4 or 5). */
  readonly guestLevels: 4 | 5;
  /** EPT walk length (4 or 5). */
  readonly eptLevels: 4 | 5;
  /** EPT page size in bytes. */
  readonly eptPageSize: EptPageSize;
  /** Entries in the reference log after one walk from empty caches. */
  readonly references: number;
  /** Of those, guest paging-structure entries (`REF_GUEST`). */
  readonly guestReferences: number;
}

/** The result of `vmkit demo ept`. */
export interface EptDemoReport {
  /** Scattered and confined guest page tables over 4 KiB and 2 MiB EPT pages. */
  readonly locality: readonly EptLocalityRow[];
  /** Uncached 4-over-4 (4 KiB and 2 MiB EPT pages) and 5-over-5 walks. */
  readonly walks: readonly Walk2dRow[];
}

const HOST_GUEST_BASE = 0x4000_0000; // guest-physical 0 lives here in host memory
const GUEST_SIZE = 0x400_0000; // 64 MiB guest
const EPT_TABLES = 0x10_0000;
const EPT_TABLES_LIMIT = 0x100_0000;
const PAGE_TABLES = 256; // guest PTs, one per 2 MiB of linear space
const PAGES_PER_TABLE = 8; // data pages each PT maps
const DATA = 0x280_0000; // guest-physical data pages: 2,048 x 4 KiB
const CONFINED_BASE = 0x200_0000; // the one 2 MiB region holding confined PTs
const SCATTER_REGIONS = 16; // 2 MiB regions scattered PTs are spread over
const F = 0x27; // P, R/W, U/S and A set: walks make no A/D writes, so every reference is a read
const DIRTY = 0x40; // guest PTE D: the leaf is already dirty

function hostMemory(): GuestPhysicalMemory {
  return new GuestPhysicalMemory({
    ram: [
      { base: 0, size: EPT_TABLES_LIMIT },
      { base: HOST_GUEST_BASE, size: GUEST_SIZE },
    ],
  });
}

/** Writes a guest paging entry (high half zero) at a guest-physical address. */
function putGuest(host: GuestPhysicalMemory, gpa: number, low: number): void {
  host.write32(HOST_GUEST_BASE + gpa, low >>> 0);
  host.write32(HOST_GUEST_BASE + gpa + 4, 0);
}

/** Guest-physical address of guest page table `k`. */
function pageTableAddress(k: number, confined: boolean): number {
  return confined
    ? CONFINED_BASE + k * 0x1000
    : (k % SCATTER_REGIONS) * 0x20_0000 + 0x10_0000 + Math.floor(k / SCATTER_REGIONS) * 0x1000;
}

/**
 * Builds seed 003's guest in miniature: 2,048 data pages under 256 guest page tables (4-level
 * paging, linear 2 GiB upwards, one PT per 2 MiB of linear space, 8 pages each), over EPT built
 * from 4 KiB or 2 MiB pages, with the PTs in one 2 MiB region or spread over sixteen.
 *
 * @param eptPageSize - EPT page size
 * @param confined - whether the guest page tables share one 2 MiB region
 * @returns host memory, its EPTP, the guest's CR3 and the mapped linear page addresses
 */
export function buildLocalityGuest(
  eptPageSize: EptPageSize,
  confined: boolean,
): { host: GuestPhysicalMemory; eptp: bigint; cr3: bigint; linears: number[] } {
  const host = hostMemory();
  const b = new EptBuilder(host, { tableBase: EPT_TABLES, tableLimit: EPT_TABLES_LIMIT });
  b.map(0, HOST_GUEST_BASE, GUEST_SIZE, { pageSize: eptPageSize });
  putGuest(host, 0x1000, 0x2000 | F); // PML4E 0
  putGuest(host, 0x2000 + 2 * 8, 0x3000 | F); // PDPTE 2: linear 2 GiB
  const linears: number[] = [];
  const pages = PAGE_TABLES * PAGES_PER_TABLE;
  for (let k = 0; k < PAGE_TABLES; k++) {
    const pt = pageTableAddress(k, confined);
    putGuest(host, 0x3000 + k * 8, pt | F);
    for (let j = 0; j < PAGES_PER_TABLE; j++) {
      // 1031 is odd, so i * 1031 mod 2048 permutes the data pages: neighbours in linear
      // space are not neighbours in guest-physical space.
      const frame = DATA + (((k * PAGES_PER_TABLE + j) * 1031) % pages) * 0x1000;
      const index = j * 61; // spread the 8 PTEs over the table
      putGuest(host, pt + index * 8, frame | F | DIRTY);
      linears.push(0x8000_0000 + k * 0x20_0000 + index * 0x1000);
    }
  }
  return { host, eptp: b.eptp(), cr3: 0x1000n, linears };
}

/**
 * Runs one configuration: `accesses` reads of pseudo-random pages through a {@link NestedMmu}
 * with a 64-entry combined TLB, so most reads walk and the EPT caches decide the cost.
 *
 * @param eptPageSize - EPT page size
 * @param confined - whether the guest page tables share one 2 MiB region
 * @param options - accesses and seed
 * @param tick - called after each read (for progress)
 * @returns the counters
 */
export function runLocality(
  eptPageSize: EptPageSize,
  confined: boolean,
  options: EptDemoOptions,
  tick: () => void = () => {},
): EptLocalityRow {
  const { host, eptp, cr3, linears } = buildLocalityGuest(eptPageSize, confined);
  const mmu = new NestedMmu(host, {
    eptp,
    guest: { cr0: CR0.PG | CR0.PE, cr4: CR4.PAE, efer: EFER.LME | EFER.LMA, cr3 },
    tlb: { small: { sets: 16, ways: 4 }, large: { sets: 4, ways: 4 }, huge: { sets: 1, ways: 2 } },
  });
  const random = xorshift32(options.seed);
  for (let i = 0; i < options.accesses; i++) {
    const linear = linears[Math.floor(random() * linears.length)]!;
    const outcome = mmu.translate(0, linear + 8 * Math.floor(random() * 512), 0);
    if (outcome !== WalkOutcome.OK) throw new Error(`guest read at ${linear} failed: ${outcome}`);
    tick();
  }
  const s = mmu.stats;
  const e = mmu.ept.stats;
  let eptPscHits = 0;
  for (let level = 2; level <= 5; level++) eptPscHits += e.pscHits[level]!;
  return {
    eptPageSize,
    confined,
    translations: options.accesses,
    tlbHits: s.hits,
    walks: s.walks,
    references: s.references,
    referencesPerWalk: s.referencesPerWalk(),
    referencesPerTranslation: s.references / options.accesses,
    eptEntryReads: e.totalReads(),
    eptMappingHits: e.mappingHits,
    eptPscHits,
  };
}

/**
 * One two-dimensional walk from empty caches (`PageWalker` over an uncached `Ept`), counted
 * from the EPT reference log. SDM Vol. 3C §29.3.2: every guest paging-structure address and the
 * final guest-physical address is translated through EPT, so g guest levels over e EPT levels
 * cost g + (g + 1) * e references.
 *
 * @param levels - guest paging levels and EPT walk length
 * @param eptPageSize - EPT page size (2 MiB pages shorten each EPT walk by one level)
 * @returns the counted references
 */
export function uncachedWalk(levels: 4 | 5, eptPageSize: EptPageSize): Walk2dRow {
  const host = hostMemory();
  const b = new EptBuilder(host, {
    tableBase: EPT_TABLES,
    tableLimit: EPT_TABLES_LIMIT,
    walkLength: levels,
  });
  b.map(0, HOST_GUEST_BASE, GUEST_SIZE, { pageSize: eptPageSize });
  const ept = new Ept(host, { eptp: b.eptp() });
  // One fresh guest table per level at 0x1000, 0x2000, ...; the data page at 1 MiB.
  const linear = levels === 5 ? 0x00ab_cdef_1234_5000n : 0x7f12_3456_7000n;
  for (let level: number = levels, table = 0x1000; level >= 1; level--, table += 0x1000) {
    const index = Number((linear >> BigInt(12 + 9 * (level - 1))) & 0x1ffn);
    putGuest(host, table + index * 8, (level === 1 ? 0x10_0000 : table + 0x1000) | F);
  }
  const state = new PagingState({
    cr0: CR0.PG | CR0.PE,
    cr4: CR4.PAE | (levels === 5 ? CR4.LA57 : 0),
    efer: EFER.LME | EFER.LMA,
    cr3: 0x1000n,
  });
  const [hi, lo] = splitLinear(linear);
  ept.references.clear();
  const outcome = new PageWalker(host, ept).walk(state, hi, lo, 0);
  if (outcome !== WalkOutcome.OK) throw new Error(`${levels}-level walk failed: ${outcome}`);
  return {
    guestLevels: levels,
    eptLevels: levels,
    eptPageSize,
    references: ept.references.count,
    guestReferences: ept.references.countWhere(REF_GUEST, REF_GUEST),
  };
}

/**
 * Seed 003's EPT experiment in miniature: references per translation and cache hits for
 * 4 KiB vs 2 MiB EPT pages with scattered vs confined guest page tables, plus the uncached
 * 2D-walk reference counts.
 *
 * @param options - accesses per configuration and seed
 * @param out - where to report progress
 * @returns the figures
 */
export function runEptDemo(options: EptDemoOptions, out: Output): EptDemoReport {
  const configs: [EptPageSize, boolean][] = [
    [4096, false],
    [4096, true],
    [0x20_0000, false],
    [0x20_0000, true],
  ];
  const total = configs.length * options.accesses;
  const step = Math.max(1, Math.floor(total / 100));
  let done = 0;
  const tick = () => {
    done++;
    if (done % step === 0 || done === total) out.progress('translations', done, total);
  };
  const locality = configs.map(([size, confined]) => runLocality(size, confined, options, tick));
  const walks = [uncachedWalk(4, 4096), uncachedWalk(4, 0x20_0000), uncachedWalk(5, 4096)];
  return { locality, walks };
}

const pageName = (size: EptPageSize) => (size === 4096 ? '4 KiB' : '2 MiB');

/**
 * Prints an {@link EptDemoReport} as tables, or as JSON lines with `json`.
 *
 * @param report - the demo's result
 * @param json - whether to print JSON lines instead of text
 * @param out - where to print
 */
export function printEptDemo(report: EptDemoReport, json: boolean, out: Output): void {
  if (json) {
    for (const r of report.locality) out.json({ kind: 'locality', ...r });
    for (const w of report.walks) out.json({ kind: 'walk2d', ...w });
    return;
  }
  const n = report.locality[0]?.translations ?? 0;
  out.line(`${n} guest reads of 2048 pages under 256 guest page tables, 64-entry combined TLB`);
  out.line(
    'EPT page  guest PTs  TLB hits  walks  refs/walk  refs/read  EPT reads  EPT map hits  EPT PSC hits',
  );
  for (const r of report.locality) {
    out.line(
      [
        pageName(r.eptPageSize).padEnd(8),
        (r.confined ? 'confined' : 'scattered').padEnd(9),
        String(r.tlbHits).padStart(8),
        String(r.walks).padStart(5),
        r.referencesPerWalk.toFixed(2).padStart(9),
        r.referencesPerTranslation.toFixed(2).padStart(9),
        String(r.eptEntryReads).padStart(9),
        String(r.eptMappingHits).padStart(12),
        String(r.eptPscHits).padStart(12),
      ].join('  '),
    );
  }
  out.line('uncached two-dimensional walks (reference log of one walk from empty caches):');
  out.line('guest  EPT    EPT page  references  guest entries  EPT entries');
  for (const w of report.walks) {
    out.line(
      [
        `${w.guestLevels}-lvl`,
        `${w.eptLevels}-lvl`,
        pageName(w.eptPageSize).padEnd(8),
        String(w.references).padStart(10),
        String(w.guestReferences).padStart(13),
        String(w.references - w.guestReferences).padStart(11),
      ].join('  '),
    );
  }
}
