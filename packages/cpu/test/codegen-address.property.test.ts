// The inline address arithmetic of compiled blocks (codegen-address.ts) against the general
// effectiveAddress/LEA handlers it replaces (which the host-CPU differential tests check):
// the same linear address, or the same fault (#GP(0), or #SS(0) through RSP/RBP), for random
// register values around the canonical boundaries and random addressing forms.

import { GuestPhysicalMemory } from '@vmkit/memory';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressSource, canonicalSum, leaSource } from '../src/codegen-address.js';
import { Cpu } from '../src/cpu.js';
import { decode } from '../src/decoder/decode.js';
import { lea } from '../src/exec/mov.js';
import { effectiveAddress } from '../src/exec/operands.js';
import { CpuFault } from '../src/fault.js';
import { FlatMemory } from '../src/index.js';

// High halves near the edges of the canonical range and a few ordinary ones.
const half = fc.oneof(
  fc.constantFrom(0, 1, 0x7fff, 0x8000, 0xffff7fff, 0xffff8000, 0xfffffffe, 0xffffffff),
  fc.integer({ min: 0, max: 0xffffffff }),
);
const low = fc.oneof(
  fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff),
  fc.integer({ min: 0, max: 0xffffffff }),
);

// MOV r64, [base + index * 2^scale + disp32] or LEA, with optional 67h and FS prefixes.
const form: fc.Arbitrary<Form> = fc.record({
  lea: fc.boolean(),
  w: fc.boolean(),
  base: fc.integer({ min: 0, max: 15 }),
  // 4 without REX.X means no index.
  index: fc.integer({ min: 0, max: 15 }),
  scale: fc.integer({ min: 0, max: 3 }),
  disp: fc.oneof(
    fc.constantFrom(0, -1, 0x7fffffff, -0x80000000),
    fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  ),
  noSib: fc.boolean(),
  rip: fc.boolean(),
  // Rarer: these keep the general path.
  asize32: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
  fs: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
});

interface Form {
  lea: boolean;
  w: boolean;
  base: number;
  index: number;
  scale: number;
  disp: number;
  noSib: boolean;
  rip: boolean;
  asize32: boolean;
  fs: boolean;
}

function encode(f: Form): number[] {
  const bytes: number[] = [];
  if (f.fs) bytes.push(0x64);
  if (f.asize32) bytes.push(0x67);
  const rex = 0x40 | (f.w ? 8 : 0) | (f.index >= 8 ? 2 : 0) | (f.base >= 8 ? 1 : 0);
  bytes.push(rex, f.lea ? 0x8d : 0x8b);
  const d = f.disp >>> 0;
  const disp = [d & 0xff, (d >>> 8) & 0xff, (d >>> 16) & 0xff, d >>> 24];
  if (f.rip) {
    bytes.push(0x05, ...disp); // mod 00, rm 101: RIP + disp32
  } else if (f.noSib && (f.base & 7) !== 4) {
    bytes.push(0x80 | (f.base & 7), ...disp); // mod 10: base + disp32
  } else {
    bytes.push(0x84, (f.scale << 6) | ((f.index & 7) << 3) | (f.base & 7), ...disp);
  }
  return bytes;
}

function outcome(run: () => number): number | string {
  try {
    return run();
  } catch (e) {
    if (e instanceof CpuFault) return `fault ${e.vector}/${e.errorCode}`;
    throw e;
  }
}

describe('inline effective addresses', () => {
  it('compute what effectiveAddress and the LEA handler compute (property)', () => {
    const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 1 << 16 }] });
    const cpu = new Cpu({ memory: new FlatMemory(mem) });
    let inlined = 0;
    fc.assert(
      fc.property(
        form,
        fc.array(fc.tuple(low, half), { minLength: 16, maxLength: 16 }),
        fc.integer({ min: -(2 ** 47), max: 2 ** 47 - 16 }),
        (f, regs, rip) => {
          const bytes = encode(f);
          const ins = decode((i) => bytes[i]!);
          regs.forEach(([lo, hi], r) => {
            cpu.lo[r] = lo;
            cpu.hi[r] = hi;
          });
          cpu.ripValue = rip;
          if (f.lea) {
            const source = leaSource(ins);
            if (source === undefined) return;
            inlined++;
            const L = Uint32Array.from(cpu.lo);
            const H = Uint32Array.from(cpu.hi);
            new Function('L', 'H', source)(L, H);
            lea(cpu, ins);
            expect([L[ins.reg], H[ins.reg]]).toEqual([cpu.lo[ins.reg], cpu.hi[ins.reg]]);
            return;
          }
          const source = addressSource(ins, rip);
          if (f.asize32 || f.fs) expect(source).toBeUndefined();
          if (source === undefined) return;
          inlined++;
          const evaluate = new Function('L', 'H', 'CANON', `return ${source};`);
          const got = outcome(() => evaluate(cpu.lo, cpu.hi, canonicalSum));
          const want = outcome(() => effectiveAddress(cpu, ins));
          expect(got).toEqual(want);
        },
      ),
      { numRuns: 3000 },
    );
    // Most generated forms take the inline path.
    expect(inlined).toBeGreaterThan(1000);
  });
});
