import { GuestPhysicalMemory } from '@vmkit/memory';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Descriptor,
  PackedVirtqueue,
  SplitVirtqueue,
  type VirtioErrorCode,
  type Virtqueue,
} from '../src/index.js';
import { PackedQueueDriver, SplitQueueDriver, writeRaw } from '../src/testing.js';
import { GuardedMemory } from './guarded-memory.js';

const RAM = 0x10_0000;
const DATA = 0x8_0000;

function memory(): { mem: GuardedMemory; mmioCalls: () => number } {
  let calls = 0;
  const inner = new GuestPhysicalMemory({
    ram: [{ base: 0, size: RAM }],
    mmio: [
      {
        base: 0x20_0000,
        size: 0x1000,
        handler: {
          read: () => {
            calls++;
            return 0n;
          },
          write: () => {
            calls++;
          },
        },
      },
    ],
  });
  return { mem: new GuardedMemory(inner), mmioCalls: () => calls };
}

type Op =
  | { kind: 'add'; readable: number[]; writable: number[]; indirect: boolean }
  | { kind: 'kick' }
  | { kind: 'serve'; count: number; reverse: boolean }
  | { kind: 'reclaim' }
  | { kind: 'corrupt'; slot: number; addr: number; len: number; flags: number; next: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('add' as const),
      readable: fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 3 }),
      writable: fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 3 }),
      indirect: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'kick' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('serve' as const),
      count: fc.integer({ min: 1, max: 8 }),
      reverse: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'reclaim' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('corrupt' as const),
      slot: fc.integer({ min: 0, max: 15 }),
      addr: fc.oneof(fc.integer({ min: 0, max: 0x11_0000 }), fc.constantFrom(0x20_0000, 2 ** 52)),
      len: fc.oneof(fc.integer({ min: 0, max: 512 }), fc.constantFrom(0xffff_ffff, 24)),
      flags: fc.integer({ min: 0, max: 0xffff }),
      next: fc.integer({ min: 0, max: 20 }),
    }),
  },
);

describe('virtqueue model (driver operations, vm-virtio fuzzing style)', () => {
  for (const packed of [false, true]) {
    it(`delivers every chain exactly as added, and every used buffer back (${packed ? 'packed' : 'split'})`, () => {
      fc.assert(
        fc.property(
          fc.constantFrom(3, 4, 8, 16),
          fc.boolean(),
          fc.array(op, { maxLength: 60 }),
          (rawSize, eventIdx, ops) => {
            const { mem, mmioCalls } = memory();
            const size = packed ? rawSize : rawSize === 3 ? 4 : rawSize;
            let driver: SplitQueueDriver | PackedQueueDriver;
            let queue: Virtqueue;
            if (packed) {
              const layout = PackedQueueDriver.layoutAt(0x1000, size);
              driver = new PackedQueueDriver(mem, layout, { eventIdx });
              queue = new PackedVirtqueue(mem, layout, { eventIdx, indirect: true });
            } else {
              const layout = SplitQueueDriver.layoutAt(0x1000, size);
              driver = new SplitQueueDriver(mem, layout, { eventIdx });
              queue = new SplitVirtqueue(mem, layout, { eventIdx, indirect: true });
            }
            let cursor = DATA;
            let nextIndirect = 0x4_0000;
            /** The model: chains added but not yet seen by the device, and those with the device. */
            const unpublished: { head: number; parts: Descriptor[] }[] = [];
            const published: { head: number; parts: Descriptor[] }[] = [];
            const withDevice: { head: number; written: number }[] = [];
            const usedByDevice: { id: number; len: number }[] = [];
            for (const o of ops) {
              if (o.kind === 'add') {
                const parts = o.readable.length + o.writable.length;
                if (parts === 0 || parts > size) continue;
                const need = o.indirect ? 1 : o.readable.length + o.writable.length;
                if (need > driver.freeDescriptors) continue;
                const spec = (len: number) => {
                  const b = { addr: cursor, len };
                  cursor = DATA + ((cursor - DATA + len + 8) % 0x4_0000);
                  return b;
                };
                const r = o.readable.map(spec);
                const w = o.writable.map(spec);
                const table = o.indirect ? nextIndirect : undefined;
                if (o.indirect) nextIndirect = 0x4_0000 + ((nextIndirect + 0x100) % 0x2_0000);
                const head = driver.add(r, w, table);
                // A packed ring exposes a buffer as soon as its flags are written; a split ring
                // only when the available idx moves (kick).
                (packed ? published : unpublished).push({
                  head,
                  parts: [
                    ...r.map((b) => ({ ...b, writable: false })),
                    ...w.map((b) => ({ ...b, writable: true })),
                  ],
                });
              } else if (o.kind === 'kick') {
                driver.kick();
                published.push(...unpublished.splice(0));
              } else if (o.kind === 'serve') {
                const popped: { head: number; written: number }[] = [];
                for (let k = 0; k < o.count; k++) {
                  const chain = queue.pop();
                  if (chain === undefined) break;
                  const expected = published.shift();
                  expect(expected).toBeDefined();
                  expect(chain.head).toBe(expected!.head);
                  expect(chain.descriptors).toEqual(expected!.parts);
                  const w = chain.writer();
                  w.write(new Uint8Array(Math.min(chain.writableBytes, 97)).fill(0xab));
                  popped.push({ head: chain.head, written: w.written });
                }
                withDevice.push(...popped);
                const order = o.reverse ? withDevice.splice(0).reverse() : withDevice.splice(0);
                for (const c of order) {
                  queue.addUsed(c.head, c.written);
                  usedByDevice.push({ id: c.head, len: c.written });
                }
                queue.needsNotification();
              } else {
                const got = driver.reclaim();
                expect(got).toEqual(usedByDevice.splice(0));
              }
            }
            expect(queue.fault).toBeUndefined();
            expect(mem.violations).toEqual([]);
            expect(mmioCalls()).toBe(0);
          },
        ),
        { numRuns: 100, seed: 0x5eed },
      );
    });
  }
});

