// MmuMemory's fast path (a direct-mapped cache per access kind, accesses inside one page)
// against a model of the page table: random reads and writes of 1, 2, 4 and 8 bytes, some
// crossing pages, over linear pages mapped to scrambled physical frames, interleaved with
// remappings announced by INVLPG. Every access must reach the bytes the page table names.
import { GuestPhysicalMemory } from '@vmkit/memory';
import { Mmu } from '@vmkit/paging';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cpu, MmuMemory } from '../src/index.js';

const TABLES = 0x10_000;
const LINEAR = 0x40_0000; // PD index 2
const PAGES = 8;
const FRAMES = 16;
const FRAME_BASE = 0x10_0000;

function setup(): {
  cpu: Cpu;
  mem: GuestPhysicalMemory;
  map: (page: number, frame: number) => void;
} {
  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 4 << 20 }] });
  mem.write32(TABLES, (TABLES + 0x1000) | 3);
  mem.write32(TABLES + 0x1000, (TABLES + 0x2000) | 3);
  mem.write32(TABLES + 0x2000 + 8 * 2, (TABLES + 0x3000) | 3);
  const map = (page: number, frame: number): void =>
    mem.write32(TABLES + 0x3000 + 8 * page, (FRAME_BASE + frame * 0x1000) | 3);
  const mmu = new Mmu(mem, { features: { maxPhyAddr: 36 } });
  let cpu: Cpu | undefined;
  cpu = new Cpu({ memory: new MmuMemory(mmu, mem, { rflags: () => cpu!.flags }) });
  cpu.cr3 = BigInt(TABLES);
  cpu.syncPaging();
  return { cpu, mem, map };
}

const op = fc.record({
  kind: fc.constantFrom(
    'read8',
    'read16',
    'read32',
    'write8',
    'write16',
    'write32',
    'write64',
    'remap',
  ),
  // Offsets cluster near page ends so that accesses cross pages. Pages 64 apart share an entry
  // of the fast-path cache (direct-mapped, 64 entries per access kind).
  page: fc.integer({ min: 0, max: PAGES - 2 }).chain((p) => fc.constantFrom(p, p + 64)),
  offset: fc.oneof(fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 4088, max: 4095 })),
  value: fc.integer({ min: 0, max: 0xffffffff }),
  hi: fc.integer({ min: 0, max: 0xffffffff }),
  frame: fc.integer({ min: 0, max: FRAMES - 1 }),
});

describe('MmuMemory data accesses', () => {
  it('reach the bytes the page table maps, across remappings (property)', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), (ops) => {
        const { cpu, mem, map } = setup();
        const frames = new Map<number, number>();
        for (let p = 0; p < PAGES; p++) {
          frames.set(p, (p * 5 + 3) % FRAMES);
          frames.set(p + 64, (p * 7 + 1) % FRAMES);
        }
        for (const [p, f] of frames) map(p, f);
        const physical = (la: number): number => {
          const page = Math.floor((la - LINEAR) / 4096);
          return FRAME_BASE + frames.get(page)! * 0x1000 + (la % 4096);
        };
        const bytes = (la: number, n: number): number[] =>
          Array.from({ length: n }, (_, k) => mem.read8(physical(la + k)));
        const m = cpu.memory;
        for (const o of ops) {
          const la = LINEAR + o.page * 4096 + o.offset;
          switch (o.kind) {
            case 'read8':
              expect(m.read8(la, 0)).toBe(bytes(la, 1)[0]);
              break;
            case 'read16': {
              const b = bytes(la, 2);
              expect(m.read16(la, 0)).toBe(b[0]! | (b[1]! << 8));
              break;
            }
            case 'write16':
              m.write16(la, o.value & 0xffff, 0);
              expect(bytes(la, 2)).toEqual([o.value & 0xff, (o.value >>> 8) & 0xff]);
              break;
            case 'read32': {
              const b = bytes(la, 4);
              expect(m.read32(la, 0)).toBe(
                (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0,
              );
              break;
            }
            case 'write8':
              m.write8(la, o.value & 0xff, 0);
              expect(bytes(la, 1)).toEqual([o.value & 0xff]);
              break;
            case 'write32':
              m.write32(la, o.value, 0);
              expect(bytes(la, 4)).toEqual([0, 8, 16, 24].map((s) => (o.value >>> s) & 0xff));
              break;
            case 'write64':
              m.write64(la, o.value, o.hi, 0);
              expect(bytes(la, 8)).toEqual(
                [o.value, o.hi].flatMap((v) => [0, 8, 16, 24].map((s) => (v >>> s) & 0xff)),
              );
              break;
            default:
              frames.set(o.page, o.frame);
              map(o.page, o.frame);
              m.invlpg!(LINEAR + o.page * 4096);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
