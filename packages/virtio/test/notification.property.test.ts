import { GuestPhysicalMemory } from '@vmkit/memory';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PackedVirtqueue, SplitVirtqueue, type Virtqueue } from '../src/index.js';
import { PackedQueueDriver, SplitQueueDriver } from '../src/testing.js';

type Step = 'add' | 'device' | 'driver';

/**
 * No lost wake-ups (§2.7.7, §2.7.10, §2.8.10): a backend that sleeps until kicked and a driver
 * that sleeps until interrupted, both suppressing notifications while awake and re-checking
 * after re-enabling them, must between them process every buffer, whatever the interleaving,
 * with flags or with EVENT_IDX, split or packed.
 */
describe('notification suppression never loses a wake-up', () => {
  for (const packed of [false, true]) {
    for (const eventIdx of [false, true]) {
      const name = `${packed ? 'packed' : 'split'}, ${eventIdx ? 'EVENT_IDX' : 'flags'}`;
      it(name, () => {
        fc.assert(
          fc.property(
            fc.array(fc.constantFrom<Step>('add', 'add', 'device', 'driver'), { maxLength: 120 }),
            (steps) => {
              const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 2 ** 20 }] });
              const size = 8;
              let driver: SplitQueueDriver | PackedQueueDriver;
              let queue: Virtqueue;
              if (packed) {
                const layout = PackedQueueDriver.layoutAt(0x1000, size);
                driver = new PackedQueueDriver(mem, layout, { eventIdx });
                queue = new PackedVirtqueue(mem, layout, { eventIdx });
              } else {
                const layout = SplitQueueDriver.layoutAt(0x1000, size);
                driver = new SplitQueueDriver(mem, layout, { eventIdx });
                queue = new SplitVirtqueue(mem, layout, { eventIdx });
              }
              // Each side: sleeping -> (woken) awake -> draining (notifications off, work done)
              // -> re-enable and re-check -> sleeping or awake. The steps interleave, so the
              // other side can act between draining and re-enabling: the race the re-check is for.
              type Phase = 'sleeping' | 'awake' | 'draining';
              let device: Phase = 'sleeping';
              let guest: Phase = 'sleeping';
              let deviceKicked = false;
              let guestInterrupted = false;
              let added = 0;
              let reclaimed = 0;
              const wakeDevice = () => {
                if (device === 'sleeping') device = 'awake';
                else deviceKicked = true;
              };
              const wakeGuest = () => {
                if (guest === 'sleeping') guest = 'awake';
                else guestInterrupted = true;
              };
              const deviceStep = () => {
                if (device === 'awake') {
                  queue.disableNotification();
                  for (let c = queue.pop(); c !== undefined; c = queue.pop())
                    queue.addUsed(c.head, 0);
                  if (queue.needsNotification()) wakeGuest();
                  device = 'draining';
                } else if (device === 'draining') {
                  const more = queue.enableNotification();
                  device = more || deviceKicked ? 'awake' : 'sleeping';
                  deviceKicked = false;
                }
              };
              const guestStep = () => {
                if (guest === 'awake') {
                  driver.setUsedNotifications(false);
                  reclaimed += driver.reclaim().length;
                  guest = 'draining';
                } else if (guest === 'draining') {
                  // §2.7.14 note: re-enable, then look again for buffers used meanwhile.
                  driver.setUsedNotifications(true);
                  const more = driver.reclaim().length;
                  reclaimed += more;
                  guest = more > 0 || guestInterrupted ? 'awake' : 'sleeping';
                  guestInterrupted = false;
                }
              };
              for (const step of steps) {
                if (step === 'add') {
                  if (driver.freeDescriptors === 0) continue;
                  driver.add([{ addr: 0x8000, len: 1 }]);
                  added++;
                  if (driver.kick()) wakeDevice();
                } else if (step === 'device') {
                  deviceStep();
                } else {
                  guestStep();
                }
              }
              // Quiesce: whoever is not asleep runs until both sleep.
              for (
                let guard = 0;
                (device !== 'sleeping' || guest !== 'sleeping') && guard < 200;
                guard++
              ) {
                deviceStep();
                guestStep();
              }
              expect([device, guest]).toEqual(['sleeping', 'sleeping']);
              // Every buffer the driver added was served and came back, with nobody left waiting.
              expect(reclaimed).toBe(added);
              expect(queue.fault).toBeUndefined();
            },
          ),
          { numRuns: 300, seed: 0x1d1e },
        );
      });
    }
  }
});
