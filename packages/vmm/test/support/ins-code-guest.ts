// The INS-over-code guest: ins-code-guest.s assembled with GNU as (`as --64`, then
// `objcopy -O binary -j .text`); ins-code.test.ts re-assembles the source when binutils are
// installed and checks these bytes. `routine` is at 0x1000 (`nm`), on its own page.
import { readFileSync } from 'node:fs';

/** Offset of `routine` in the image (its `mov eax, imm32` immediate is at +1). */
export const ROUTINE = 0x1000;

/** The guest's code, loaded at 0x100000: the main program, zeros, `routine` at 0x1000. */
export const INS_CODE_GUEST = (() => {
  const image = new Uint8Array(ROUTINE + 6);
  image.set(
    Buffer.from(
      '48c7c400001700e8f40f000089c3488d3dec0f0000b904000000ba30050000f36ce8da0f000089c631c0e6f4',
      'hex',
    ),
  );
  image.set(Buffer.from('b811111111c3', 'hex'), ROUTINE); // mov eax, 0x11111111; ret
  return image;
})();

/** The assembly source of {@link INS_CODE_GUEST}. */
export function insCodeSource(): string {
  return readFileSync(new URL('./ins-code-guest.s', import.meta.url), 'utf8');
}
