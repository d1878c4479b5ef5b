import { GuestPhysicalMemory } from '@vmkit/memory';
import { describe, expect, it } from 'vitest';
import { SplitVirtqueue, type VirtioError, type VirtioErrorCode } from '../src/index.js';
import { type RawDescriptor, SplitQueueDriver, writeRaw } from '../src/testing.js';
import { makeMemory } from './helpers.js';

const SIZE = 8;
const NEXT = 1;
const WRITE = 2;
const INDIRECT = 4;

interface Case {
  name: string;
  code: VirtioErrorCode;
  /** Builds the malformed ring; returns nothing (head 0 is published unless `head` is set). */
  build: (d: SplitQueueDriver, mem: GuestPhysicalMemory) => void;
  head?: number;
  indirect?: boolean;
}

const desc = (addr: number, len: number, flags: number, next = 0): RawDescriptor => ({
  addr,
  len,
  flags,
  next,
});

/** One case per rule of the threat model (README, "Threat model"). */
const CASES: Case[] = [
  {
    name: 'descriptor loop',
    code: 'DESCRIPTOR_LOOP',
    build: (d) => {
      d.writeDescriptor(0, desc(0x10000, 4, NEXT, 1));
      d.writeDescriptor(1, desc(0x10000, 4, NEXT, 0));
    },
  },
  {
    name: 'self loop',
    code: 'DESCRIPTOR_LOOP',
    build: (d) => d.writeDescriptor(0, desc(0x10000, 4, NEXT, 0)),
  },
  {
    name: 'chain longer than the queue (direct part plus indirect table)',
    code: 'CHAIN_TOO_LONG',
    indirect: true,
    build: (d, mem) => {
      for (let i = 0; i < 4; i++) d.writeDescriptor(i, desc(0x10000, 1, NEXT, i + 1));
      d.writeDescriptor(4, desc(0x40000, 16 * 5, INDIRECT));
      for (let k = 0; k < 5; k++)
        writeRaw(mem, 0x40000 + 16 * k, desc(0x10000, 1, k < 4 ? NEXT : 0, k + 1));
    },
  },
  {
    name: 'head index out of range',
    code: 'HEAD_OUT_OF_RANGE',
    head: SIZE,
    build: () => {},
  },
  {
    name: 'next index out of range',
    code: 'NEXT_OUT_OF_RANGE',
    build: (d) => d.writeDescriptor(0, desc(0x10000, 4, NEXT, SIZE + 3)),
  },
  {
    name: 'next out of range inside an indirect table',
    code: 'NEXT_OUT_OF_RANGE',
    indirect: true,
    build: (d, mem) => {
      d.writeDescriptor(0, desc(0x40000, 32, INDIRECT));
      writeRaw(mem, 0x40000, desc(0x10000, 1, NEXT, 2));
    },
  },
  {
    name: 'loop inside an indirect table',
    code: 'DESCRIPTOR_LOOP',
    indirect: true,
    build: (d, mem) => {
      d.writeDescriptor(0, desc(0x40000, 32, INDIRECT));
      writeRaw(mem, 0x40000, desc(0x10000, 1, NEXT, 1));
      writeRaw(mem, 0x40010, desc(0x10000, 1, NEXT, 0));
    },
  },
  {
    name: 'indirect table inside an indirect table',
    code: 'NESTED_INDIRECT',
    indirect: true,
    build: (d, mem) => {
      d.writeDescriptor(0, desc(0x40000, 16, INDIRECT));
      writeRaw(mem, 0x40000, desc(0x41000, 16, INDIRECT));
    },
  },
  {
    name: 'indirect length not a multiple of 16',
    code: 'INDIRECT_BAD_LENGTH',
    indirect: true,
    build: (d) => d.writeDescriptor(0, desc(0x40000, 24, INDIRECT)),
  },
  {
    name: 'indirect length zero',
    code: 'INDIRECT_BAD_LENGTH',
    indirect: true,
    build: (d) => d.writeDescriptor(0, desc(0x40000, 0, INDIRECT)),
  },
  {
    name: 'INDIRECT together with NEXT',
    code: 'INDIRECT_WITH_NEXT',
    indirect: true,
    build: (d) => d.writeDescriptor(0, desc(0x40000, 16, INDIRECT | NEXT, 1)),
  },
  {
    name: 'INDIRECT without VIRTIO_F_INDIRECT_DESC',
    code: 'INDIRECT_NOT_NEGOTIATED',
    build: (d) => d.writeDescriptor(0, desc(0x40000, 16, INDIRECT)),
  },
  {
    name: 'indirect table outside guest memory',
    code: 'ADDRESS_OUT_OF_RANGE',
    indirect: true,
    build: (d) => d.writeDescriptor(0, desc(0x10_0000 - 16, 32, INDIRECT)),
  },
  {
    name: 'indirect table in MMIO space',
    code: 'ADDRESS_OUT_OF_RANGE',
    indirect: true,
    build: (d) => d.writeDescriptor(0, desc(0x20_0000, 16, INDIRECT)),
  },
  {
    name: 'total length over 2^32',
    code: 'TOTAL_LENGTH_OVERFLOW',
    build: (d, mem) => {
      // Buffers of 0xffffffff bytes would not fit in 1 MiB of RAM; use a memory big enough.
      void mem;
      d.writeDescriptor(0, desc(0, 0xffff_ffff, NEXT, 1));
      d.writeDescriptor(1, desc(0, 2, 0));
    },
  },
  {
    name: 'device-writable descriptor before a readable one',
    code: 'WRITABLE_BEFORE_READABLE',
    build: (d) => {
      d.writeDescriptor(0, desc(0x20000, 4, WRITE | NEXT, 1));
      d.writeDescriptor(1, desc(0x10000, 4, 0));
    },
  },
  {
    name: 'buffer outside guest memory',
    code: 'ADDRESS_OUT_OF_RANGE',
    build: (d) => d.writeDescriptor(0, desc(0x5000_0000, 4, 0)),
  },
  {
    name: 'buffer straddling the end of RAM',
    code: 'ADDRESS_OUT_OF_RANGE',
    build: (d) => d.writeDescriptor(0, desc(0x10_0000 - 2, 4, WRITE)),
  },
  {
    name: 'buffer address above 2^52',
    code: 'ADDRESS_OUT_OF_RANGE',
    build: (d) => d.writeDescriptor(0, desc(2 ** 52, 4, 0)),
  },
];

