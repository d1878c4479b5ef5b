import { GuestPhysicalMemory } from '@vmkit/memory';
import { Ecam, mapBars, PciSegment, routingId } from '@vmkit/pci';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DeviceStatus,
  MemoryBlockStore,
  MmioRegister,
  VirtioBlk,
  VirtioDevice,
  VirtioMmioTransport,
  VirtioNet,
  VirtioPciLayout,
  VirtioPciTransport,
} from '../src/index.js';

const KNOWN_STATUS =
  DeviceStatus.ACKNOWLEDGE |
  DeviceStatus.DRIVER |
  DeviceStatus.FEATURES_OK |
  DeviceStatus.DRIVER_OK |
  DeviceStatus.DEVICE_NEEDS_RESET |
  DeviceStatus.FAILED;

type Access = { write: boolean; offset: number; size: 1 | 2 | 4 | 8; value: bigint };

/** Offsets biased to the registers, with values biased to small numbers and plausible addresses. */
function accesses(registers: number[], span: number): fc.Arbitrary<Access[]> {
  const access = fc.record({
    write: fc.boolean(),
    offset: fc.oneof(fc.constantFrom(...registers), fc.integer({ min: 0, max: span - 8 })),
    size: fc.constantFrom<1 | 2 | 4 | 8>(4, 4, 4, 1, 2, 8),
    value: fc.oneof(
      fc.bigInt({ min: 0n, max: 16n }),
      fc.constantFrom(0n, 1n, 3n, 0xbn, 0xfn, 0x1000n, 0x2000n, 0x3000n, 0xffff_ffffn),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    ),
  });
  return fc.array(access, { maxLength: 80 });
}

/** The status invariants of §2.1 / §3.1.1 as the device enforces them. */
function checkStatus(status: number): void {
  expect(status & ~KNOWN_STATUS).toBe(0);
  if (status & DeviceStatus.DRIVER_OK) expect(status & DeviceStatus.FEATURES_OK).not.toBe(0);
  if (status & DeviceStatus.FEATURES_OK) expect(status & DeviceStatus.DRIVER).not.toBe(0);
  if (status & DeviceStatus.DRIVER) expect(status & DeviceStatus.ACKNOWLEDGE).not.toBe(0);
}

describe('transports under random guest register traffic', () => {
  it('virtio-mmio never throws, keeps the status machine valid and the line = InterruptStatus != 0', () => {
    const registers = Object.values(MmioRegister);
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.boolean(),
        fc.uint8Array({ minLength: 0x3000, maxLength: 0x3000 }),
        accesses(registers, 0x200),
        (net, init, garbage, ops) => {
          const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 0x10_0000 }] });
          const model = net
            ? new VirtioNet({ queuePairs: 2 })
            : new VirtioBlk(new MemoryBlockStore(8));
          const device = new VirtioDevice(model, mem);
          let line = false;
          const mmio = new VirtioMmioTransport(device, {
            onInterrupt: (l) => {
              line = l;
            },
          });
          if (init) {
            // A live device whose rings hold random bytes: every notify parses guest garbage.
            mem.writeBytes(0x1000, garbage);
            const w = (reg: number, v: number) => mmio.write(reg, 4, BigInt(v));
            w(MmioRegister.Status, 1);
            w(MmioRegister.Status, 3);
            w(MmioRegister.DriverFeaturesSel, 1);
            w(MmioRegister.DriverFeatures, 1); // VERSION_1
            w(MmioRegister.Status, 0xb);
            for (let q = 0; q < model.queueMaxSizes.length; q++) {
              w(MmioRegister.QueueSel, q);
              w(MmioRegister.QueueNum, 8);
              w(MmioRegister.QueueDescLow, 0x1000);
              w(MmioRegister.QueueDriverLow, 0x1800);
              w(MmioRegister.QueueDeviceLow, 0x2000 + 0x100 * q);
              w(MmioRegister.QueueReady, 1);
            }
            w(MmioRegister.Status, 0xf);
          }
          for (const a of ops) {
            if (a.write) mmio.write(a.offset, a.size, a.value);
            else mmio.read(a.offset, a.size);
            checkStatus(device.status);
            expect(line).toBe(device.isr !== 0);
          }
          if (init)
            for (let q = 0; q < model.queueMaxSizes.length; q++)
              mmio.write(MmioRegister.QueueNotify, 4, BigInt(q));
          checkStatus(device.status);
        },
      ),
      { numRuns: 300, seed: 0x6d6d },
    );
  });

  it('virtio-pci BAR traffic never throws and keeps the status machine valid', () => {
    fc.assert(
      fc.property(
        accesses(
          [
            0x00, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x16, 0x18, 0x1a, 0x1c, 0x20, 0x28, 0x30, 0x1000,
            0x2000, 0x3000, 0x3004,
          ],
          0x4000,
        ),
        (ops) => {
          const segment = new PciSegment();
          const ecam = new Ecam(segment, { endBus: 0 });
          const mem = new GuestPhysicalMemory({
            ram: [{ base: 0, size: 0x10_0000 }],
            mmio: [{ name: 'ecam', base: 0xe000_0000, size: ecam.size, handler: ecam }],
          });
          const device = new VirtioDevice(new VirtioBlk(new MemoryBlockStore(8)), mem);
          const transport = new VirtioPciTransport(device);
          segment.hotAdd(routingId(0, 1, 0), transport.function);
          mapBars(transport.function, mem, 'virtio');
          const handler = transport.function.barHandler(VirtioPciLayout.bar);
          for (const a of ops) {
            if (a.write) handler.write(a.offset, a.size, BigInt.asUintN(8 * a.size, a.value));
            else handler.read(a.offset, a.size);
            checkStatus(device.status);
          }
        },
      ),
      { numRuns: 200, seed: 0x7063 },
    );
  });
});
