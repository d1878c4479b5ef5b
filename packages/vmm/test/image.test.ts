import { readFileSync } from 'node:fs';
import { guestImagePath } from '@vmkit/guest';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Vm } from '../src/index.js';
import { codeOf, elf } from './support/elf.js';

// mov dx, 0x3f8; mov al, 'O'; out dx, al; mov al, 'K'; out dx, al; mov eax, 42; out 0xf4, eax
const OK_PROGRAM = Uint8Array.from([
  0x66, 0xba, 0xf8, 0x03, 0xb0, 0x4f, 0xee, 0xb0, 0x4b, 0xee, 0xb8, 0x2a, 0, 0, 0, 0xe7, 0xf4,
]);

describe('images', () => {
  it('boots a hand-made image: its UART bytes and exit status', () => {
    const r = new Vm({ image: elf(OK_PROGRAM), memoryMiB: 4 }).run();
    expect(r).toMatchObject({ end: 'exit', status: 42, console: 'OK', instructions: 7 });
    expect(r.exits).toEqual({ io: 3, msr: 0, hlt: 0, exceptions: 0, vmcall: 0 });
  });

  it('ends as idle on HLT with interrupts disabled', () => {
    const r = new Vm({ image: elf(Uint8Array.from([0xf4])), memoryMiB: 4 }).run();
    expect(r.end).toBe('idle');
    expect(r.exits.hlt).toBe(1);
  });

  it('refuses bad images with BAD_IMAGE', () => {
    expect(codeOf(() => new Vm({ image: new Uint8Array(16) }))).toBe('BAD_IMAGE');
    expect(codeOf(() => new Vm({ image: elf(OK_PROGRAM, { paddr: 0x8000 }) }))).toBe('BAD_IMAGE');
    expect(
      codeOf(
        () => new Vm({ image: elf(OK_PROGRAM, { paddr: 0x3f_f000, memsz: 0x2000 }), memoryMiB: 4 }),
      ),
    ).toBe('BAD_IMAGE');
    expect(codeOf(() => new Vm({ image: elf(OK_PROGRAM, { entry: 0x20_0000 }) }))).toBe(
      'BAD_IMAGE',
    );
    const notExec = elf(OK_PROGRAM);
    notExec[16] = 3; // ET_DYN
    expect(codeOf(() => new Vm({ image: notExec }))).toBe('BAD_IMAGE');
  });

  it('refuses bad configurations with BAD_CONFIG', () => {
    const image = elf(OK_PROGRAM);
    expect(codeOf(() => new Vm({ image, memoryMiB: 2 }))).toBe('BAD_CONFIG');
    expect(codeOf(() => new Vm({ image, memoryMiB: 1.5 }))).toBe('BAD_CONFIG');
    expect(codeOf(() => new Vm({ image, command: 'a\nb' }))).toBe('BAD_CONFIG');
    expect(codeOf(() => new Vm({ image, command: 'x'.repeat(1024) }))).toBe('BAD_CONFIG');
    expect(codeOf(() => new Vm({ image, timerQuantum: 0 }))).toBe('BAD_CONFIG');
    expect(codeOf(() => new Vm({ image }).run({ maxInstructions: -1 }))).toBe('BAD_RUN');
  });

  it('truncated or byte-flipped kernel images either load or give BAD_IMAGE, never another error', () => {
    const kernel = new Uint8Array(readFileSync(guestImagePath));
    fc.assert(
      fc.property(
        fc.option(fc.nat({ max: kernel.length - 1 }), { freq: 2 }),
        fc.array(fc.tuple(fc.nat({ max: 511 }), fc.integer({ min: 1, max: 255 })), {
          maxLength: 4,
        }),
        (cut, flips) => {
          // null: the whole image with byte flips in its headers; otherwise a truncation.
          const bytes = kernel.slice(0, cut ?? kernel.length);
          for (const [at, x] of flips) if (at < bytes.length) bytes[at] = (bytes[at] ?? 0) ^ x;
          const code = codeOf(() => new Vm({ image: bytes, memoryMiB: 16 }));
          expect(code === undefined || code === 'BAD_IMAGE').toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});