/**
 * An independent reference walk of one chain, written from the spec text with a Set for
 * visited descriptors; it predicts either the buffers or the fault code.
 */
function referenceWalk(
  mem: GuestPhysicalMemory,
  size: number,
  descTable: number,
  head: number,
): Descriptor[] | VirtioErrorCode {
  if (head >= size) return 'HEAD_OUT_OF_RANGE';
  const out: Descriptor[] = [];
  let table = descTable;
  let limit = size;
  let visited = new Set<number>();
  let inIndirect = false;
  let i = head;
  let total = 0;
  for (;;) {
    if (visited.has(i)) return 'DESCRIPTOR_LOOP';
    visited.add(i);
    const addr = Number(mem.read64(table + 16 * i));
    const len = mem.read32(table + 16 * i + 8);
    const flags = mem.read16(table + 16 * i + 12);
    const next = mem.read16(table + 16 * i + 14);
    if (flags & 4) {
      if (inIndirect) return 'NESTED_INDIRECT';
      if (flags & 1) return 'INDIRECT_WITH_NEXT';
      if (len === 0 || len % 16 !== 0) return 'INDIRECT_BAD_LENGTH';
      if (addr % 16 !== 0 || addr + len > RAM) return 'ADDRESS_OUT_OF_RANGE';
      table = addr;
      limit = len / 16;
      visited = new Set();
      inIndirect = true;
      i = 0;
      continue;
    }
    const writable = (flags & 2) !== 0;
    if (!writable && out.some((d) => d.writable)) return 'WRITABLE_BEFORE_READABLE';
    if (len > 0 && addr + len > RAM) {
      return 'ADDRESS_OUT_OF_RANGE';
    }
    total += len;
    if (total > 2 ** 32) return 'TOTAL_LENGTH_OVERFLOW';
    out.push({ addr, len, writable });
    if (out.length > size) return 'CHAIN_TOO_LONG';
    if (!(flags & 1)) return out;
    i = next;
    if (i >= limit) return 'NEXT_OUT_OF_RANGE';
  }
}

