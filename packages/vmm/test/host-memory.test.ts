// HostMemory joins guest RAM and the VMM's range into one host-physical space. Oracle: one
// flat GuestPhysicalMemory with the same two regions, driven by the same random operations.
import { GuestPhysicalMemory } from '@vmkit/memory';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HostMemory } from '../src/index.js';

const RAM = 0x4000;
const BASE = 0x6000;
const VMM = 0x3000;

function pair(): [HostMemory, GuestPhysicalMemory] {
  const guest = new GuestPhysicalMemory({ ram: [{ base: 0, size: RAM }] });
  const vmm = new GuestPhysicalMemory({ ram: [{ base: BASE, size: VMM }] });
  const flat = new GuestPhysicalMemory({
    ram: [
      { base: 0, size: RAM },
      { base: BASE, size: VMM },
    ],
  });
  return [new HostMemory(guest, vmm, BASE), flat];
}

// Outcome of an operation: its value, or the error's name (both must fail alike).
function outcome(f: () => unknown): unknown {
  try {
    const v = f();
    return v instanceof Uint8Array ? [...v] : v;
  } catch (e) {
    return (e as Error).name;
  }
}

const address = fc.oneof(
  fc.integer({ min: 0, max: BASE + VMM + 16 }),
  fc.integer({ min: RAM - 16, max: RAM + 16 }),
  fc.integer({ min: BASE - 16, max: BASE + 16 }),
);
const op = fc.oneof(
  fc.record({ kind: fc.constant('w32' as const), at: address, v: fc.nat(0xffff_ffff) }),
  fc.record({ kind: fc.constant('r32' as const), at: address }),
  fc.record({ kind: fc.constant('w8' as const), at: address, v: fc.nat(0xff) }),
  fc.record({ kind: fc.constant('r64' as const), at: address }),
  fc.record({
    kind: fc.constant('bytes' as const),
    at: address,
    data: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  }),
  fc.record({
    kind: fc.constant('read' as const),
    at: address,
    n: fc.integer({ min: 1, max: 40 }),
  }),
  fc.record({
    kind: fc.constant('contains' as const),
    at: address,
    n: fc.integer({ min: 1, max: 64 }),
  }),
);

describe('HostMemory', () => {
  it('behaves as one flat memory with the same regions (property)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const [host, flat] = pair();
        for (const o of ops) {
          const run = (m: HostMemory | GuestPhysicalMemory) => {
            switch (o.kind) {
              case 'w32':
                return outcome(() => m.write32(o.at, o.v));
              case 'r32':
                return outcome(() => m.read32(o.at));
              case 'w8':
                return outcome(() => m.write8(o.at, o.v));
              case 'r64':
                return outcome(() => m.read64(o.at));
              case 'bytes':
                return outcome(() => m.writeBytes(o.at, o.data));
              case 'read':
                return outcome(() => {
                  const b = new Uint8Array(o.n);
                  m.readBytes(o.at, b);
                  return b;
                });
              case 'contains':
                return m.contains(o.at, o.n);
            }
          };
          // Between the regions lies a hole, so no access can succeed across the boundary in
          // either memory: every operation must end alike, value or error.
          expect(run(host)).toEqual(run(flat));
        }
        // Whatever happened, the contents of both regions agree.
        const x = new Uint8Array(RAM);
        const y = new Uint8Array(RAM);
        host.readBytes(0, x);
        flat.readBytes(0, y);
        expect(x).toEqual(y);
      }),
      { numRuns: 60 },
    );
  });
});
