// Properties of the non-root exits against @vmkit/vmx's independent definitions of the exit
// rules (ioInstructionCausesExit, msrAccessCausesExit: written from SDM Vol. 3C §26.1.3 in
// another package): for random ports, sizes, MSR indices, bitmaps and controls, the CPU exits
// exactly when the rule says, with the Table 28-5 qualification.
import {
  decodeIoQualification,
  IoBitmaps,
  ioInstructionCausesExit,
  MsrBitmap,
  msrAccessCausesExit,
  PrimaryProcessorControls as Primary,
} from '@vmkit/vmx';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { system } from './support/system.js';
import { NONE } from './support/vmx.js';

// IN/OUT with the port in DX or an immediate, 1/2/4 bytes (opcode by size).
function ioCode(isIn: boolean, immediate: boolean, size: 1 | 2 | 4, port: number): number[] {
  const prefix = size === 2 ? [0x66] : [];
  const wide = size === 1 ? 0 : 1;
  if (immediate) return [...prefix, (isIn ? 0xe4 : 0xe6) | wide, port & 0xff];
  return [...prefix, (isIn ? 0xec : 0xee) | wide];
}

describe('I/O exits against ioInstructionCausesExit', () => {
  it('exits exactly when the rule says, with the SDM qualification', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom<1 | 2 | 4>(1, 2, 4),
        fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0xfff0, max: 0xffff })),
        fc.array(fc.integer({ min: -4, max: 4 }), { maxLength: 4 }),
        fc.boolean(),
        fc.boolean(),
        (isIn, imm, size, rawPort, near, useBitmaps, unconditional) => {
          const port = imm ? rawPort & 0xff : rawPort;
          const io = new IoBitmaps();
          for (const d of near) io.trap((port + d) & 0xffff);
          const s = system(ioCode(isIn, imm, size, port));
          s.cpu.setReg('rdx', BigInt(port));
          s.cpu.vmEntry({
            ...NONE,
            primary:
              (useBitmaps ? Primary.USE_IO_BITMAPS : 0) |
              (unconditional ? Primary.UNCONDITIONAL_IO_EXITING : 0),
            ioBitmaps: io,
          });
          const stop = s.cpu.run(1);
          const expected = ioInstructionCausesExit(
            io.a,
            io.b,
            port,
            size,
            useBitmaps,
            unconditional,
          );
          expect(stop.kind).toBe(expected ? 'vm-exit' : 'io');
          if (stop.kind === 'vm-exit') {
            expect(stop.info.exitReason).toBe(30);
            expect(stop.info.instructionLength).toBe(ioCode(isIn, imm, size, port).length);
            expect(decodeIoQualification(stop.info.exitQualification)).toEqual({
              size,
              in: isIn,
              string: false,
              rep: false,
              immediate: imm,
              port,
            });
            expect(s.cpu.retired).toBe(0);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('RDMSR/WRMSR exits against msrAccessCausesExit', () => {
  it('exits exactly when the rule says', () => {
    const index = fc.oneof(
      fc.integer({ min: 0, max: 0x1fff }),
      fc.integer({ min: 0xc000_0000, max: 0xc000_1fff }),
      fc.constantFrom(0xc000_0080, 0xc000_0081, 0x277, 0x2000, 0xbfff_ffff, 0xc000_2000),
      fc.integer({ min: 0, max: 0xffff_ffff }),
    );
    fc.assert(
      fc.property(
        index,
        fc.boolean(),
        fc.boolean(),
        fc.uint8Array({ minLength: 4096, maxLength: 4096 }),
        (msr, write, useBitmaps, page) => {
          const s = system(write ? [0x0f, 0x30] : [0x0f, 0x32]);
          s.cpu.setReg('rcx', BigInt(msr));
          s.cpu.vmEntry({
            ...NONE,
            primary: useBitmaps ? Primary.USE_MSR_BITMAPS : 0,
            msrBitmap: new MsrBitmap(page),
          });
          const stop = s.cpu.run(1);
          const expected = msrAccessCausesExit(page, msr, write, useBitmaps);
          expect(stop.kind === 'vm-exit').toBe(expected);
          if (stop.kind === 'vm-exit') {
            expect(stop.info.exitReason).toBe(write ? 32 : 31);
            expect(stop.info.instructionLength).toBe(2);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