describe('split virtqueue under random (mostly malformed) rings', () => {
  const small = fc.integer({ min: 0, max: 9 });
  const rawDesc = fc.record({
    addr: fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 0x8_0000, max: 0x8_1000 }) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(0x4_0000, 0xf_fff0, 0x10_0000, 0x20_0000, 2 ** 52, 0x4_0008),
      },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x11_0000 }) },
    ),
    len: fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 0, max: 256 }) },
      { weight: 1, arbitrary: fc.constantFrom(0, 16, 32, 48, 24, 0xffff_ffff) },
    ),
    flags: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(0, 1, 2, 3) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 7 }) },
    ),
    next: fc.oneof(
      { weight: 4, arbitrary: small },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
    ),
  });

  it('never throws, never hangs, never leaves RAM, and agrees with the reference walk', () => {
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(
        fc.constantFrom(4, 8),
        fc.array(rawDesc, { minLength: 8, maxLength: 8 }),
        fc.array(rawDesc, { minLength: 4, maxLength: 4 }),
        fc.array(small, { minLength: 8, maxLength: 8 }),
        fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: 0, max: 8 }) },
          { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
        ),
        (size, table, indirect, ring, availIdx) => {
          const { mem, mmioCalls } = memory();
          const layout = SplitQueueDriver.layoutAt(0x1000, size);
          const driver = new SplitQueueDriver(mem, layout);
          for (const [i, d] of table.slice(0, size).entries()) driver.writeDescriptor(i, d);
          for (const [i, d] of indirect.entries()) writeRaw(mem, 0x4_0000 + 16 * i, d);
          for (const h of ring.slice(0, size)) driver.pushHead(h);
          driver.setAvailIdx(availIdx);
          const queue = new SplitVirtqueue(mem, layout, { indirect: true });
          const plain = (mem as unknown as { inner: GuestPhysicalMemory }).inner;
          let pops = 0;
          for (;;) {
            const slot = queue.nextAvail;
            const pending = (availIdx - slot) & 0xffff;
            const chain = queue.pop();
            if (pending > size) {
              expect(queue.fault?.code).toBe('AVAIL_IDX_JUMP');
              break;
            }
            if (pending === 0) {
              expect(chain).toBeUndefined();
              break;
            }
            const head = ring[slot % size]!;
            const expected = referenceWalk(plain, size, layout.descTable, head);
            if (typeof expected === 'string') {
              outcomes.set(expected, (outcomes.get(expected) ?? 0) + 1);
              expect(chain).toBeUndefined();
              expect(queue.fault?.code).toBe(expected);
              break;
            }
            if (queue.fault !== undefined) {
              expect(queue.fault.code).toBe('AVAIL_IDX_JUMP'); // too many in flight
              break;
            }
            expect(chain?.descriptors).toEqual(expected);
            outcomes.set('ok', (outcomes.get('ok') ?? 0) + 1);
            // Exercise the copies: MMIO or unmapped buffers must fault, never reach a handler.
            chain!.reader().readAll();
            chain!.writer().write(new Uint8Array(64));
            pops++;
            expect(pops).toBeLessThanOrEqual(size);
            if (queue.fault !== undefined) break;
          }
          expect(mem.violations).toEqual([]);
          expect(mmioCalls()).toBe(0);
        },
      ),
      { numRuns: 400, seed: 0xbad },
    );
    // The generator must reach valid chains and most fault kinds, or the test proves little.
    expect(outcomes.get('ok')).toBeGreaterThan(20);
    expect([...outcomes.keys()].length).toBeGreaterThanOrEqual(8);
  });
});

/**
 * An independent reference for popping one packed-ring buffer, written from §2.8 with plain
 * arithmetic: the descriptor at `pos` must be available for `wrap`; the list follows NEXT in ring
 * order; an indirect descriptor stands alone; the Buffer ID comes from the last descriptor.
 */
function referencePackedPop(
  mem: GuestPhysicalMemory,
  size: number,
  ring: number,
  pos: number,
  wrap: number,
): { descriptors: Descriptor[]; id: number; entries: number } | VirtioErrorCode | 'none' {
  const avail = (flags: number, w: number) => ((flags >> 7) & 1) === w && ((flags >> 15) & 1) !== w;
  const out: Descriptor[] = [];
  let total = 0;
  let entries = 0;
  const take = (addr: number, len: number, writable: boolean): VirtioErrorCode | undefined => {
    if (!writable && out.some((d) => d.writable)) return 'WRITABLE_BEFORE_READABLE';
    if (len > 0 && (addr >= 2 ** 52 || addr + len > RAM)) return 'ADDRESS_OUT_OF_RANGE';
    total += len;
    if (total > 2 ** 32) return 'TOTAL_LENGTH_OVERFLOW';
    out.push({ addr, len, writable });
    return out.length > size ? 'CHAIN_TOO_LONG' : undefined;
  };
  for (;;) {
    const at = ring + 16 * pos;
    const flags = mem.read16(at + 14);
    if (!avail(flags, wrap)) return entries === 0 ? 'none' : 'PACKED_INCOMPLETE_CHAIN';
    entries++;
    if (entries > size) return 'CHAIN_TOO_LONG';
    const addr = Number(mem.read64(at));
    const len = mem.read32(at + 8);
    const id = mem.read16(at + 12);
    pos = (pos + 1) % size;
    if (pos === 0) wrap ^= 1;
    if (flags & 4) {
      if (entries > 1 || flags & 1) return 'INDIRECT_WITH_NEXT';
      if (len === 0 || len % 16 !== 0) return 'INDIRECT_BAD_LENGTH';
      if (len / 16 > size) return 'CHAIN_TOO_LONG';
      if (addr % 16 !== 0 || addr >= 2 ** 52 || addr + len > RAM) return 'ADDRESS_OUT_OF_RANGE';
      for (let k = 0; k < len / 16; k++) {
        const e = addr + 16 * k;
        const bad = take(Number(mem.read64(e)), mem.read32(e + 8), (mem.read16(e + 14) & 2) !== 0);
        if (bad) return bad;
      }
      return id >= size ? 'PACKED_BAD_ID' : { descriptors: out, id, entries };
    }
    const bad = take(addr, len, (flags & 2) !== 0);
    if (bad) return bad;
    if (!(flags & 1)) return id >= size ? 'PACKED_BAD_ID' : { descriptors: out, id, entries };
  }
}

