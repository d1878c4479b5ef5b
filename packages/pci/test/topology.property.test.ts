import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ecam, PciError, PciFunction, PciSegment } from '../src/index.js';

const make = (id: number) => new PciFunction({ vendorId: 0x1af4, deviceId: id, classCode: 0 });

describe('PciSegment against a map model (fast-check)', () => {
  it('hot-add and removal sequences keep config reads consistent with a model', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), rid: fc.nat(0x3ff) }),
      fc.record({ kind: fc.constant('remove' as const), rid: fc.nat(0x3ff) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const seg = new PciSegment();
        const model = new Map<number, number>();
        let next = 1;
        for (const { kind, rid } of ops) {
          if (kind === 'add') {
            const taken = model.has(rid);
            const fn = make(next);
            if (taken) expect(() => seg.hotAdd(rid, fn)).toThrow(PciError);
            else {
              seg.hotAdd(rid, fn);
              model.set(rid, next);
            }
            next++;
          } else if (model.has(rid)) {
            seg.remove(rid);
            model.delete(rid);
          } else {
            expect(() => seg.remove(rid)).toThrow(PciError);
          }
        }
        expect(seg.routingIds()).toEqual([...model.keys()].sort((a, b) => a - b));
        for (let rid = 0; rid < 0x400; rid += 7) {
          const id = model.get(rid);
          expect(seg.configRead(rid, 0, 4)).toBe(
            id === undefined ? 0xffff_ffff : ((id << 16) | 0x1af4) >>> 0,
          );
        }
      }),
      { numRuns: 100 },
    );
  });

  it('ECAM decodes every (bus, device, function, register) as the segment does', () => {
    const seg = new PciSegment();
    const placed = [0x0000, 0x0018, 0x0107, 0x03ff, 0xff00];
    for (const [i, rid] of placed.entries()) seg.hotAdd(rid, make(i + 1));
    const ecam = new Ecam(seg);
    fc.assert(
      fc.property(
        fc.nat(255),
        fc.nat(31),
        fc.nat(7),
        fc.nat(1023),
        fc.constantFrom<1 | 2 | 4>(1, 2, 4),
        (bus, dev, fn, dw, size) => {
          const rid = (bus << 8) | (dev << 3) | fn;
          const reg = dw * 4 + (size === 4 ? 0 : size === 2 ? 2 : 3);
          const offset = (bus << 20) | (dev << 15) | (fn << 12) | reg;
          expect(Number(ecam.read(offset, size))).toBe(seg.configRead(rid, reg, size));
        },
      ),
      { numRuns: 500 },
    );
  });
});
