/** A capability found by walking a list: its ID and the offset of its header. */
export interface CapabilityEntry {
  /** Capability ID (8 bits for the PCI list, 16 for the extended list). */
  readonly id: number;
  /** Offset of the capability header in configuration space. */
  readonly offset: number;
  /** Capability Version (extended capabilities only; 0 for the PCI list). */
  readonly version: number;
}

/** A configuration read as a driver performs it. */
export type ConfigReader = (offset: number, size: 1 | 2 | 4) => number;

/**
 * Walks the PCI-compatible capability list as system software does (PCI Local Bus 3.0 §6.7):
 * start at the Capabilities Pointer (0x34) when Status bit 4 is set, mask the two low pointer
 * bits, stop at a null pointer. A list that loops or points below 0x40 ends the walk, so a
 * corrupt list cannot hang the caller.
 *
 * @param read - reads the function's configuration space
 * @returns the capabilities in list order
 */
export function listCapabilities(read: ConfigReader): CapabilityEntry[] {
  const found: CapabilityEntry[] = [];
  if ((read(0x06, 2) & 0x10) === 0) return found;
  let ptr = read(0x34, 1) & 0xfc;
  const seen = new Set<number>();
  while (ptr >= 0x40 && !seen.has(ptr)) {
    seen.add(ptr);
    found.push({ id: read(ptr, 1), offset: ptr, version: 0 });
    ptr = read(ptr + 1, 1) & 0xfc;
  }
  return found;
}

/**
 * Walks the PCI Express extended capability list from offset 0x100 (PCIe Base 4.0 §7.6): each
 * header holds the ID in bits 15:0, the version in bits 19:16 and the next offset in bits 31:20.
 * A header of all zeros at 0x100 means there are none. Loops and pointers below 0x100 end the walk.
 *
 * @param read - reads the function's configuration space
 * @returns the extended capabilities in list order
 */
export function listExtendedCapabilities(read: ConfigReader): CapabilityEntry[] {
  const found: CapabilityEntry[] = [];
  let ptr = 0x100;
  const seen = new Set<number>();
  while (ptr >= 0x100 && ptr <= 0xffc && !seen.has(ptr)) {
    seen.add(ptr);
    const header = read(ptr, 4);
    if (header === 0 || header === 0xffff_ffff) break;
    found.push({ id: header & 0xffff, offset: ptr, version: (header >>> 16) & 0xf });
    ptr = (header >>> 20) & 0xffc;
  }
  return found;
}
