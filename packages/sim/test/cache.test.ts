// The walk-reference cache model against an independent reference written here: per level, a
// plain list of lines per set, most recently used last, with the same fill and inclusion rules
// stated in words (look up L1, L2, L3 in order; the first holder serves and becomes most
// recent there; every level that missed gets the line, outermost first, evicting its least
// recently used line when the set is full; a line evicted from a level leaves every level
// above it, in every core that shares it).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CacheHierarchy,
  CacheLevel,
  type CacheLevelGeometry,
  defaultProfile,
  type MemoryLevel,
  SimError,
  walkCacheGeometry,
  withFigures,
} from '../src/index.js';

class NaiveLevel {
  readonly sets: number[][];
  readonly above: NaiveLevel[] = [];
  constructor(readonly g: CacheLevelGeometry) {
    this.sets = Array.from({ length: g.sets }, () => []);
  }
  set(line: number): number[] {
    return this.sets[line % this.g.sets]!;
  }
  has(line: number): boolean {
    return this.set(line).includes(line);
  }
  touch(line: number): void {
    const s = this.set(line);
    s.splice(s.indexOf(line), 1);
    s.push(line);
  }
  add(line: number): void {
    const s = this.set(line);
    s.push(line);
    if (s.length > this.g.ways) {
      const victim = s.shift()!;
      for (const a of this.above) a.drop(victim);
    }
  }
  drop(line: number): void {
    const s = this.set(line);
    const i = s.indexOf(line);
    if (i >= 0) s.splice(i, 1);
    for (const a of this.above) a.drop(line);
  }
}

const NAMES: MemoryLevel[] = ['l1', 'l2', 'l3', 'dram'];

function naiveAccess(levels: NaiveLevel[], address: number): MemoryLevel {
  const line = Math.floor(address / levels[0]!.g.lineSize);
  let served = levels.findIndex((l) => l.has(line));
  if (served >= 0) levels[served]!.touch(line);
  else served = levels.length;
  for (let i = served - 1; i >= 0; i--) levels[i]!.add(line);
  return NAMES[served]!;
}

const geometry = (lineSize: number) =>
  fc.record({
    sets: fc.integer({ min: 1, max: 12 }),
    ways: fc.integer({ min: 1, max: 6 }),
    lineSize: fc.constant(lineSize),
  });

