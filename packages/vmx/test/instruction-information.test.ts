import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AddressSize,
  DescriptorTableInstruction,
  decodeDescriptorTableInfo,
  decodeInvalidationInfo,
  decodeMemoryOperandInfo,
  decodeRandomInfo,
  decodeSegmentTableInfo,
  decodeStringIoInfo,
  decodeVmreadVmwriteInfo,
  encodeDescriptorTableInfo,
  encodeInvalidationInfo,
  encodeMemoryOperandInfo,
  encodeRandomInfo,
  encodeSegmentTableInfo,
  encodeStringIoInfo,
  encodeVmreadVmwriteInfo,
  SegmentRegister,
  SegmentTableInstruction,
  VmxError,
} from '../src/index.js';
import { bitsOf, checkLayout } from './layout.js';
import {
  INFO_DESCRIPTOR_TABLE,
  INFO_INVALIDATION,
  INFO_RANDOM,
  INFO_SEGMENT_TABLE,
  INFO_STRING_IO,
  INFO_VMREAD_VMWRITE,
  INFO_VMX_MEMORY,
  type Layout,
} from './sdm-tables.js';

const RUNS = { numRuns: 300 };
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });

/** Builds a zero value and an arbitrary for a layout, from the layout alone. */
function fromLayout(layout: Layout, flags: readonly string[]) {
  const zero: Record<string, number | boolean> = {};
  const fields: Record<string, fc.Arbitrary<number | boolean>> = {};
  for (const [name, lo, hi] of layout) {
    zero[name] = flags.includes(name) ? false : 0;
    fields[name] = flags.includes(name)
      ? fc.boolean()
      : fc.integer({ min: 0, max: 2 ** (hi - lo + 1) - 1 });
  }
  return { zero, arb: fc.record(fields) };
}

const cases: ReadonlyArray<{
  name: string;
  layout: Layout;
  flags: readonly string[];
  encode: (v: never) => number;
  decode: (v: number) => object;
}> = [
  {
    name: 'INVEPT/INVPCID/INVVPID',
    layout: INFO_INVALIDATION,
    flags: ['indexInvalid', 'baseInvalid'],
    encode: encodeInvalidationInfo,
    decode: decodeInvalidationInfo,
  },
  {
    name: 'LIDT/LGDT/SIDT/SGDT',
    layout: INFO_DESCRIPTOR_TABLE,
    flags: ['indexInvalid', 'baseInvalid', 'operandSize32'],
    encode: encodeDescriptorTableInfo,
    decode: decodeDescriptorTableInfo,
  },
  {
    name: 'LLDT/LTR/SLDT/STR',
    layout: INFO_SEGMENT_TABLE,
    flags: ['indexInvalid', 'baseInvalid', 'register'],
    encode: encodeSegmentTableInfo,
    decode: decodeSegmentTableInfo,
  },
  {
    name: 'INS/OUTS',
    layout: INFO_STRING_IO,
    flags: [],
    encode: encodeStringIoInfo,
    decode: decodeStringIoInfo,
  },
  {
    name: 'RDRAND/RDSEED',
    layout: INFO_RANDOM,
    flags: [],
    encode: encodeRandomInfo,
    decode: decodeRandomInfo,
  },
  {
    name: 'VMCLEAR/VMPTRLD/VMPTRST/VMXON/XRSTORS/XSAVES',
    layout: INFO_VMX_MEMORY,
    flags: ['indexInvalid', 'baseInvalid'],
    encode: encodeMemoryOperandInfo,
    decode: decodeMemoryOperandInfo,
  },
  {
    name: 'VMREAD/VMWRITE',
    layout: INFO_VMREAD_VMWRITE,
    flags: ['indexInvalid', 'baseInvalid', 'register'],
    encode: encodeVmreadVmwriteInfo,
    decode: decodeVmreadVmwriteInfo,
  },
];

describe('VM-exit instruction-information field (SDM Vol. 3C §28.2.5)', () => {
  for (const c of cases) {
    describe(c.name, () => {
      const { zero, arb } = fromLayout(c.layout, c.flags);
      const encode = c.encode as (v: object) => number;
      const defined = c.layout.reduce((m, [, lo, hi]) => (m | bitsOf(lo, hi)) >>> 0, 0);

      it('places every field where the SDM table says', () => {
        checkLayout(c.layout, zero, encode);
        expect(Object.keys(c.decode(0)).sort()).toEqual(c.layout.map(([n]) => n).sort());
      });

      it('round-trips typed values', () => {
        fc.assert(
          fc.property(arb, (v) => {
            expect(c.decode(encode(v))).toEqual(v);
          }),
          RUNS,
        );
      });

      it('round-trips raw values on the defined bits', () => {
        fc.assert(
          fc.property(u32, (v) => {
            expect(encode(c.decode(v))).toBe((v & defined) >>> 0);
          }),
          RUNS,
        );
      });

      it('refuses a field one past its width', () => {
        for (const [name, lo, hi] of c.layout) {
          if (c.flags.includes(name)) continue;
          expect(() => encode({ ...zero, [name]: 2 ** (hi - lo + 1) })).toThrow(VmxError);
        }
      });
    });
  }

  it('names the encodings as the SDM does', () => {
    expect(AddressSize).toEqual({ BITS_16: 0, BITS_32: 1, BITS_64: 2 });
    expect(SegmentRegister).toEqual({ ES: 0, CS: 1, SS: 2, DS: 3, FS: 4, GS: 5 });
    expect(DescriptorTableInstruction).toEqual({ SGDT: 0, SIDT: 1, LGDT: 2, LIDT: 3 });
    expect(SegmentTableInstruction).toEqual({ SLDT: 0, STR: 1, LLDT: 2, LTR: 3 });
  });

  it('encodes INVPCID RAX, [RBX] in 64-bit mode', () => {
    const info = {
      scaling: 0,
      addressSize: AddressSize.BITS_64,
      segment: SegmentRegister.DS,
      indexRegister: 0,
      indexInvalid: true,
      baseRegister: 3,
      baseInvalid: false,
      reg2: 0,
    };
    // address size 2 << 7, DS 3 << 15, index invalid 1 << 22, base RBX 3 << 23
    expect(encodeInvalidationInfo(info)).toBe(0x100 | 0x1_8000 | 0x40_0000 | 0x180_0000);
  });
});
