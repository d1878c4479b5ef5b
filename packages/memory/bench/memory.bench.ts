import { DirtyBitmap, GuestPhysicalMemory } from '@vmkit/memory';
import { emit, opsPerSecond } from '@vmkit/test-kit';

const N = 4096;
const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 64 * 2 ** 20 }] });
const addrs = Float64Array.from({ length: N }, (_, i) => ((i * 7919) % (16 * 2 ** 20)) & ~7);
for (const a of addrs) mem.write64(a, BigInt(a) * 3n);

let sink = 0;
const sized: [string, () => void][] = [
  [
    'memory.read8',
    () => {
      for (const a of addrs) sink ^= mem.read8(a);
    },
  ],
  [
    'memory.read32',
    () => {
      for (const a of addrs) sink ^= mem.read32(a);
    },
  ],
  [
    'memory.read64.bigint',
    () => {
      for (const a of addrs) sink ^= Number(mem.read64(a) & 1n);
    },
  ],
  [
    'memory.read64.halves',
    () => {
      for (const a of addrs) sink ^= mem.read32(a) ^ mem.read32(a + 4);
    },
  ],
  [
    'memory.write8',
    () => {
      for (const a of addrs) mem.write8(a, a);
    },
  ],
  [
    'memory.write32',
    () => {
      for (const a of addrs) mem.write32(a, a);
    },
  ],
  [
    'memory.write64.bigint',
    () => {
      for (const a of addrs) mem.write64(a, 0x1234_5678_9abc_def0n);
    },
  ],
  [
    'memory.write64.halves',
    () => {
      for (const a of addrs) {
        mem.write32(a, 0x9abc_def0);
        mem.write32(a + 4, 0x1234_5678);
      }
    },
  ],
];
for (const [metric, body] of sized) emit({ metric, value: opsPerSecond(body, N), unit: 'ops/s' });

const BULK = 16 * 2 ** 20;
const bulkOps = opsPerSecond(() => mem.copy(32 * 2 ** 20, 0, BULK), 1, { rounds: 3 });
emit({ metric: 'memory.copy', value: (bulkOps * BULK) / 1e9, unit: 'GB/s', bytes: BULK });
const buffer = new Uint8Array(BULK);
const readOps = opsPerSecond(() => mem.readBytes(0, buffer), 1, { rounds: 3 });
emit({ metric: 'memory.readBytes', value: (readOps * BULK) / 1e9, unit: 'GB/s', bytes: BULK });

// Dirty-log harvest of 1 M pages (4 GiB) with 1% dirty, against a bitmap with the same pages.
const PAGES = 2 ** 20;
const dirty = Array.from({ length: PAGES / 100 }, (_, i) => (i * 104_729) % PAGES);
const bitmap = new DirtyBitmap(PAGES);
const harvests = opsPerSecond(
  () => {
    for (const p of dirty) bitmap.mark(p);
    bitmap.harvest();
  },
  1,
  { rounds: 5 },
);
emit({
  metric: 'memory.dirty.mark+harvest',
  value: 1000 / harvests,
  unit: 'ms',
  pages: PAGES,
  dirtyPages: dirty.length,
});
const empty = new DirtyBitmap(PAGES);
emit({
  metric: 'memory.dirty.harvest-clean',
  value: 1000 / opsPerSecond(() => empty.harvest(), 1),
  unit: 'ms',
  pages: PAGES,
});
if (sink === 0.5) console.log(sink);