describe('CacheHierarchy against a naive LRU reference', () => {
  it('serves every access from the same level, one core (property)', () => {
    const input = fc
      .constantFrom(16, 64)
      .chain((lineSize) =>
        fc.tuple(
          fc.constant(lineSize),
          geometry(lineSize),
          geometry(lineSize),
          geometry(lineSize),
          fc.integer({ min: 1, max: 6 }),
          fc.array(fc.nat(), { minLength: 50, maxLength: 400, size: 'max' }),
        ),
      );
    fc.assert(
      fc.property(input, ([lineSize, g1, g2, g3, spread, picks]) => {
        const model = new CacheHierarchy(
          new CacheLevel(g1),
          new CacheLevel(g2),
          new CacheLevel(g3),
        );
        const naive = [new NaiveLevel(g1), new NaiveLevel(g2), new NaiveLevel(g3)];
        naive[1]!.above.push(naive[0]!);
        naive[2]!.above.push(naive[1]!);
        // Addresses from a pool small enough to reuse lines and conflict in sets.
        const pool = spread * 16;
        const counts = [0, 0, 0, 0];
        for (const p of picks) {
          const address = (p % pool) * lineSize + (p % lineSize);
          const want = naiveAccess(naive, address);
          counts[NAMES.indexOf(want)]!++;
          if (model.access(address) !== want) return false;
        }
        return [...model.served].every((n, i) => n === counts[i]);
      }),
      { numRuns: 200 },
    );
  });

  it('with an L3 shared by two cores, back-invalidating both (property)', () => {
    fc.assert(
      fc.property(
        geometry(64),
        geometry(64),
        geometry(64),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 60 })), {
          minLength: 50,
          maxLength: 300,
          size: 'max',
        }),
        (g1, g2, g3, stream) => {
          const l3 = new CacheLevel(g3);
          const cores = [0, 1].map(
            () => new CacheHierarchy(new CacheLevel(g1), new CacheLevel(g2), l3),
          );
          const n3 = new NaiveLevel(g3);
          const naive = [0, 1].map(() => {
            const n1 = new NaiveLevel(g1);
            const n2 = new NaiveLevel(g2);
            n2.above.push(n1);
            n3.above.push(n2);
            return [n1, n2, n3];
          });
          for (const [second, line] of stream) {
            const core = second ? 1 : 0;
            const want = naiveAccess(naive[core]!, line * 64);
            if (cores[core]!.access(line * 64 + 8) !== want) return false;
          }
          return true;
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('CacheHierarchy, spec-style', () => {
  const small = (sets: number, ways: number) => new CacheLevel({ sets, ways, lineSize: 64 });

  it('a line re-read hits L1, and any byte of the line is the same line', () => {
    const c = new CacheHierarchy(small(4, 2), small(8, 4), small(16, 8));
    expect(c.access(0x1000)).toBe('dram');
    expect(c.access(0x1000)).toBe('l1');
    expect(c.access(0x103f)).toBe('l1');
    expect(c.access(0x1040)).toBe('dram');
    expect([...c.served]).toEqual([2, 0, 0, 2]);
  });

  it('a working set larger than L1 but within L2 hits L2 on every later pass', () => {
    // L1 holds 8 lines, L2 64: cycling over 32 lines evicts each from L1 before its reuse.
    const c = new CacheHierarchy(small(4, 2), small(16, 4), small(64, 8));
    const lines = Array.from({ length: 32 }, (_, i) => i * 64);
    for (const a of lines) expect(c.access(a)).toBe('dram');
    for (let pass = 0; pass < 3; pass++) for (const a of lines) expect(c.access(a)).toBe('l2');
  });

  it('with the default profile: a working set beyond L1 effective capacity but within L2 hits L2', () => {
    // Effective capacities at share 0.25: L1 16 sets x 8 ways = 128 lines (8 KiB), L2 1024
    // lines (64 KiB). 256 consecutive lines (16 KiB) cycle out of L1 but stay in L2.
    const c = CacheHierarchy.forWalks(defaultProfile);
    const lines = Array.from({ length: 256 }, (_, i) => 0x10_0000 + i * 64);
    for (const a of lines) expect(c.access(a)).toBe('dram');
    for (let pass = 0; pass < 2; pass++) for (const a of lines) expect(c.access(a)).toBe('l2');
    // 96 lines (6 KiB) fit L1's effective 8 KiB.
    const d = CacheHierarchy.forWalks(defaultProfile);
    for (const a of lines.slice(0, 96)) d.access(a);
    for (const a of lines.slice(0, 96)) expect(d.access(a)).toBe('l1');
  });

  it('a working set larger than L2 but within L3 hits L3', () => {
    const c = new CacheHierarchy(small(2, 2), small(4, 2), small(64, 4));
    const lines = Array.from({ length: 40 }, (_, i) => i * 64);
    for (const a of lines) c.access(a);
    for (const a of lines) expect(c.access(a)).toBe('l3');
  });

  it('associativity + 1 lines in one set conflict: each evicts the next one needed', () => {
    // 8 sets of 2 ways; lines 0, 8 and 16 all map to set 0 of every level.
    const c = new CacheHierarchy(small(8, 2), small(8, 2), small(8, 2));
    const conflict = [0, 8, 16].map((l) => l * 64);
    for (const a of conflict) expect(c.access(a)).toBe('dram');
    // LRU with 3 lines cycling through 2 ways: never a hit anywhere (inclusion keeps it so).
    for (let pass = 0; pass < 3; pass++) for (const a of conflict) expect(c.access(a)).toBe('dram');
    // Two of them fit.
    const d = new CacheHierarchy(small(8, 2), small(8, 2), small(8, 2));
    for (const a of conflict.slice(0, 2)) d.access(a);
    for (const a of conflict.slice(0, 2)) expect(d.access(a)).toBe('l1');
  });

  it('inclusion: a line evicted from the shared L3 leaves the other core L1 too', () => {
    const l3 = small(1, 2);
    const a = new CacheHierarchy(small(4, 4), small(4, 4), l3);
    const b = new CacheHierarchy(small(4, 4), small(4, 4), l3);
    a.access(0);
    expect(a.access(0)).toBe('l1');
    b.access(64);
    b.access(128); // L3 (2 ways) evicts line 0, so core a's L1 and L2 lose it
    expect(a.access(0)).toBe('dram');
  });

  it('rejects a bad geometry with a typed error', () => {
    expect(() => new CacheLevel({ sets: 0, ways: 1, lineSize: 64 })).toThrow(SimError);
    expect(() => new CacheLevel({ sets: 1, ways: 1, lineSize: 48 })).toThrow(SimError);
    expect(
      () =>
        new CacheHierarchy(
          small(1, 1),
          small(1, 1),
          new CacheLevel({ sets: 1, ways: 1, lineSize: 32 }),
        ),
    ).toThrow(SimError);
  });
});

describe('walkCacheGeometry', () => {
  it('scales each level by the page-table share, in whole sets, keeping associativity', () => {
    const g = walkCacheGeometry(defaultProfile);
    // 32 KiB x 0.25 / (8 x 64) = 16 sets; 256 KiB: 128; 8 MiB x 0.25 / (16 x 64) = 2048.
    expect(g).toEqual({
      l1: { sets: 16, ways: 8, lineSize: 64 },
      l2: { sets: 128, ways: 8, lineSize: 64 },
      l3: { sets: 2048, ways: 16, lineSize: 64 },
    });
    const full = withFigures(defaultProfile, 'all', {
      'memory.pageTableShare': { value: 1, source: { kind: 'assumption', ref: 'whole caches' } },
    });
    expect(walkCacheGeometry(full).l1).toEqual({ sets: 64, ways: 8, lineSize: 64 });
    const tiny = withFigures(defaultProfile, 'tiny', {
      'memory.pageTableShare': { value: 0.001, source: { kind: 'assumption', ref: 'almost none' } },
    });
    // 32.8 bytes round to zero sets: at least one set remains.
    expect(walkCacheGeometry(tiny).l1).toEqual({ sets: 1, ways: 8, lineSize: 64 });
    expect(walkCacheGeometry(tiny).l3).toEqual({ sets: 8, ways: 16, lineSize: 64 });
  });
});
