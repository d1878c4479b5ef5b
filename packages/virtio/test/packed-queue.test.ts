import { GuestPhysicalMemory } from '@vmkit/memory';
import { describe, expect, it } from 'vitest';
import {
  isValidPackedQueueSize,
  PACKED_ALIGNMENT,
  PackedVirtqueue,
  packedOffsets,
  RING_EVENT_FLAGS_DESC,
  RING_EVENT_FLAGS_DISABLE,
  RING_EVENT_FLAGS_ENABLE,
  VIRTQ_DESC_F_AVAIL,
  VIRTQ_DESC_F_USED,
  type VirtioError,
} from '../src/index.js';
import { PackedQueueDriver } from '../src/testing.js';
import { makeMemory, peek, poke } from './helpers.js';
import { PACKED_FLAGS, PACKED_PARTS, PVIRTQ_DESC } from './spec-tables.js';

function setup(
  size = 8,
  features: { eventIdx?: boolean; indirect?: boolean; inOrder?: boolean } = {},
) {
  const mem = makeMemory();
  const layout = PackedQueueDriver.layoutAt(0x1000, size);
  const driver = new PackedQueueDriver(mem, layout, features);
  const faults: VirtioError[] = [];
  const queue = new PackedVirtqueue(mem, layout, features, { onFault: (e) => faults.push(e) });
  return { mem, layout, driver, queue, faults };
}

describe('packed virtqueue layout (virtio 1.2 §2.8)', () => {
  it('matches the alignment table, struct pvirtq_desc and the flag values', () => {
    for (const row of PACKED_PARTS) expect(PACKED_ALIGNMENT[row.part]).toBe(row.alignment);
    for (const [name, offset] of PVIRTQ_DESC) expect(packedOffsets[name]).toBe(offset);
    expect([VIRTQ_DESC_F_AVAIL, VIRTQ_DESC_F_USED]).toEqual([
      PACKED_FLAGS.AVAIL,
      PACKED_FLAGS.USED,
    ]);
    expect([RING_EVENT_FLAGS_ENABLE, RING_EVENT_FLAGS_DISABLE, RING_EVENT_FLAGS_DESC]).toEqual([
      PACKED_FLAGS.ENABLE,
      PACKED_FLAGS.DISABLE,
      PACKED_FLAGS.DESC,
    ]);
    // Packed sizes need not be powers of two.
    expect(isValidPackedQueueSize(3)).toBe(true);
    expect(isValidPackedQueueSize(32768)).toBe(true);
    expect(isValidPackedQueueSize(32769)).toBe(false);
    expect(isValidPackedQueueSize(0)).toBe(false);
  });

  it('reads a hand-written available descriptor and writes the used one in place', () => {
    const mem = makeMemory();
    const layout = { size: 4, descRing: 0x1000, driverEvent: 0x2000, deviceEvent: 0x2004 };
    const f = (n: string) => PVIRTQ_DESC.find((x) => x[0] === n)!;
    poke(mem, 0x1000 + f('addr')[1], 8, 0x9000);
    poke(mem, 0x1000 + f('len')[1], 4, 32);
    poke(mem, 0x1000 + f('id')[1], 2, 3);
    poke(mem, 0x1000 + f('flags')[1], 2, PACKED_FLAGS.AVAIL | 2); // available in lap 1, writable
    const q = new PackedVirtqueue(mem, layout);
    const chain = q.pop()!;
    expect(chain.head).toBe(3);
    expect(chain.descriptors).toEqual([{ addr: 0x9000, len: 32, writable: true }]);
    q.addUsed(3, 7);
    expect(peek(mem, 0x1000 + 12, 2)).toBe(3);
    expect(peek(mem, 0x1000 + 8, 4)).toBe(7);
    // Used in lap 1: AVAIL = USED = 1, WRITE because something was written (§2.8.3).
    expect(peek(mem, 0x1000 + 14, 2)).toBe(PACKED_FLAGS.AVAIL | PACKED_FLAGS.USED | 2);
  });
});

