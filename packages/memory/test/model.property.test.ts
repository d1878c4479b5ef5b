import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GuestMemoryError, GuestPhysicalMemory } from '../src/index.js';

/**
 * The reference model: a map from address to byte over an explicit list of RAM ranges.
 * It is slow and obviously correct, which is the point.
 */
class ByteModel {
  readonly bytes = new Map<number, number>();
  readonly dirty = new Set<number>();
  constructor(readonly ranges: readonly (readonly [number, number])[]) {}
  inside(a: number, n: number): boolean {
    return this.ranges.some(([b, e]) => a >= b && a + n <= e);
  }
  read(a: number, n: number): number[] {
    return Array.from({ length: n }, (_, k) => this.bytes.get(a + k) ?? 0);
  }
  write(a: number, data: readonly number[]): void {
    data.forEach((v, k) => {
      this.bytes.set(a + k, v & 0xff);
      this.dirty.add(Math.floor((a + k) / 4096) * 4096);
    });
  }
}

const RANGES = [
  [0, 3 * 4096],
  [5 * 4096, 8 * 4096],
] as const;

type Op =
  | { kind: 'write'; addr: number; size: 1 | 2 | 4 | 8; value: bigint }
  | { kind: 'read'; addr: number; size: 1 | 2 | 4 | 8 }
  | { kind: 'bulk'; addr: number; data: number[] }
  | { kind: 'fill'; addr: number; length: number; byte: number }
  | { kind: 'copy'; dest: number; src: number; length: number }
  | { kind: 'harvest' };

const addr = fc.oneof(
  fc.integer({ min: 0, max: 9 * 4096 }),
  fc.constantFrom(4094, 4095, 4096, 3 * 4096 - 3, 5 * 4096 - 1, 8 * 4096 - 8),
);
const size = fc.constantFrom<1 | 2 | 4 | 8>(1, 2, 4, 8);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('write' as const),
    addr,
    size,
    value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  }),
  fc.record({ kind: fc.constant('read' as const), addr, size }),
  fc.record({
    kind: fc.constant('bulk' as const),
    addr,
    data: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 9000 }),
  }),
  fc.record({
    kind: fc.constant('fill' as const),
    addr,
    length: fc.integer({ min: 0, max: 9000 }),
    byte: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({
    kind: fc.constant('copy' as const),
    dest: addr,
    src: addr,
    length: fc.integer({ min: 0, max: 9000 }),
  }),
  fc.constant({ kind: 'harvest' as const }),
);

function toBytes(value: bigint, n: number): number[] {
  return Array.from({ length: n }, (_, k) => Number((value >> BigInt(8 * k)) & 0xffn));
}
function fromBytes(bytes: readonly number[]): bigint {
  return bytes.reduceRight((acc, b) => (acc << 8n) | BigInt(b), 0n);
}
function read(mem: GuestPhysicalMemory, a: number, n: 1 | 2 | 4 | 8): bigint {
  if (n === 8) return mem.read64(a);
  return BigInt(n === 1 ? mem.read8(a) : n === 2 ? mem.read16(a) : mem.read32(a));
}
function write(mem: GuestPhysicalMemory, a: number, n: 1 | 2 | 4 | 8, v: bigint): void {
  if (n === 8) return mem.write64(a, v);
  const w = Number(v & 0xffff_ffffn);
  if (n === 1) mem.write8(a, w);
  else if (n === 2) mem.write16(a, w);
  else mem.write32(a, w);
}

/** Runs `fn`; returns whether it threw a GuestMemoryError (any other throw fails the test). */
function refused(fn: () => void): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    if (e instanceof GuestMemoryError) return true;
    throw e;
  }
}

describe('GuestPhysicalMemory against a byte-map model', () => {
  it('agrees on every value, every refusal and every dirty page', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const mem = new GuestPhysicalMemory({
          ram: RANGES.map(([base, end]) => ({ base, size: end - base })),
        });
        const model = new ByteModel(RANGES);
        mem.startDirtyLog();
        for (const o of ops) {
          switch (o.kind) {
            case 'write': {
              const ok = model.inside(o.addr, o.size);
              expect(refused(() => write(mem, o.addr, o.size, o.value))).toBe(!ok);
              if (ok) model.write(o.addr, toBytes(o.value, o.size));
              break;
            }
            case 'read': {
              const ok = model.inside(o.addr, o.size);
              expect(refused(() => read(mem, o.addr, o.size))).toBe(!ok);
              if (ok) expect(read(mem, o.addr, o.size)).toBe(fromBytes(model.read(o.addr, o.size)));
              break;
            }
            case 'bulk': {
              const ok = o.data.length === 0 || model.inside(o.addr, o.data.length);
              expect(refused(() => mem.writeBytes(o.addr, Uint8Array.from(o.data)))).toBe(!ok);
              if (ok) model.write(o.addr, o.data);
              const back = new Uint8Array(o.data.length);
              expect(refused(() => mem.readBytes(o.addr, back))).toBe(!ok);
              if (ok) expect(Array.from(back)).toEqual(model.read(o.addr, o.data.length));
              break;
            }
            case 'fill': {
              const ok = o.length === 0 || model.inside(o.addr, o.length);
              expect(refused(() => mem.fill(o.addr, o.length, o.byte))).toBe(!ok);
              if (ok) model.write(o.addr, new Array(o.length).fill(o.byte));
              break;
            }
            case 'copy': {
              const ok =
                o.length === 0 || (model.inside(o.src, o.length) && model.inside(o.dest, o.length));
              expect(refused(() => mem.copy(o.dest, o.src, o.length))).toBe(!ok);
              if (ok) model.write(o.dest, model.read(o.src, o.length));
              break;
            }
            case 'harvest': {
              expect(mem.harvestDirtyPages()).toEqual([...model.dirty].sort((a, b) => a - b));
              model.dirty.clear();
            }
          }
        }
        for (const [base, end] of RANGES) {
          const all = new Uint8Array(end - base);
          mem.readBytes(base, all);
          expect(Array.from(all)).toEqual(model.read(base, end - base));
        }
      }),
      { numRuns: 300 },
    );
  });
});
