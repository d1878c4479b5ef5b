import { VmmError } from '../../src/index.js';

/** An ELF64 x86-64 ET_EXEC with one PT_LOAD segment holding `code` (ELF-64 v1.5 layout). */
export function elf(
  code: Uint8Array,
  opts: { paddr?: number; memsz?: number; entry?: number } = {},
): Uint8Array {
  const paddr = opts.paddr ?? 0x10_0000;
  const bytes = new Uint8Array(64 + 56 + code.length);
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 62, true); // EM_X86_64
  v.setUint32(20, 1, true);
  v.setBigUint64(24, BigInt(opts.entry ?? paddr), true);
  v.setBigUint64(32, 64n, true); // e_phoff
  v.setUint16(52, 64, true);
  v.setUint16(54, 56, true);
  v.setUint16(56, 1, true);
  v.setUint32(64, 1, true); // PT_LOAD
  v.setUint32(68, 5, true); // R X
  v.setBigUint64(72, 120n, true); // p_offset
  v.setBigUint64(80, BigInt(paddr), true);
  v.setBigUint64(88, BigInt(paddr), true);
  v.setBigUint64(96, BigInt(code.length), true);
  v.setBigUint64(104, BigInt(opts.memsz ?? code.length), true);
  bytes.set(code, 120);
  return bytes;
}

export function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof VmmError) return e.code;
    throw e;
  }
  return undefined;
}
