// A guest over EPT for tests: guest-physical [0, GUEST_SIZE) lives at host-physical
// HOST_OFFSET + gpa. Guest page tables are written with the guest-physical addresses they hold,
// into host memory at the translated address.
import { GuestPhysicalMemory } from '@vmkit/memory';

export const HOST_OFFSET = 0x4000_0000;
export const GUEST_SIZE = 0x400_0000;
export const EPT_TABLES = 0x10_0000;

export function hostMemory(): GuestPhysicalMemory {
  return new GuestPhysicalMemory({
    ram: [
      { base: 0, size: 0x100_0000 },
      { base: HOST_OFFSET, size: GUEST_SIZE },
    ],
  });
}

/** Writes a 64-bit guest entry at a guest-physical address. */
export function putGuest(host: GuestPhysicalMemory, gpa: number, value: bigint): void {
  host.write32(HOST_OFFSET + gpa, Number(value & 0xffff_ffffn));
  host.write32(HOST_OFFSET + gpa + 4, Number(value >> 32n));
}

export function getGuest(host: GuestPhysicalMemory, gpa: number): bigint {
  return (
    (BigInt(host.read32(HOST_OFFSET + gpa + 4)) << 32n) | BigInt(host.read32(HOST_OFFSET + gpa))
  );
}

/**
 * Maps a guest linear address with 4-KByte guest pages, one fresh table per level taken from
 * `tables` (guest-physical, 4-KByte apart). Returns the guest-physical entry addresses, top first.
 */
export function mapGuest(
  host: GuestPhysicalMemory,
  opts: {
    levels: 4 | 5;
    root: number;
    linear: bigint;
    frame: number;
    tables: number[];
    flags?: bigint;
  },
): number[] {
  const flags = opts.flags ?? 7n; // P | R/W | U/S
  let table = opts.root;
  const out: number[] = [];
  for (let level: number = opts.levels; level >= 1; level--) {
    const index = Number((opts.linear >> BigInt(12 + 9 * (level - 1))) & 0x1ffn);
    const at = table + index * 8;
    out.push(at);
    if (level === 1) {
      putGuest(host, at, BigInt(opts.frame) | flags);
    } else {
      const existing = getGuest(host, at);
      if ((existing & 1n) === 1n) {
        table = Number(existing & 0xf_ffff_ffff_f000n);
      } else {
        const next = opts.tables.shift();
        if (next === undefined) throw new Error('out of tables');
        putGuest(host, at, BigInt(next) | flags);
        table = next;
      }
    }
  }
  return out;
}
