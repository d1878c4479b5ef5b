// A guest driven through the ShadowMmu API for log-dirty tests and the bench: 256 data pages at
// linear 0x40_0000 (guest frames 0x100..0x1ff), its page tables mapped at linear 0x80_0000 so
// that the guest can write them, and accesses in runs (spatial locality, as seed 004 observed).
import { ACCESS_WRITE } from '@vmkit/paging';
import { type LogDirtyStrategy, ShadowMmu, ShadowOutcome } from '../../src/index.js';
import { GUEST_REGS, get, host, p2m, put, RAM_BASE, SHADOW } from './guest.js';

export const DATA_PAGES = 256;
const TABLE_GFNS = [1, 2, 3, 5];

export function buildGuest() {
  const mem = host();
  put(mem, 0x1000, 0x2027n);
  put(mem, 0x2000, 0x3027n);
  put(mem, 0x3000 + 2 * 8, 0x5027n); // linear 0x40_0000
  put(mem, 0x3000 + 4 * 8, 0x6027n); // linear 0x80_0000
  for (let i = 0; i < DATA_PAGES; i++)
    put(mem, 0x5000 + i * 8, BigInt((0x100 + i) * 4096) | (i % 2 ? 0x67n : 0x27n));
  TABLE_GFNS.forEach((gfn, i) => {
    put(mem, 0x6000 + i * 8, BigInt(gfn * 4096) | 0x67n);
  });
  const shadow = new ShadowMmu(mem, { p2m, shadowMemory: SHADOW, guest: GUEST_REGS });
  return { mem, shadow };
}

/** xorshift32 */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** Guest frames the workload touches (data pages and page tables). */
export const TRACKED = [
  ...TABLE_GFNS,
  6,
  ...Array.from({ length: DATA_PAGES }, (_, i) => 0x100 + i),
];

export function snapshot(mem: ReturnType<typeof host>): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  for (const gfn of TRACKED) {
    const b = new Uint8Array(4096);
    mem.readBytes(RAM_BASE + gfn * 4096, b);
    m.set(gfn, b);
  }
  return m;
}

/**
 * Runs `epochs` epochs of `perEpoch` accesses with the strategy; after each harvest compares
 * with the model: pages stored to, plus pages whose bytes changed. Returns mismatches and stats.
 */
export function runEpochs(
  strategy: LogDirtyStrategy,
  epochs: number,
  perEpoch: number,
  seed = 7,
  options: { markerBits?: number; alpha?: number; writeRatio?: number } = {},
) {
  const { mem, shadow } = buildGuest();
  const rand = rng(seed);
  // Warm-up epoch outside log-dirty mode: shadows exist, as in a running VM.
  for (let i = 0; i < DATA_PAGES; i++) shadow.translate(0, 0x40_0000 + i * 4096, 0);
  shadow.startLogDirty({ strategy, ...options });
  const mismatches: string[] = [];
  let harvested = 0;
  let before = snapshot(mem);
  let stored = new Set<number>();
  for (let e = 0; e < epochs; e++) {
    let done = 0;
    while (done < perEpoch) {
      const start = Math.floor(rand() * DATA_PAGES);
      const length = 1 + Math.floor(rand() * 24);
      const write = rand() < (options.writeRatio ?? 0.6);
      for (let k = 0; k < length && done < perEpoch; k++, done++) {
        const page = (start + k) % DATA_PAGES;
        const lo = 0x40_0000 + page * 4096 + 16;
        const o = shadow.translate(0, lo, write ? ACCESS_WRITE : 0);
        if (o === ShadowOutcome.OK && write) {
          const hpa = shadow.result.hostPhysical;
          mem.write8(hpa, (mem.read8(hpa) + 1) & 0xff);
          stored.add(Math.floor(shadow.result.physical / 4096));
        }
      }
      // Now and then the guest rewrites one of its PTEs (clearing A), through its mapping.
      if (rand() < 0.1) {
        const i = Math.floor(rand() * DATA_PAGES);
        const lo = 0x80_0000 + 3 * 4096 + i * 8; // the PT at gfn 5
        const o = shadow.translate(0, lo, ACCESS_WRITE);
        if (o === ShadowOutcome.PAGE_TABLE_WRITE) {
          const gpa = shadow.result.physical;
          shadow.emulateWrite(gpa, get(mem, gpa) & ~0x20n, 8);
          stored.add(Math.floor(gpa / 4096));
        }
      }
    }
    const dirty = shadow.harvest();
    harvested += dirty.length;
    const after = snapshot(mem);
    const model = new Set(stored);
    for (const [gfn, b] of after) {
      const a = before.get(gfn)!;
      for (let i = 0; i < 4096; i++)
        if (a[i] !== b[i]) {
          model.add(gfn);
          break;
        }
    }
    const want = [...model].sort((x, y) => x - y).join(',');
    if (dirty.join(',') !== want && mismatches.length < 3)
      mismatches.push(`epoch ${e}: got ${dirty.join(',')} want ${want}`);
    before = after;
    stored = new Set();
  }
  return { mismatches, stats: shadow.stats, harvested, lock: shadow.lock };
}