describe('PackedVirtqueue device side', () => {
  it('runs many laps with the wrap counters, chains and out-of-order completion', () => {
    const { driver, queue, mem } = setup(5);
    mem.writeBytes(0x10000, Uint8Array.from([1, 2, 3]));
    for (let round = 0; round < 40; round++) {
      const a = driver.add([{ addr: 0x10000, len: 3 }], [{ addr: 0x20000, len: 4 }]);
      const b = driver.add([{ addr: 0x10000, len: 1 }]);
      driver.kick();
      const ca = queue.pop()!;
      const cb = queue.pop()!;
      expect([ca.head, cb.head]).toEqual([a, b]);
      expect(ca.ringEntries).toBe(2);
      expect([...ca.reader().readAll()]).toEqual([1, 2, 3]);
      queue.addUsed(cb.head, 0);
      queue.addUsed(ca.head, 4);
      expect(driver.reclaim()).toEqual([
        { id: b, len: 0 },
        { id: a, len: 4 },
      ]);
      expect(queue.pop()).toBeUndefined();
    }
    expect(queue.fault).toBeUndefined();
  });

  it('flattens indirect tables: only WRITE counts inside, the id is in the ring (§2.8.7)', () => {
    const { driver, queue } = setup(4, { indirect: true });
    const id = driver.add([{ addr: 0x10000, len: 8 }], [{ addr: 0x20000, len: 8 }], 0x40000);
    driver.kick();
    const c = queue.pop()!;
    expect(c.head).toBe(id);
    expect(c.ringEntries).toBe(1);
    expect(c.descriptors).toEqual([
      { addr: 0x10000, len: 8, writable: false },
      { addr: 0x20000, len: 8, writable: true },
    ]);
  });

  it('suppresses notifications with ENABLE / DISABLE / DESC (§2.8.10)', () => {
    const { driver, queue } = setup(8, { eventIdx: true });
    driver.setUsedNotifications(false);
    driver.add([{ addr: 0x10000, len: 1 }]);
    driver.kick();
    queue.addUsed(queue.pop()!.head, 0);
    expect(queue.needsNotification()).toBe(false);
    driver.reclaim();
    driver.setUsedNotifications(true); // DESC at the driver's next used position
    driver.add([{ addr: 0x10000, len: 1 }]);
    driver.add([{ addr: 0x10000, len: 1 }]);
    driver.kick();
    queue.addUsed(queue.pop()!.head, 0);
    expect(queue.needsNotification()).toBe(true);
    queue.addUsed(queue.pop()!.head, 0);
    expect(queue.needsNotification()).toBe(false); // past the event position
    // Device side: DISABLE, then DESC at the next available position.
    queue.disableNotification();
    driver.add([{ addr: 0x10000, len: 1 }]);
    expect(driver.kick()).toBe(false);
    expect(queue.enableNotification()).toBe(true);
    queue.pop();
    driver.add([{ addr: 0x10000, len: 1 }]);
    expect(driver.kick()).toBe(true);
  });

  it('with IN_ORDER writes one used descriptor per batch (§2.8.8)', () => {
    const { driver, queue } = setup(8, { inOrder: true });
    const ids = [0, 1, 2].map(() =>
      driver.add([{ addr: 0x10000, len: 1 }], [{ addr: 0x20000, len: 2 }]),
    );
    driver.kick();
    const chains = [queue.pop()!, queue.pop()!, queue.pop()!];
    expect(() => queue.addUsed(chains[2]!.head, 0)).toThrow();
    queue.addUsedBatch(3, 1);
    expect(driver.reclaim()).toEqual([
      { id: ids[0], len: 2 }, // skipped by the batch: completely used (§2.8.8)
      { id: ids[1], len: 2 },
      { id: ids[2], len: 1 },
    ]);
  });

  const cases: [
    string,
    string,
    (d: PackedQueueDriver, mem: GuestPhysicalMemory) => void,
    boolean?,
  ][] = [
    [
      'buffer id beyond the queue',
      'PACKED_BAD_ID',
      (d) => d.writeDescriptor(0, { addr: 0x10000, len: 4, id: 8, flags: d.availFlags() }),
    ],
    [
      'a list whose next descriptor is not available',
      'PACKED_INCOMPLETE_CHAIN',
      (d) => d.writeDescriptor(0, { addr: 0x10000, len: 4, id: 0, flags: d.availFlags() | 1 }),
    ],
    [
      // A list can only be longer than the ring by running into the next lap, whose
      // descriptors cannot look available with the current wrap counter.
      'a list that runs past the end of its lap',
      'PACKED_INCOMPLETE_CHAIN',
      (d) => {
        for (let i = 0; i < 8; i++)
          d.writeDescriptor(i, { addr: 0x10000, len: 4, id: 0, flags: d.availFlags() | 1 });
      },
    ],
    [
      'an indirect table longer than the queue',
      'CHAIN_TOO_LONG',
      (d) => d.writeDescriptor(0, { addr: 0x40000, len: 16 * 9, id: 0, flags: d.availFlags() | 4 }),
      true,
    ],
    [
      'writable before readable',
      'WRITABLE_BEFORE_READABLE',
      (d) => {
        d.writeDescriptor(0, { addr: 0x10000, len: 4, id: 0, flags: d.availFlags() | 1 | 2 });
        d.writeDescriptor(1, { addr: 0x10000, len: 4, id: 0, flags: d.availFlags() });
      },
    ],
    [
      'indirect inside a list',
      'INDIRECT_WITH_NEXT',
      (d) => {
        d.writeDescriptor(0, { addr: 0x10000, len: 4, id: 0, flags: d.availFlags() | 1 });
        d.writeDescriptor(1, { addr: 0x40000, len: 16, id: 0, flags: d.availFlags() | 4 });
      },
      true,
    ],
    [
      'indirect bad length',
      'INDIRECT_BAD_LENGTH',
      (d) => d.writeDescriptor(0, { addr: 0x40000, len: 20, id: 0, flags: d.availFlags() | 4 }),
      true,
    ],
    [
      'indirect not negotiated',
      'INDIRECT_NOT_NEGOTIATED',
      (d) => d.writeDescriptor(0, { addr: 0x40000, len: 16, id: 0, flags: d.availFlags() | 4 }),
    ],
    [
      'buffer outside RAM',
      'ADDRESS_OUT_OF_RANGE',
      (d) => d.writeDescriptor(0, { addr: 0x30_0000, len: 4, id: 0, flags: d.availFlags() }),
    ],
    [
      'buffer in MMIO',
      'ADDRESS_OUT_OF_RANGE',
      (d) => d.writeDescriptor(0, { addr: 0x20_0000, len: 4, id: 0, flags: d.availFlags() }),
    ],
  ];
  for (const [name, code, build, indirect] of cases) {
    it(`faults on ${name}: ${code}`, () => {
      const { driver, queue, faults, mem } = setup(8, { indirect: indirect ?? false });
      build(driver, mem);
      expect(queue.pop()).toBeUndefined();
      expect(faults.map((f) => f.code)).toEqual([code]);
      expect(queue.hasAvailable()).toBe(false);
    });
  }

  it('refuses a second buffer with an id already in flight', () => {
    const { driver, queue } = setup(8);
    driver.writeDescriptor(0, { addr: 0x10000, len: 4, id: 1, flags: driver.availFlags() });
    driver.writeDescriptor(1, { addr: 0x10000, len: 4, id: 1, flags: driver.availFlags() });
    expect(queue.pop()?.head).toBe(1);
    expect(queue.pop()).toBeUndefined();
    expect(queue.fault?.code).toBe('PACKED_BAD_ID');
  });

  it('validates placement: alignment table and RAM', () => {
    const mem = makeMemory();
    const ok = { size: 3, descRing: 0x1000, driverEvent: 0x2000, deviceEvent: 0x2004 };
    expect(PackedVirtqueue.validate(mem, ok)).toBeUndefined();
    expect(PackedVirtqueue.validate(mem, { ...ok, descRing: 0x1008 })?.code).toBe(
      'MISALIGNED_RING',
    );
    expect(PackedVirtqueue.validate(mem, { ...ok, deviceEvent: 0x2002 })?.code).toBe(
      'MISALIGNED_RING',
    );
    expect(PackedVirtqueue.validate(mem, { ...ok, driverEvent: 0x20_0000 })?.code).toBe(
      'ADDRESS_OUT_OF_RANGE',
    );
    expect(PackedVirtqueue.validate(mem, { ...ok, size: 0 })?.code).toBe('INVALID_QUEUE_SIZE');
  });

  it('never touches memory past a list that ends exactly at the ring end (wraps to slot 0)', () => {
    const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 0x10_0000 }] });
    const layout = PackedQueueDriver.layoutAt(0x1000, 3);
    const driver = new PackedQueueDriver(mem, layout);
    const queue = new PackedVirtqueue(mem, layout);
    for (let i = 0; i < 10; i++) {
      driver.add([
        { addr: 0x8000, len: 1 },
        { addr: 0x8000, len: 1 },
      ]);
      driver.kick();
      const c = queue.pop()!;
      expect(c.ringEntries).toBe(2);
      queue.addUsed(c.head, 0);
      expect(driver.reclaim()).toHaveLength(1);
    }
    expect(queue.fault).toBeUndefined();
  });
});
