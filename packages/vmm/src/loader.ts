import { bootProtocol, type ElfImage, GuestError, parseElfImage } from '@vmkit/guest';
import type { GuestPhysicalMemory } from '@vmkit/memory';
import { VmmError } from './errors.js';

/**
 * Parses `bytes` as a boot-protocol image and checks that every PT_LOAD segment fits guest RAM
 * at or above 1 MiB and the entry point lies inside a loaded segment.
 *
 * @param bytes - the ELF file
 * @param ramSize - guest RAM in bytes (RAM starts at guest-physical 0)
 * @returns the parsed image
 * @throws VmmError `BAD_IMAGE` for anything that is not such an image
 */
export function checkImage(bytes: Uint8Array, ramSize: number): ElfImage {
  let image: ElfImage;
  try {
    image = parseElfImage(bytes);
  } catch (e) {
    if (e instanceof GuestError) throw new VmmError('BAD_IMAGE', e.message, { cause: e });
    throw e;
  }
  for (const [i, s] of image.segments.entries()) {
    // Boot protocol "Image": every p_paddr at or above 1 MiB; below belongs to the VMM.
    if (s.physicalAddress < bootProtocol.kernelLoadAddress)
      throw new VmmError(
        'BAD_IMAGE',
        `segment ${i} at 0x${s.physicalAddress.toString(16)} is below 1 MiB`,
      );
    if (s.memorySize > ramSize || s.physicalAddress > ramSize - s.memorySize)
      throw new VmmError('BAD_IMAGE', `segment ${i} does not fit ${ramSize} bytes of RAM`);
  }
  const inside = image.segments.some(
    (s) => image.entry >= s.physicalAddress && image.entry < s.physicalAddress + s.memorySize,
  );
  if (!inside)
    throw new VmmError('BAD_IMAGE', `entry 0x${image.entry.toString(16)} is in no segment`);
  return image;
}

/**
 * Copies each segment's file bytes to its physical address. The rest up to `p_memsz` is left
 * as it is: the VMM loads into fresh, zero-filled RAM, which the protocol requires anyway.
 *
 * @param mem - guest memory (fresh)
 * @param image - an image that passed {@link checkImage}
 */
export function loadImage(mem: GuestPhysicalMemory, image: ElfImage): void {
  for (const s of image.segments) mem.writeBytes(s.physicalAddress, s.data);
}
