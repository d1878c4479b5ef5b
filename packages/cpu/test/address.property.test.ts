// Effective addresses against a bigint model (SDM Vol. 1 §3.7.5, §3.3.7.1): base + index *
// scale + disp modulo 2^64 (2^32 with 67h), plus the FS/GS base, then the canonical check;
// LEA gets the same sum without segment or check, truncated to the operand size. The native
// differential test covers addresses that land in mapped memory; this covers the wrap-around
// and non-canonical values no process can map.
import { Vector } from '@vmkit/x86';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { effectiveAddress } from '../src/exec/operands.js';
import { CpuFault, decode } from '../src/index.js';
import { machine } from './support/machine.js';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const near = fc.bigInt({ min: -(1n << 48n), max: 1n << 48n }).map((v) => BigInt.asUintN(64, v));
const value = fc.oneof(u64, near);
const canonicalBase = fc
  .bigInt({ min: -(1n << 47n), max: (1n << 47n) - 1n })
  .map((v) => BigInt.asUintN(64, v));

function encode(scale: number, disp: number, a32: boolean, seg: number): number[] {
  // mov rax, [rbx + rcx * 2^scale + disp32]  (or lea with opcode 8d)
  const d = disp >>> 0;
  return [
    ...(seg ? [seg] : []),
    ...(a32 ? [0x67] : []),
    0x48,
    0x8b,
    0x84,
    (scale << 6) | (1 << 3) | 3,
    d & 0xff,
    (d >>> 8) & 0xff,
    (d >>> 16) & 0xff,
    d >>> 24,
  ];
}

it('computes memory addresses modulo 2^64 and faults exactly on non-canonical ones', () => {
  fc.assert(
    fc.property(
      value,
      value,
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.boolean(),
      fc.constantFrom(0, 0x64, 0x65),
      canonicalBase,
      (base, index, scale, disp, a32, seg, segBase) => {
        const { cpu } = machine([0x90]);
        cpu.setReg('rbx', base);
        cpu.setReg('rcx', index);
        cpu.fsBase = segBase;
        cpu.gsBase = segBase;
        const bytes = encode(scale, disp, a32, seg);
        const ins = decode((i) => bytes[i]!);
        let ea = base + (index << BigInt(scale)) + BigInt(disp);
        ea = a32 ? BigInt.asUintN(32, ea) : BigInt.asUintN(64, ea);
        if (seg !== 0) ea = BigInt.asUintN(64, ea + segBase);
        const signed = BigInt.asIntN(64, ea);
        const canonical = signed >= -(1n << 47n) && signed < 1n << 47n;
        if (canonical) {
          expect(effectiveAddress(cpu, ins)).toBe(Number(signed));
        } else {
          expect(() => effectiveAddress(cpu, ins)).toThrow(CpuFault);
          try {
            effectiveAddress(cpu, ins);
          } catch (e) {
            expect((e as CpuFault).vector).toBe(Vector.GP);
          }
        }
      },
    ),
    { numRuns: 3000 },
  );
});

it('LEA computes the same sum without segment base or canonical check', () => {
  fc.assert(
    fc.property(
      value,
      value,
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.boolean(),
      fc.constantFrom(2, 4, 8),
      (base, index, scale, disp, a32, size) => {
        const bytes = encode(scale, disp, a32, 0);
        bytes[bytes.indexOf(0x8b)] = 0x8d;
        if (size !== 8) bytes.splice(bytes.indexOf(0x48), 1, ...(size === 2 ? [0x66] : []));
        const { cpu } = machine([...bytes, 0xf4]);
        cpu.setReg('rax', 0xdead_beef_dead_beefn);
        cpu.setReg('rbx', base);
        cpu.setReg('rcx', index);
        expect(cpu.run(10)).toEqual({ kind: 'hlt' });
        let ea = base + (index << BigInt(scale)) + BigInt(disp);
        ea = a32 ? BigInt.asUintN(32, ea) : BigInt.asUintN(64, ea);
        const expected =
          size === 8
            ? ea
            : size === 4
              ? BigInt.asUintN(32, ea)
              : (0xdead_beef_dead_beefn & ~0xffffn) | BigInt.asUintN(16, ea);
        expect(cpu.getReg('rax')).toBe(expected);
      },
    ),
    { numRuns: 2000 },
  );
});
