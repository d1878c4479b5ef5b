// Properties of event delivery (SDM Vol. 3A §6.14): delivery followed by IRETQ restores the
// interrupted user state exactly, and the frame is pushed at the 16-byte-aligned stack with
// the old RSP in it, for random registers, flags, stack pointers and vectors.
import { RFLAGS, Vector } from '@vmkit/x86';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { GPR_NAMES } from '../src/index.js';
import {
  frame,
  handlerOf,
  KERNEL_CODE,
  RSP0,
  setGate,
  system,
  USER_CODE,
  USER_CS,
  USER_SS,
} from './support/system.js';

// Flags a CPL 0 IRETQ restores (TF excluded: it would single-step).
const FLAGS =
  RFLAGS.CF |
  RFLAGS.PF |
  RFLAGS.AF |
  RFLAGS.ZF |
  RFLAGS.SF |
  RFLAGS.IF |
  RFLAGS.DF |
  RFLAGS.OF |
  RFLAGS.IOPL |
  RFLAGS.AC;

it('INT n from CPL 3 then IRETQ restores every register, RFLAGS, RSP, CS and SS', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 32, max: 255 }),
      fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { minLength: 16, maxLength: 16 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0x41000, max: 0x4ff00 }),
      (vector, regs, flags, rsp) => {
        const s = system([0xcd, vector], 3);
        setGate(s.mem, vector, KERNEL_CODE + 0x800, { dpl: 3 });
        s.mem.writeBytes(KERNEL_CODE + 0x800, Uint8Array.of(0x48, 0xcf));
        GPR_NAMES.forEach((n, i) => {
          s.cpu.setReg(n, regs[i]!);
        });
        s.cpu.setReg('rsp', BigInt(rsp));
        const rflags = BigInt(((flags & FLAGS) | RFLAGS.FIXED1) >>> 0);
        s.cpu.rflags = rflags;
        expect(s.cpu.run(1)).toEqual({ kind: 'budget' });
        expect(s.cpu.getReg('rsp')).toBe(BigInt(RSP0 - 40));
        expect(frame(s, 5)).toEqual([
          BigInt(USER_CODE + 2),
          BigInt(USER_CS),
          rflags,
          BigInt(rsp),
          BigInt(USER_SS),
        ]);
        expect(s.cpu.run(1)).toEqual({ kind: 'budget' });
        expect(s.cpu.rip).toBe(BigInt(USER_CODE + 2));
        expect(s.cpu.rflags).toBe(rflags);
        expect([s.cpu.cpl, s.cpu.cs, s.cpu.ss]).toEqual([3, USER_CS, USER_SS]);
        GPR_NAMES.forEach((n, i) => {
          expect(s.cpu.getReg(n)).toBe(n === 'rsp' ? BigInt(rsp) : regs[i]);
        });
      },
    ),
    { numRuns: 300 },
  );
});

it('a CPL 0 fault pushes its frame below RSP aligned down to 16, with the old RSP', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0x41000, max: 0x6ff00 }), fc.boolean(), (rsp, withCode) => {
      // A load from the non-canonical 0x8000_0000_0000 raises #GP(0) (an error code); UD2
      // raises #UD (none).
      const code = withCode ? [0x48, 0xa1, 0, 0, 0, 0, 0, 0x80, 0, 0] : [0x0f, 0x0b];
      const s = system(code);
      s.cpu.setReg('rsp', BigInt(rsp));
      expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
      const words = withCode ? 6 : 5;
      expect(s.cpu.getReg('rsp')).toBe(BigInt(rsp - (rsp % 16) - 8 * words));
      const f = frame(s, words);
      expect(f[words - 2]).toBe(BigInt(rsp));
      expect(f[withCode ? 1 : 0]).toBe(BigInt(KERNEL_CODE));
      expect(s.cpu.rip).toBe(BigInt(handlerOf(withCode ? Vector.GP : Vector.UD) + 1));
    }),
    { numRuns: 200 },
  );
});
