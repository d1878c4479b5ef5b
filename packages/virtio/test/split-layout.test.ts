import { describe, expect, it } from 'vitest';
import {
  DeviceStatus,
  FeatureBit,
  isValidSplitQueueSize,
  needEvent,
  SPLIT_ALIGNMENT,
  SplitVirtqueue,
  splitOffsets,
  splitQueueSizes,
} from '../src/index.js';
import { SplitQueueDriver } from '../src/testing.js';
import { makeMemory, peek, poke } from './helpers.js';
import {
  FEATURE_BITS,
  SPLIT_PARTS,
  STATUS,
  VIRTQ_AVAIL,
  VIRTQ_DESC,
  VIRTQ_USED,
} from './spec-tables.js';

describe('split virtqueue layout (virtio 1.2 §2.7)', () => {
  it('matches the alignment and size table for every power-of-two size', () => {
    for (let q = 1; q <= 32768; q *= 2) {
      const sizes = splitQueueSizes(q);
      for (const row of SPLIT_PARTS) {
        expect(sizes[row.part]).toBe(row.size(q));
        expect(SPLIT_ALIGNMENT[row.part]).toBe(row.alignment);
      }
      expect(splitOffsets.usedEvent(q)).toBe(VIRTQ_AVAIL(q).used_event);
      expect(splitOffsets.availEvent(q)).toBe(VIRTQ_USED(q).avail_event);
      expect(splitOffsets.availRing(q - 1)).toBe(VIRTQ_AVAIL(q).ring(q - 1));
      expect(splitOffsets.usedRing(q - 1)).toBe(VIRTQ_USED(q).ringId(q - 1));
    }
  });

  it('accepts exactly the powers of two up to 32768 as queue sizes', () => {
    const valid = new Set(Array.from({ length: 16 }, (_, k) => 2 ** k));
    for (let q = 0; q <= 70000; q++) expect(isValidSplitQueueSize(q)).toBe(valid.has(q));
    expect(isValidSplitQueueSize(1.5)).toBe(false);
  });

  it('uses the status and feature bit values of §2.1 and §6', () => {
    expect(DeviceStatus).toEqual(STATUS);
    expect(FeatureBit).toEqual(FEATURE_BITS);
  });

  it('reads descriptors and rings at the byte offsets of the spec structs', () => {
    const mem = makeMemory();
    const q = 8;
    const layout = { size: q, descTable: 0x1000, availRing: 0x2000, usedRing: 0x3000 };
    const field = (name: string) => VIRTQ_DESC.find((f) => f[0] === name)!;
    // Descriptor 5: a readable buffer chained to writable descriptor 2, written byte by byte.
    const d5 = layout.descTable + 16 * 5;
    poke(mem, d5 + field('addr')[1], field('addr')[2], 0x8000);
    poke(mem, d5 + field('len')[1], field('len')[2], 0x10);
    poke(mem, d5 + field('flags')[1], field('flags')[2], 1);
    poke(mem, d5 + field('next')[1], field('next')[2], 2);
    const d2 = layout.descTable + 16 * 2;
    poke(mem, d2 + field('addr')[1], field('addr')[2], 0x9000);
    poke(mem, d2 + field('len')[1], field('len')[2], 0x20);
    poke(mem, d2 + field('flags')[1], field('flags')[2], 2);
    const avail = VIRTQ_AVAIL(q);
    poke(mem, layout.availRing + avail.ring(0), 2, 5);
    poke(mem, layout.availRing + avail.idx, 2, 1);
    const queue = new SplitVirtqueue(mem, layout);
    const chain = queue.pop()!;
    expect(chain.head).toBe(5);
    expect(chain.descriptors).toEqual([
      { addr: 0x8000, len: 0x10, writable: false },
      { addr: 0x9000, len: 0x20, writable: true },
    ]);
    queue.addUsed(5, 0x1c);
    const used = VIRTQ_USED(q);
    expect(peek(mem, layout.usedRing + used.ringId(0), 4)).toBe(5);
    expect(peek(mem, layout.usedRing + used.ringLen(0), 4)).toBe(0x1c);
    expect(peek(mem, layout.usedRing + used.idx, 2)).toBe(1);
  });

  it('writes descriptors from the driver helper byte-exactly', () => {
    const mem = makeMemory();
    const layout = SplitQueueDriver.layoutAt(0x1000, 4);
    const driver = new SplitQueueDriver(mem, layout);
    driver.writeDescriptor(1, { addr: 0x0011_2233_4455_6677, len: 0x8899aabb, flags: 3, next: 2 });
    const bytes = new Uint8Array(16);
    mem.readBytes(layout.descTable + 16, bytes);
    expect([...bytes]).toEqual([
      0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00, 0xbb, 0xaa, 0x99, 0x88, 3, 0, 2, 0,
    ]);
    expect(layout.availRing % 2).toBe(0);
    expect(layout.usedRing % 4).toBe(0);
    expect(layout.availRing).toBe(0x1000 + 64);
    expect(layout.usedRing).toBe(0x1000 + 64 + 16);
  });
});

describe('needEvent (vring_need_event, §2.7.7)', () => {
  /** Reference: is event in the window of entries (old, ..., new - 1) modulo 2^16? */
  function reference(event: number, now: number, old: number): boolean {
    for (let i = old; i !== now; i = (i + 1) & 0xffff) if (i === event) return true;
    return false;
  }

  it('agrees with an explicit walk of the published window', () => {
    const samples = [0, 1, 2, 100, 0x7fff, 0x8000, 0xfffe, 0xffff];
    for (const old of samples) {
      for (const span of [0, 1, 2, 5, 255]) {
        const now = (old + span) & 0xffff;
        for (const d of [-2, -1, 0, 1, 2, 4, 254, 255, 256]) {
          const event = (old + d) & 0xffff;
          expect(needEvent(event, now, old)).toBe(reference(event, now, old));
        }
      }
    }
  });

  it('notifies after the first buffer when used_event is 0, and again after 65536 (§2.7.7 note)', () => {
    expect(needEvent(0, 1, 0)).toBe(true);
    let count = 0;
    for (let i = 1; i <= 65537; i++) if (needEvent(0, i & 0xffff, (i - 1) & 0xffff)) count++;
    expect(count).toBe(2);
  });
});
