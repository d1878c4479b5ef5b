// JSON lines: shadow faults handled/s, shadow-hit translations/s, and the log-dirty harvest
// time per strategy for a guest of many pages at 1% and 10% dirty.
import { GuestPhysicalMemory } from '@vmkit/memory';
import { ACCESS_WRITE } from '@vmkit/paging';
import { type LogDirtyStrategy, ShadowMmu } from '@vmkit/shadow-paging';
import { emit, opsPerSecond } from '@vmkit/test-kit';
import { CR0, CR4, EFER } from '@vmkit/x86';

const PAGES = Number(process.env.SHADOW_BENCH_PAGES ?? 1 << 20);
const RAM = 0x1_0000_0000; // guest RAM at host 4 GiB, gfn -> host by offset
const TABLES = 0x10_0000; // guest page tables at gpa 1 MiB
const PTS = PAGES / 512;

function build() {
  const host = new GuestPhysicalMemory({
    ram: [
      { base: 0x100_0000, size: 0x1000_0000 },
      { base: RAM, size: PAGES * 4096 + 0x100_0000 },
    ],
  });
  const put = (gpa: number, v: number) => {
    host.write32(RAM + gpa, v >>> 0);
    host.write32(RAM + gpa + 4, 0);
  };
  // PML4 at 0x1000, PDPT 0x2000, PDs from 0x3000, PTs from TABLES; data from 16 MiB on.
  put(0x1000, 0x2027);
  const pds = Math.ceil(PTS / 512);
  for (let d = 0; d < pds; d++) put(0x2000 + d * 8, (0x3000 + d * 0x1000) | 0x27);
  for (let t = 0; t < PTS; t++) {
    put(0x3000 + t * 8, (TABLES + t * 0x1000) | 0x27);
    for (let i = 0; i < 512; i++)
      put(TABLES + t * 0x1000 + i * 8, (0x100_0000 + (t * 512 + i) * 4096) | 0x67);
  }
  const shadow = new ShadowMmu(host, {
    p2m: (gfn) => (gfn < PAGES + 4096 ? RAM + gfn * 4096 : -1),
    shadowMemory: { base: 0x100_0000, limit: 0x1100_0000 },
    guest: { cr0: CR0.PG | CR0.PE | CR0.WP, cr4: CR4.PAE, efer: EFER.LME | EFER.LMA, cr3: 0x1000n },
  });
  return shadow;
}
const lin = (page: number): [number, number] => [
  Math.floor(page / 2 ** 20),
  ((page % 2 ** 20) * 4096) >>> 0,
];

let sink = 0;
{
  const shadow = build();
  const N = 4096;
  emit({
    metric: 'shadow.fault.fill',
    value: opsPerSecond(() => {
      shadow.flushAll();
      for (let p = 0; p < N; p++) {
        const [hi, lo] = lin(p);
        sink += shadow.translate(hi, lo, 0);
      }
    }, N),
    unit: 'faults/s',
  });
  // 512 pages: within the hardware TLB (paging's default 1,024 4-KiB entries).
  emit({
    metric: 'shadow.translate.tlb-hit',
    value: opsPerSecond(() => {
      for (let p = 0; p < 512; p++) {
        const [hi, lo] = lin(p);
        sink += shadow.translate(hi, lo, 0);
      }
    }, 512),
    unit: 'translations/s',
  });
  emit({
    metric: 'shadow.translate.tlb-miss',
    value: opsPerSecond(() => {
      for (let p = 0; p < N; p++) {
        const [hi, lo] = lin(p);
        sink += shadow.translate(hi, lo, 0);
      }
    }, N),
    unit: 'translations/s',
  });
}

for (const strategy of [
  'original',
  'read-fault-reduction',
  'write-fault-prediction',
] as LogDirtyStrategy[]) {
  const shadow = build();
  for (let p = 0; p < PAGES; p++) {
    const [hi, lo] = lin(p);
    shadow.translate(hi, lo, 0);
  }
  shadow.startLogDirty({ strategy });
  for (const pct of [1, 10]) {
    // The guest reads its whole memory (refilling what the strategy dropped), then dirties
    // pct% of the pages in runs of 16 (spatial locality); the harvest is timed.
    for (let p = 0; p < PAGES; p++) {
      const [hi, lo] = lin(p);
      shadow.translate(hi, lo, 0);
    }
    const dirty = Math.floor((PAGES * pct) / 100);
    for (let k = 0; k < dirty; k++) {
      const p = (Math.floor(k / 16) * 16 * Math.floor(100 / pct) + (k % 16)) % PAGES;
      const [hi, lo] = lin(p);
      shadow.translate(hi, lo, ACCESS_WRITE);
    }
    const t0 = performance.now();
    sink += shadow.harvest().length;
    const ms = performance.now() - t0;
    emit({ metric: `shadow.harvest.${strategy}.${PAGES}-pages.${pct}pct`, value: ms, unit: 'ms' });
  }
}
if (sink === 0.5) console.log(sink);
