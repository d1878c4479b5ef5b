import { GuestError } from './errors.js';

/** One PT_LOAD segment of a guest image, as a VMM loads it (at `physicalAddress`). */
export interface LoadSegment {
  /** p_paddr: where the VMM copies the bytes. */
  physicalAddress: number;
  /** p_vaddr: where the code expects to run (differs from p_paddr for the user programs). */
  virtualAddress: number;
  /** p_filesz bytes from the file, a view into the image. */
  data: Uint8Array;
  /** p_memsz: the bytes after `data.length` up to this size are zero-filled. */
  memorySize: number;
  /** p_flags: 1 execute, 2 write, 4 read. */
  flags: number;
}

/** A parsed guest image: its entry point and what to load where. */
export interface ElfImage {
  /** e_entry: guest-physical = virtual address where every vCPU starts. */
  entry: number;
  /** The PT_LOAD segments in file order. */
  segments: LoadSegment[];
}

// ELF-64 Object File Format, version 1.5: header and program-header field offsets.
const PT_LOAD = 1;
const ET_EXEC = 2;
const EM_X86_64 = 62;

function u64(v: DataView, offset: number, what: string): number {
  const x = v.getBigUint64(offset, true);
  if (x >= 2n ** 52n) throw new GuestError('BAD_ELF', `${what} 0x${x.toString(16)} is beyond 2^52`);
  return Number(x);
}

/**
 * Parses a guest image the way the boot protocol loads it: an x86-64 little-endian ELF64
 * executable whose PT_LOAD segments are copied to their p_paddr. Every offset and size is
 * checked against the buffer, so hostile images give a typed error.
 *
 * @param bytes - the image file
 * @returns entry point and load segments
 * @throws GuestError `BAD_ELF` when the file is not such an image or is truncated
 * @example
 * ```ts
 * const image = parseElfImage(readFileSync(guestImagePath));
 * console.log(image.entry.toString(16)); // "100000"
 * ```
 */
export function parseElfImage(bytes: Uint8Array): ElfImage {
  if (bytes.length < 64) throw new GuestError('BAD_ELF', 'shorter than an ELF64 header');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0, false) !== 0x7f45_4c46) throw new GuestError('BAD_ELF', 'no ELF magic');
  if (bytes[4] !== 2 || bytes[5] !== 1) throw new GuestError('BAD_ELF', 'not ELF64 little-endian');
  if (v.getUint16(16, true) !== ET_EXEC)
    throw new GuestError('BAD_ELF', 'not an executable (ET_EXEC)');
  if (v.getUint16(18, true) !== EM_X86_64) throw new GuestError('BAD_ELF', 'not x86-64');
  const entry = u64(v, 24, 'entry');
  const phoff = u64(v, 32, 'program header offset');
  const phentsize = v.getUint16(54, true);
  const phnum = v.getUint16(56, true);
  if (phentsize !== 56)
    throw new GuestError('BAD_ELF', `program header size ${phentsize}, expected 56`);
  if (phoff > bytes.length || phnum * 56 > bytes.length - phoff)
    throw new GuestError('BAD_ELF', 'program headers past the end');
  const segments: LoadSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * 56;
    if (v.getUint32(o, true) !== PT_LOAD) continue;
    const offset = u64(v, o + 8, 'p_offset');
    const virtualAddress = u64(v, o + 16, 'p_vaddr');
    const physicalAddress = u64(v, o + 24, 'p_paddr');
    const fileSize = u64(v, o + 32, 'p_filesz');
    const memorySize = u64(v, o + 40, 'p_memsz');
    if (fileSize > memorySize) throw new GuestError('BAD_ELF', `segment ${i}: p_filesz > p_memsz`);
    if (offset > bytes.length || fileSize > bytes.length - offset)
      throw new GuestError('BAD_ELF', `segment ${i} past the end`);
    segments.push({
      physicalAddress,
      virtualAddress,
      data: bytes.subarray(offset, offset + fileSize),
      memorySize,
      flags: v.getUint32(o + 4, true),
    });
  }
  if (segments.length === 0) throw new GuestError('BAD_ELF', 'no PT_LOAD segment');
  return { entry, segments };
}
