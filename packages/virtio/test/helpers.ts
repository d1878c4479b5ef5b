import { GuestPhysicalMemory } from '@vmkit/memory';

/** 1 MiB of RAM at 0 and a hole above it; plus an MMIO window at 0x200000. */
export function makeMemory(): GuestPhysicalMemory {
  return new GuestPhysicalMemory({
    ram: [{ base: 0, size: 2 ** 20 }],
    mmio: [
      {
        base: 0x20_0000,
        size: 0x1000,
        handler: {
          read: () => 0n,
          write: () => {},
        },
      },
    ],
  });
}

/** Writes a little-endian value of `width` bytes byte by byte (independent of the code under test). */
export function poke(mem: GuestPhysicalMemory, at: number, width: number, value: number): void {
  let v = BigInt(value);
  for (let k = 0; k < width; k++) {
    mem.write8(at + k, Number(v & 0xffn));
    v >>= 8n;
  }
}

/** Reads a little-endian value of `width` bytes byte by byte. */
export function peek(mem: GuestPhysicalMemory, at: number, width: number): number {
  let v = 0;
  for (let k = width - 1; k >= 0; k--) v = v * 256 + mem.read8(at + k);
  return v;
}
