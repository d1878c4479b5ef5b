import { describe, expect, it } from 'vitest';
import {
  BasicExitReason,
  decodeIoQualification,
  describeVmExit,
  encodeCrAccessQualification,
  encodeIoQualification,
  VmxError,
} from '../src/index.js';

describe('describeVmExit', () => {
  it('names the reason and decodes I/O and CR-access qualifications', () => {
    const io = encodeIoQualification({
      size: 1,
      in: false,
      string: false,
      rep: false,
      immediate: false,
      port: 0x3f8,
    });
    expect(describeVmExit(BasicExitReason.IO_INSTRUCTION, io)).toBe(
      'I/O instruction: OUT 0x3f8, 1 byte',
    );
    const ins = encodeIoQualification({
      size: 2,
      in: true,
      string: true,
      rep: true,
      immediate: false,
      port: 0x1f0,
    });
    expect(describeVmExit(30, BigInt(ins))).toBe('I/O instruction: INS (REP) 0x1f0, 2 bytes');
    const cr = (accessType: 0 | 1 | 2 | 3, extra = {}) =>
      encodeCrAccessQualification({
        controlRegister: 0,
        accessType,
        lmswOperandType: 0,
        generalPurposeRegister: 0,
        lmswSourceData: 0,
        ...extra,
      });
    expect(describeVmExit(28, cr(0, { controlRegister: 3 }))).toBe(
      'Control-register accesses: MOV to CR3 from RAX',
    );
    expect(describeVmExit(28, cr(1, { controlRegister: 4, generalPurposeRegister: 9 }))).toBe(
      'Control-register accesses: MOV from CR4 to R9',
    );
    expect(describeVmExit(28, cr(2))).toBe('Control-register accesses: CLTS');
    expect(describeVmExit(28, cr(3, { lmswSourceData: 1 }))).toBe(
      'Control-register accesses: LMSW 0x1',
    );
    expect(describeVmExit(12, 0)).toBe('HLT');
    expect(describeVmExit(0x8000_0021, 0)).toBe(
      'VM-entry failure: VM-entry failure due to invalid guest state',
    );
    expect(describeVmExit(35, 0)).toBe('basic exit reason 35');
  });

  it('accepts the natural-width qualification as a bigint, high bits ignored', () => {
    const io = BigInt(
      encodeIoQualification({
        size: 4,
        in: true,
        string: false,
        rep: false,
        immediate: true,
        port: 0x60,
      }),
    );
    expect(decodeIoQualification(io | (0xffffn << 40n)).port).toBe(0x60);
    expect(() => decodeIoQualification(1n << 64n)).toThrow(VmxError);
    expect(() => describeVmExit(30, -1)).toThrow(VmxError);
    expect(describeVmExit(30, 2)).toBe('I/O instruction'); // unused size encoding: name only
  });
});
