// The seed-003 locality experiment in miniature: a guest touching 2,048 data pages spread over
// 256 guest page tables, with EPT built from 4-KByte or 2-MByte pages (EPT_LP) and the guest
// page tables either confined to one 2-MByte region or scattered over twenty of them.
import { GuestPhysicalMemory } from '@vmkit/memory';
import { CR0, CR4, EFER } from '@vmkit/x86';
import { EptBuilder, NestedMmu } from '../../src/index.js';

export const HOST_BASE = 0x4000_0000;
const GUEST = 0x400_0000; // 64 MiB of guest-physical memory
const PT_REGIONS = 256;
const PAGES_PER_PT = 8;
const DATA = 0x280_0000;

export interface WorkloadOptions {
  eptPageSize: 4096 | 0x20_0000;
  confined: boolean;
}

export function buildWorkload(o: WorkloadOptions) {
  const host = new GuestPhysicalMemory({
    ram: [
      { base: 0, size: 0x100_0000 },
      { base: HOST_BASE, size: GUEST },
    ],
  });
  const b = new EptBuilder(host, { tableBase: 0x10_0000, tableLimit: 0x100_0000 });
  b.map(0, HOST_BASE, GUEST, { pageSize: o.eptPageSize });
  const put = (gpa: number, v: number) => {
    host.write32(HOST_BASE + gpa, v >>> 0);
    host.write32(HOST_BASE + gpa + 4, 0);
  };
  const F = 0x27; // P, R/W, U/S, A: no A/D updates during the experiment
  put(0x1000, 0x2000 | F); // PML4E 0
  put(0x2000 + 2 * 8, 0x3000 | F); // PDPTE 2: linear 2 GiB
  const ptAddress = (k: number) =>
    o.confined ? 0x100_0000 + k * 0x1000 : (k % 20) * 0x20_0000 + 0x10_0000 + (k >> 4) * 0x1000;
  const linears: number[] = [];
  for (let k = 0; k < PT_REGIONS; k++) {
    const pt = ptAddress(k);
    put(0x3000 + k * 8, pt | F);
    for (let j = 0; j < PAGES_PER_PT; j++) {
      const idx = k * PAGES_PER_PT + j;
      const frame = DATA + ((idx * 1031) % (PT_REGIONS * PAGES_PER_PT)) * 0x1000;
      put(pt + j * 8 * 61, frame | F | 0x40);
      linears.push(0x8000_0000 + k * 0x20_0000 + j * 61 * 0x1000);
    }
  }
  const mmu = new NestedMmu(host, {
    eptp: b.eptp(),
    guest: {
      cr0: CR0.PG | CR0.PE,
      cr4: CR4.PAE,
      efer: EFER.LME | EFER.LMA,
      cr3: 0x1000n,
    },
    tlb: { small: { sets: 16, ways: 4 }, large: { sets: 4, ways: 4 }, huge: { sets: 1, ways: 2 } },
  });
  return { mmu, linears, host };
}

/** Runs `count` pseudo-random reads; returns the counters. */
export function runWorkload(o: WorkloadOptions, count: number) {
  const { mmu, linears } = buildWorkload(o);
  let x = 12345;
  let ok = 0;
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const lin = linears[(x >>> 8) % linears.length]!;
    if (mmu.translate(0, lin, 0) === 0) ok++;
  }
  const e = mmu.ept.stats;
  let pscHits = 0;
  for (let l = 2; l <= 5; l++) pscHits += e.pscHits[l]!;
  return {
    ok,
    referencesPerWalk: mmu.stats.referencesPerWalk(),
    combinedHits: mmu.stats.hits,
    walks: mmu.stats.walks,
    eptWalks: e.walks,
    eptReads: e.totalReads(),
    eptMappingHits: e.mappingHits,
    eptPscHits: pscHits,
    eptCacheHits: e.mappingHits + pscHits,
  };
}
