// The string-I/O test guests: string-io-guest.s and string-io-mmio.s assembled with GNU as (`as --64`, then
// `objcopy -O binary -j .text`); string-io.test.ts re-assembles the source when binutils are
// installed and checks these bytes. Offsets are the assembler's symbol table (`nm`).
import { readFileSync } from 'node:fs';
import type { PioDevice } from '../../src/index.js';

/** The guest's code and data, loaded at 0x100000. */
export const STRING_IO_GUEST = Uint8Array.from(
  Buffer.from(
    [
      '48c7c400001700488d0592010000488905ad0100000f0115a4010000488d051a010000488d1d9602000066890366c743',
      '02100066c74304008e48c1e8106689430648c1e810894308488d05910100004889057c0100000f011d7301000048c7c0',
      '03003000488904250000180048c7c003203000488904251000180048c7c0030018004889042510300000488d353f0200',
      '00b906000000baf8030000f36e488d3532020000b903000000ba0005000066f36f488d3528020000b902000000fdf36f',
      'fcbf00002000b904000000f36cb90300000066f36d6dbf42002000b903000000fdf36cfc48bf80002000efbeadde48b9',
      '020000007856341267f36cbff20f2000b905000000f36dbff00f4000b91000000066f36d488d35e5010000b9b80b0000',
      'ba10050000f36eba0005000048c7c7fe2f400048c7c1fffffffff36cf4500f20d0488905a8010000488b442408488905',
      'a401000048ff058d0100000f20d0483d001040007224483d00204000731c48c7c00310300048890425080018000f20d0',
      '0f0138584883c40848cfb842000000e7f4f466662e0f1f8400000000000f1f0000000000000000000000000000000000',
      '00000000009a200000000000009200001f000000000000000000660f1f440000ef000000000000000000660f1f440000',
      '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000',
      '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000',
      '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000',
      '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000',
      '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000',
      '68656c6c6f0a34127856bc9a44332211887766550f1f4000000000000000000000000000000000000000000000000000',
    ].join(''),
    'hex',
  ),
);

/** Offsets of the guest's data (`nm`): the #PF count, the last CR2 and error code, the pattern. */
export const GUEST_SYMBOLS = {
  faults: 0x2e8,
  lastCr2: 0x2f0,
  lastError: 0x2f8,
  pattern: 0x300,
} as const;

/** The device and page-table guest (string-io-mmio.s), loaded at 0x100000. */
export const STRING_IO_MMIO_GUEST = Uint8Array.from(
  Buffer.from(
    [
      '48c7c40000170048c7c0830000084889042500320000be10000008b904000000ba00050000f36ebf20000008b9030000',
      '0066f36d48c7c003003000488904250000180048c7c0030018004889042510300000c604250000400011bf08001800b9',
      '02000000ba20050000f36dc60425001040005a31c0e6f4',
    ].join(''),
    'hex',
  ),
);

/** The STI-shadow guest (string-io-shadow.s): 190 bytes of code and tables, zeros to 1232. */
export const STRING_IO_SHADOW_GUEST = (() => {
  const image = new Uint8Array(1232);
  image.set(
    Buffer.from(
      [
        '48c7c400001700488d05720000004889058d0000000f011584000000488d0553000000488d1d9604000066890366c743',
        '02100066c74304008e48c1e8106689430648c1e810894308488d05710000004889055c0000000f011d53000000bf0000',
        '2000b964000000ba00050000fbf36cb8ff000000e7f489c8e7f4f40f1f44000000000000000000000000000000000000',
        '00000000009a200000000000009200001f000000000000000000660f1f4400000f040000000000000000660f1f44',
      ].join(''),
      'hex',
    ),
  );
  return image;
})();

/**
 * An assembly source of this folder, for the check that the bytes above come from it.
 *
 * @param name - `string-io-guest.s`, `string-io-mmio.s` or `string-io-shadow.s`
 */
export function guestSource(name: string): string {
  return readFileSync(new URL(`./${name}`, import.meta.url), 'utf8');
}

/** Reads return the next bytes of 1, 2, 3, ... (little-endian); every access is logged. */
export function countingDevice(): PioDevice & { log: string[] } {
  let next = 1;
  const log: string[] = [];
  return {
    log,
    read(_offset, size) {
      let v = 0;
      for (let k = 0; k < size; k++) v += (next++ & 0xff) * 2 ** (8 * k);
      log.push(`r${size}`);
      return v;
    },
    write(_offset, size, value) {
      log.push(`w${size}=${value.toString(16)}`);
    },
  };
}