describe('packed virtqueue under random rings', () => {
  const flags = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(0x80, 0x81, 0x82, 0x83, 0x84, 0x8000, 0x8080, 0) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
  );
  const desc = fc.record({
    addr: fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 0x8_0000, max: 0x8_1000 }) },
      { weight: 1, arbitrary: fc.constantFrom(0x4_0000, 0xf_fff0, 0x10_0000, 0x20_0000, 2 ** 52) },
    ),
    len: fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 0, max: 256 }) },
      { weight: 1, arbitrary: fc.constantFrom(16, 32, 24, 0, 0xffff_ffff) },
    ),
    id: fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 0, max: 5 }) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
    ),
    flags,
  });

  it('agrees with the reference pop, never throws and never leaves RAM', () => {
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(
        fc.constantFrom(3, 4, 5),
        fc.array(desc, { minLength: 5, maxLength: 5 }),
        fc.array(desc, { minLength: 4, maxLength: 4 }),
        (size, ringDescs, indirect) => {
          const { mem } = memory();
          const layout = PackedQueueDriver.layoutAt(0x1000, size);
          const driver = new PackedQueueDriver(mem, layout);
          for (const [i, d] of ringDescs.slice(0, size).entries()) driver.writeDescriptor(i, d);
          // Indirect entries in packed format (addr, len, id, flags); only WRITE counts (§2.8.7).
          for (const [i, d] of indirect.entries()) {
            const at = 0x4_0000 + 16 * i;
            mem.write64(at, BigInt(d.addr));
            mem.write32(at + 8, d.len);
            mem.write16(at + 12, d.id);
            mem.write16(at + 14, d.flags);
          }
          const queue = new PackedVirtqueue(mem, layout, { indirect: true });
          const plain = (mem as unknown as { inner: GuestPhysicalMemory }).inner;
          let pos = 0;
          let wrap = 1;
          const seen = new Set<number>();
          for (let round = 0; round <= size; round++) {
            const expected = referencePackedPop(plain, size, layout.descRing, pos, wrap);
            const chain = queue.pop();
            if (expected === 'none') {
              expect(chain).toBeUndefined();
              expect(queue.fault).toBeUndefined();
              outcomes.set('none', (outcomes.get('none') ?? 0) + 1);
              break;
            }
            if (typeof expected === 'string') {
              expect(chain).toBeUndefined();
              expect(queue.fault?.code).toBe(expected);
              outcomes.set(expected, (outcomes.get(expected) ?? 0) + 1);
              break;
            }
            if (seen.has(expected.id)) {
              expect(queue.fault?.code).toBe('PACKED_BAD_ID');
              break;
            }
            seen.add(expected.id);
            expect(chain?.head).toBe(expected.id);
            expect(chain?.descriptors).toEqual(expected.descriptors);
            expect(chain?.ringEntries).toBe(expected.entries);
            outcomes.set('ok', (outcomes.get('ok') ?? 0) + 1);
            pos += expected.entries;
            if (pos >= size) {
              pos -= size;
              wrap ^= 1;
            }
          }
          expect(mem.violations).toEqual([]);
        },
      ),
      { numRuns: 400, seed: 0x9ac },
    );
    expect(outcomes.get('ok')).toBeGreaterThan(20);
    expect([...outcomes.keys()].length).toBeGreaterThanOrEqual(7);
  });
});
