// The branch predictor trained from block exits (the run loop reports a closing Jcc's outcome
// by where the block left RIP, and a looping block's passes in one batch) against the
// independent bimodal model of support/retired-oracle.ts, outcome by outcome.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BranchPredictor } from '../src/index.js';
import { machine } from './support/machine.js';
import { ModelPredictor } from './support/retired-oracle.js';

describe('BranchPredictor batch and bit updates', () => {
  it('updateTaken(a, k) equals k taken updates, and updateBit equals update', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(7), fc.oneof(fc.constant(-1), fc.constant(-2), fc.nat(6))), {
          maxLength: 40,
        }),
        (steps) => {
          const a = new BranchPredictor(4);
          const b = new BranchPredictor(4);
          const model = new ModelPredictor(4);
          for (const [address, what] of steps) {
            if (what === -1 || what === -2) {
              a.updateBit(address, what === -1 ? 1 : 0);
              b.update(address, what === -1);
              model.outcome(address, what === -1);
            } else {
              a.updateTaken(address, what);
              for (let k = 0; k < what; k++) {
                b.update(address, true);
                model.outcome(address, true);
              }
            }
            expect(Array.from(a.counters)).toEqual(Array.from(b.counters));
            expect([a.branches, a.mispredictions]).toEqual([model.branches, model.mispredictions]);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('predictor outcomes from block exits', () => {
  // mov ecx, n; L: test cl, 1; jz +0; dec ecx; jnz L; hlt: a Jcc to its own next instruction
  // (taken and not taken leave the same RIP, so it trains the predictor inline) and a loop.
  const code = (n: number) => [
    0xb9,
    n,
    0,
    0,
    0,
    0xf6,
    0xc1,
    0x01,
    0x74,
    0x00,
    0xff,
    0xc9,
    0x75,
    0xf7,
    0xf4,
  ];
  const expected = (n: number) => {
    const model = new ModelPredictor(4096);
    for (let c = n; c > 0; c--) {
      model.outcome(0x1008, (c & 1) === 0);
      model.outcome(0x100c, c - 1 !== 0);
    }
    return model;
  };

  it('a Jcc to its next instruction and a loop, in one run and split into random budgets', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 30 }),
        (n, budgets) => {
          const model = expected(n);
          const { cpu: whole } = machine(code(n));
          whole.run(10_000);
          expect(whole.predictor.branches).toBe(model.branches);
          expect(whole.predictor.mispredictions).toBe(model.mispredictions);
          const { cpu: split } = machine(code(n));
          let k = 0;
          while (split.run(budgets[k++ % budgets.length]!).kind !== 'hlt') {
            // At every stop the counts never exceed the whole run's.
            expect(split.predictor.branches).toBeLessThanOrEqual(model.branches);
          }
          expect(split.predictor.branches).toBe(model.branches);
          expect(split.predictor.mispredictions).toBe(model.mispredictions);
        },
      ),
      { numRuns: 60 },
    );
  });
});
