import { describe, expect, it } from 'vitest';
import { CountingWorkMeter, SplitVirtqueue, VirtioError } from '../src/index.js';
import { SplitQueueDriver } from '../src/testing.js';
import { makeMemory } from './helpers.js';

function setup(
  size = 8,
  features: { eventIdx?: boolean; indirect?: boolean; inOrder?: boolean } = {},
) {
  const mem = makeMemory();
  const layout = SplitQueueDriver.layoutAt(0x1000, size);
  const driver = new SplitQueueDriver(mem, layout, features);
  const meter = new CountingWorkMeter();
  const faults: VirtioError[] = [];
  const queue = new SplitVirtqueue(mem, layout, features, {
    meter,
    onFault: (e) => faults.push(e),
  });
  return { mem, layout, driver, queue, meter, faults };
}

describe('SplitVirtqueue device side', () => {
  it('moves payload through readers and writers and reports the used length', () => {
    const { mem, driver, queue, meter } = setup();
    mem.writeBytes(0x10000, Uint8Array.from([1, 2, 3, 4, 5]));
    mem.writeBytes(0x10100, Uint8Array.from([6, 7, 8]));
    const head = driver.add(
      [
        { addr: 0x10000, len: 5 },
        { addr: 0x10100, len: 3 },
      ],
      [
        { addr: 0x20000, len: 4 },
        { addr: 0x20100, len: 10 },
      ],
    );
    expect(driver.kick()).toBe(true);
    const chain = queue.pop()!;
    expect(chain.head).toBe(head);
    expect(chain.readableBytes).toBe(8);
    expect(chain.writableBytes).toBe(14);
    const r = chain.reader();
    const first = new Uint8Array(6);
    expect(r.read(first)).toBe(6);
    expect([...first]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(r.remaining).toBe(2);
    expect([...r.readAll()]).toEqual([7, 8]);
    const w = chain.writer();
    expect(w.write(Uint8Array.from([9, 9, 9, 9, 9, 9]))).toBe(6);
    queue.addUsed(chain.head, w.written);
    expect(queue.needsNotification()).toBe(true);
    const back = new Uint8Array(2);
    mem.readBytes(0x20100, back);
    expect([...back]).toEqual([9, 9]);
    expect(driver.reclaim()).toEqual([{ id: head, len: 6 }]);
    expect(driver.freeDescriptors).toBe(8);
    expect(meter).toMatchObject({ bytes: 14, chains: 1 });
    expect(queue.pop()).toBeUndefined();
  });

  it('flattens indirect tables (§2.7.5.3), after zero or more direct descriptors', () => {
    const { mem, driver, queue, layout } = setup(8, { indirect: true });
    driver.add(
      [{ addr: 0x10000, len: 4 }],
      [
        { addr: 0x20000, len: 8 },
        { addr: 0x20100, len: 8 },
      ],
      0x40000,
    );
    driver.kick();
    const chain = queue.pop()!;
    expect(chain.descriptors.map((d) => [d.addr, d.writable])).toEqual([
      [0x10000, false],
      [0x20000, true],
      [0x20100, true],
    ]);
    queue.addUsed(chain.head, 0);
    driver.reclaim();
    // A direct readable descriptor chained to an indirect one (the unusual layout §2.7.5.3.2 allows).
    driver.writeDescriptor(0, { addr: 0x11000, len: 2, flags: 1, next: 3 });
    driver.writeDescriptor(3, { addr: 0x41000, len: 16, flags: 4 | 2, next: 0 });
    driver.writeDescriptor(7, { addr: 0, len: 0, flags: 0, next: 0 });
    mem.write32(0x41000, 0x21000);
    mem.write32(0x41004, 0);
    mem.write32(0x41008, 9);
    mem.write16(0x4100c, 2);
    driver.pushHead(0);
    driver.publish();
    const mixed = queue.pop()!;
    expect(mixed.descriptors).toEqual([
      { addr: 0x11000, len: 2, writable: false },
      { addr: 0x21000, len: 9, writable: true },
    ]);
    expect(layout.size).toBe(8);
  });

  it('wraps the free-running indices at 2^16 (§2.7.13.3)', () => {
    const { driver, queue } = setup(4);
    for (let i = 0; i < 70000; i++) {
      const head = driver.add([], [{ addr: 0x20000, len: 1 }]);
      driver.publish();
      const chain = queue.pop()!;
      expect(chain.head).toBe(head);
      queue.addUsed(chain.head, 1);
      const used = driver.reclaim();
      expect(used).toEqual([{ id: head, len: 1 }]);
    }
    expect(queue.nextAvail).toBe(70000 & 0xffff);
    expect(queue.nextUsed).toBe(70000 & 0xffff);
  });

  it('suppresses used buffer notifications with the NO_INTERRUPT flag (§2.7.7)', () => {
    const { driver, queue } = setup();
    driver.setUsedNotifications(false);
    driver.add([{ addr: 0x10000, len: 1 }]);
    driver.kick();
    const c = queue.pop()!;
    queue.addUsed(c.head, 0);
    expect(queue.needsNotification()).toBe(false);
    driver.setUsedNotifications(true);
    driver.add([{ addr: 0x10000, len: 1 }]);
    driver.kick();
    const d = queue.pop()!;
    queue.addUsed(d.head, 0);
    expect(queue.needsNotification()).toBe(true);
    expect(queue.needsNotification()).toBe(false); // nothing new since
  });

  it('notifies exactly when used idx passes used_event with EVENT_IDX (§2.7.7)', () => {
    const { driver, queue } = setup(8, { eventIdx: true });
    driver.setUsedEvent(2); // wake me when the entry at index 2 is written
    const results: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      driver.add([{ addr: 0x10000, len: 1 }]);
      driver.kick();
      const c = queue.pop()!;
      queue.addUsed(c.head, 0);
      results.push(queue.needsNotification());
      driver.reclaim();
    }
    expect(results).toEqual([false, false, true, false, false]);
  });

  it('suppresses available buffer notifications, by flag and by avail_event (§2.7.10)', () => {
    for (const eventIdx of [false, true]) {
      const { driver, queue } = setup(8, { eventIdx });
      queue.disableNotification();
      driver.add([{ addr: 0x10000, len: 1 }]);
      expect(driver.kick()).toBe(eventIdx); // avail_event starts at 0
      queue.pop();
      driver.add([{ addr: 0x10000, len: 1 }]);
      expect(driver.kick()).toBe(false);
      expect(queue.enableNotification()).toBe(true); // a buffer arrived meanwhile
      queue.pop();
      driver.add([{ addr: 0x10000, len: 1 }]);
      expect(driver.kick()).toBe(true);
    }
  });

  it('with IN_ORDER, enforces pop order and batches used entries (§2.7.9)', () => {
    const { driver, queue } = setup(8, { inOrder: true });
    const heads = [0, 1, 2].map(() =>
      driver.add([{ addr: 0x10000, len: 1 }], [{ addr: 0x20000, len: 4 }]),
    );
    expect(heads).toEqual([0, 2, 4]); // sequential descriptors
    driver.kick();
    const chains = [queue.pop()!, queue.pop()!, queue.pop()!];
    expect(() => queue.addUsed(chains[1]!.head, 0)).toThrow(VirtioError);
    queue.addUsedBatch(3, 4);
    expect(queue.nextUsed).toBe(3);
    expect(driver.reclaim()).toEqual([
      { id: 0, len: 4 }, // skipped by the batch: completely used (§2.7.9)
      { id: 2, len: 4 },
      { id: 4, len: 4 },
    ]);
  });

  it('rejects host misuse with typed errors', () => {
    const { queue, driver } = setup();
    expect(() => queue.addUsed(3, 0)).toThrow(expect.objectContaining({ code: 'NOT_IN_FLIGHT' }));
    driver.add([{ addr: 0x10000, len: 1 }]);
    driver.kick();
    const c = queue.pop()!;
    expect(() => queue.addUsed(c.head, -1)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => queue.addUsedBatch(1, 0)).toThrow(
      expect.objectContaining({ code: 'INVALID_STATE' }),
    );
    expect(
      () =>
        new SplitVirtqueue(makeMemory(), {
          size: 3,
          descTable: 0,
          availRing: 0x100,
          usedRing: 0x200,
        }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_QUEUE_SIZE' }));
  });

  it('validates ring placement: alignment (§2.7) and RAM', () => {
    const mem = makeMemory();
    const ok = { size: 8, descTable: 0x1000, availRing: 0x2000, usedRing: 0x3000 };
    expect(SplitVirtqueue.validate(mem, ok)).toBeUndefined();
    expect(SplitVirtqueue.validate(mem, { ...ok, descTable: 0x1008 })?.code).toBe(
      'MISALIGNED_RING',
    );
    expect(SplitVirtqueue.validate(mem, { ...ok, availRing: 0x2001 })?.code).toBe(
      'MISALIGNED_RING',
    );
    expect(SplitVirtqueue.validate(mem, { ...ok, usedRing: 0x3002 })?.code).toBe('MISALIGNED_RING');
    expect(SplitVirtqueue.validate(mem, { ...ok, usedRing: 0x100000 - 8 })?.code).toBe(
      'ADDRESS_OUT_OF_RANGE',
    );
    expect(SplitVirtqueue.validate(mem, { ...ok, descTable: 0x200000 })?.code).toBe(
      'ADDRESS_OUT_OF_RANGE',
    );
  });
});
