import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cltsCausesExit,
  controlRegisterAfterWrite,
  guestReadsControlRegister,
  lmswCausesExit,
  movToControlRegisterCausesExit,
  movToCr3CausesExit,
  VmxError,
} from '../src/index.js';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const bit = (v: bigint, n: number) => (v >> BigInt(n)) & 1n;

describe('CR0/CR4 guest/host masks and read shadows (SDM Vol. 3C §25.6.6, §26.3)', () => {
  it('host-owned bits read from the shadow, guest-owned bits from the register', () => {
    fc.assert(
      fc.property(u64, u64, u64, (mask, shadow, actual) => {
        const read = guestReadsControlRegister(mask, shadow, actual);
        for (let n = 0; n < 64; n++) {
          expect(bit(read, n)).toBe(bit(mask, n) === 1n ? bit(shadow, n) : bit(actual, n));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('MOV to CR exits exactly when some host-owned bit differs from the shadow', () => {
    fc.assert(
      fc.property(u64, u64, u64, (mask, shadow, source) => {
        let differs = false;
        for (let n = 0; n < 64; n++)
          if (bit(mask, n) === 1n && bit(source, n) !== bit(shadow, n)) differs = true;
        expect(movToControlRegisterCausesExit(mask, shadow, source)).toBe(differs);
        // writing back what the guest reads never exits
        expect(
          movToControlRegisterCausesExit(
            mask,
            shadow,
            guestReadsControlRegister(mask, shadow, source),
          ),
        ).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('a write that does not exit keeps host-owned bits and takes the rest', () => {
    fc.assert(
      fc.property(u64, u64, u64, (mask, current, written) => {
        const after = controlRegisterAfterWrite(mask, current, written);
        for (let n = 0; n < 64; n++) {
          expect(bit(after, n)).toBe(bit(mask, n) === 1n ? bit(current, n) : bit(written, n));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('CLTS exits when TS is set in both the mask and the shadow', () => {
    for (const m of [0n, 8n])
      for (const s of [0n, 8n]) expect(cltsCausesExit(m | 1n, s)).toBe(m === 8n && s === 8n);
  });

  it('LMSW exits per the two SDM conditions, for every low nibble', () => {
    for (let mask = 0; mask < 16; mask++) {
      for (let shadow = 0; shadow < 16; shadow++) {
        for (let source = 0; source < 16; source++) {
          // (a) PE set in mask and source, clear in the shadow
          const a = (mask & 1) === 1 && (source & 1) === 1 && (shadow & 1) === 0;
          // (b) any of bits 3:1 set in the mask with source and shadow differing there
          let b = false;
          for (let n = 1; n <= 3; n++)
            if (((mask >> n) & 1) === 1 && ((source >> n) & 1) !== ((shadow >> n) & 1)) b = true;
          expect(lmswCausesExit(BigInt(mask), BigInt(shadow), source | 0xfff0)).toBe(a || b);
        }
      }
    }
    expect(() => lmswCausesExit(0n, 0n, 0x1_0000)).toThrow(VmxError);
  });

  it('MOV to CR3 exits unless the value is one of the first count targets', () => {
    const targets = [0x1000n, 0x2000n, 0x3000n, 0x4000n];
    expect(movToCr3CausesExit(false, targets, 0, 0x9000n)).toBe(false);
    expect(movToCr3CausesExit(true, targets, 4, 0x4000n)).toBe(false);
    expect(movToCr3CausesExit(true, targets, 3, 0x4000n)).toBe(true);
    expect(movToCr3CausesExit(true, targets, 0, 0x1000n)).toBe(true);
    expect(() => movToCr3CausesExit(true, targets, 5, 0n)).toThrow(VmxError);
  });

  it('refuses values outside 64 bits', () => {
    expect(() => guestReadsControlRegister(1n << 64n, 0n, 0n)).toThrow(VmxError);
    expect(() => movToControlRegisterCausesExit(0n, -1n, 0n)).toThrow(VmxError);
  });
});