function run(c: Case, mem = makeMemory()) {
  const layout = SplitQueueDriver.layoutAt(0x1000, SIZE);
  const driver = new SplitQueueDriver(mem, layout);
  c.build(driver, mem);
  driver.pushHead(c.head ?? 0);
  driver.publish();
  const faults: VirtioError[] = [];
  const queue = new SplitVirtqueue(
    mem,
    layout,
    { indirect: c.indirect ?? false },
    {
      onFault: (e) => faults.push(e),
    },
  );
  return { queue, faults, driver, layout, mem };
}

describe('malformed chains from an untrusted guest', () => {
  for (const c of CASES) {
    it(`${c.name}: ${c.code}, queue stopped, nothing thrown`, () => {
      const mem =
        c.code === 'TOTAL_LENGTH_OVERFLOW'
          ? new GuestPhysicalMemory({ ram: [{ base: 0, size: 2 ** 33 }] })
          : makeMemory();
      const { queue, faults, driver } = run(c, mem);
      const usedBefore = mem.read16(SplitQueueDriver.layoutAt(0x1000, SIZE).usedRing + 2);
      expect(queue.pop()).toBeUndefined();
      expect(faults.map((f) => f.code)).toEqual([c.code]);
      expect(queue.fault?.code).toBe(c.code);
      // Stopped: more buffers are ignored, nothing is written to the used ring.
      driver.writeDescriptor(5, desc(0x10000, 4, 0));
      driver.pushHead(5);
      driver.publish();
      expect(queue.hasAvailable()).toBe(false);
      expect(queue.pop()).toBeUndefined();
      expect(queue.needsNotification()).toBe(false);
      expect(mem.read16(SplitQueueDriver.layoutAt(0x1000, SIZE).usedRing + 2)).toBe(usedBefore);
      expect(faults).toHaveLength(1);
    });
  }

  it('an available idx that jumps by more than the queue size: AVAIL_IDX_JUMP', () => {
    const mem = makeMemory();
    const layout = SplitQueueDriver.layoutAt(0x1000, SIZE);
    const driver = new SplitQueueDriver(mem, layout);
    const queue = new SplitVirtqueue(mem, layout);
    driver.setAvailIdx(SIZE);
    expect(queue.hasAvailable()).toBe(true);
    driver.setAvailIdx(SIZE + 1);
    expect(queue.hasAvailable()).toBe(false);
    expect(queue.fault?.code).toBe('AVAIL_IDX_JUMP');
    // A rewind is a jump of nearly 2^16 forwards.
    const q2 = new SplitVirtqueue(mem, layout);
    driver.setAvailIdx(0xffff);
    expect(q2.pop()).toBeUndefined();
    expect(q2.fault?.code).toBe('AVAIL_IDX_JUMP');
  });

  it('more chains in flight than the queue holds (a head reused while in flight)', () => {
    const mem = makeMemory();
    const layout = SplitQueueDriver.layoutAt(0x1000, 2);
    const driver = new SplitQueueDriver(mem, layout);
    const queue = new SplitVirtqueue(mem, layout);
    driver.writeDescriptor(0, desc(0x10000, 4, 0));
    driver.pushHead(0);
    driver.pushHead(0);
    driver.publish();
    expect(queue.pop()?.head).toBe(0);
    expect(queue.pop()?.head).toBe(0);
    driver.pushHead(0);
    driver.publish();
    expect(queue.pop()).toBeUndefined();
    expect(queue.fault?.code).toBe('AVAIL_IDX_JUMP');
  });

  it('a buffer that becomes unmapped after pop faults the copy instead of throwing', () => {
    const mem = new GuestPhysicalMemory({
      ram: [
        { name: 'rings', base: 0, size: 0x10000 },
        { name: 'data', base: 0x10000, size: 0x10000 },
      ],
    });
    const layout = SplitQueueDriver.layoutAt(0x1000, SIZE);
    const driver = new SplitQueueDriver(mem, layout);
    const queue = new SplitVirtqueue(mem, layout);
    driver.add([{ addr: 0x10000, len: 8 }], [{ addr: 0x10100, len: 8 }]);
    driver.kick();
    const chain = queue.pop()!;
    mem.removeRegion('data');
    expect(chain.reader().read(new Uint8Array(8))).toBe(0);
    expect(chain.writer().write(new Uint8Array(8))).toBe(0);
    expect(queue.fault?.code).toBe('ADDRESS_OUT_OF_RANGE');
    queue.addUsed(chain.head, 0); // ignored, the queue is stopped
    expect(mem.read16(layout.usedRing + 2)).toBe(0);
  });

  it('a buffer in MMIO space is refused at pop time', () => {
    const mem = makeMemory();
    const layout = SplitQueueDriver.layoutAt(0x1000, SIZE);
    const driver = new SplitQueueDriver(mem, layout);
    const queue = new SplitVirtqueue(mem, layout);
    driver.add([{ addr: 0x20_0000, len: 8 }]);
    driver.kick();
    expect(queue.pop()).toBeUndefined();
    expect(queue.fault?.code).toBe('ADDRESS_OUT_OF_RANGE');
  });
});
