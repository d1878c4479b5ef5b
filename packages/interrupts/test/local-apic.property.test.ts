import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LocalApic, X2ApicMsr } from '../src/index.js';

/**
 * A model of the SDM Vol. 3A §11.8 rules written as sets: IRR and ISR as sets of vectors, TMR as
 * a set, PPR from TPR and the highest in-service vector, delivery when the highest request's
 * priority class exceeds PPR's, EOI ending the highest in-service vector and broadcasting it if
 * it was level-triggered.
 */
class Model {
  irr = new Set<number>();
  isr = new Set<number>();
  tmr = new Set<number>();
  tpr = 0;
  broadcasts: number[] = [];
  get ppr(): number {
    const isrv = this.isr.size === 0 ? 0 : Math.max(...this.isr);
    return (this.tpr & 0xf0) >= (isrv & 0xf0) ? this.tpr : isrv & 0xf0;
  }
  pending(): number {
    if (this.irr.size === 0) return -1;
    const v = Math.max(...this.irr);
    return (v & 0xf0) > (this.ppr & 0xf0) ? v : -1;
  }
}

const op = fc.oneof(
  fc.record({
    kind: fc.constant('accept' as const),
    vector: fc.integer({ min: 16, max: 255 }),
    level: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('ack' as const) }),
  fc.record({ kind: fc.constant('eoi' as const) }),
  fc.record({ kind: fc.constant('tpr' as const), value: fc.nat(255) }),
);

describe('local APIC priority and EOI against a set model (fast-check)', () => {
  it('agrees on IRR, ISR, TMR, PPR, the delivered vector and EOI broadcasts', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const broadcasts: number[] = [];
        const apic = new LocalApic(0, {
          broadcastEoi: (v) => broadcasts.push(v),
          sendIpi: () => {},
        });
        const m = new Model();
        for (const o of ops) {
          if (o.kind === 'accept') {
            apic.accept({
              vector: o.vector,
              destination: 0,
              destinationMode: 'physical',
              deliveryMode: 0,
              triggerMode: o.level ? 'level' : 'edge',
            });
            m.irr.add(o.vector);
            if (o.level) m.tmr.add(o.vector);
            else m.tmr.delete(o.vector);
          } else if (o.kind === 'ack') {
            const v = m.pending();
            expect(apic.acknowledge()).toBe(v);
            if (v >= 0) {
              m.irr.delete(v);
              m.isr.add(v);
            }
          } else if (o.kind === 'eoi') {
            apic.writeMsr(X2ApicMsr.EOI, 0n);
            if (m.isr.size > 0) {
              const v = Math.max(...m.isr);
              m.isr.delete(v);
              if (m.tmr.has(v)) m.broadcasts.push(v);
            }
          } else {
            apic.writeMsr(X2ApicMsr.TPR, BigInt(o.value));
            m.tpr = o.value;
          }
          expect(Number(apic.readMsr(X2ApicMsr.PPR))).toBe(m.ppr);
          expect(apic.pendingVector()).toBe(m.pending());
        }
        for (let v = 0; v < 256; v++) {
          expect(apic.isRequested(v)).toBe(m.irr.has(v));
          expect(apic.isInService(v)).toBe(m.isr.has(v));
        }
        expect(broadcasts).toEqual(m.broadcasts);
      }),
      { numRuns: 200 },
    );
  });
});
