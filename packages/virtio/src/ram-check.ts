import type { GuestMemory } from '@vmkit/memory';
import { VirtioError } from './errors.js';

/**
 * Whether `[addr, addr + len)` lies inside one RAM region of `mem`. Rings, indirect tables and
 * buffers must be RAM: rings are read with sized accesses, which `GuestMemory` would route to an
 * MMIO handler, and a guest must not be able to make a device poke another device's registers.
 *
 * A memory that reports no regions at all is an address space without a static layout (an
 * IOMMU's DMA view, where VIRTIO_F_ACCESS_PLATFORM puts the device): there `contains` is the
 * check, and keeping DMA off MMIO is the translating memory's business.
 *
 * @param mem - guest memory
 * @param addr - first guest-physical address
 * @param len - length in bytes
 * @returns whether the range is all RAM of one region
 */
export function checkRam(mem: GuestMemory, addr: number, len: number): boolean {
  if (!Number.isSafeInteger(addr) || addr < 0 || !mem.contains(addr, len)) return false;
  const regions = mem.regions();
  if (regions.length === 0) return true;
  for (const r of regions) {
    if (addr >= r.base && addr + len <= r.base + r.size) return r.kind === 'ram';
  }
  return false;
}

/**
 * Checks where the parts of a queue are, the same way for split (§2.7) and packed (§2.8) rings:
 * each address is an integer aligned as the ring format's table requires, and each part lies
 * inside guest RAM.
 *
 * @param mem - guest memory
 * @param parts - the parts' addresses, in the order they are checked
 * @param alignment - each part's alignment
 * @param sizes - each part's size in bytes
 * @param section - the specification section the alignment table is in
 * @returns the fault for the first part that breaks a rule, or `undefined`
 */
export function checkQueueParts<P extends string>(
  mem: GuestMemory,
  parts: readonly (readonly [P, number])[],
  alignment: Readonly<Record<P, number>>,
  sizes: Readonly<Record<P, number>>,
  section: string,
): VirtioError | undefined {
  for (const [part, addr] of parts) {
    if (!Number.isSafeInteger(addr) || addr % alignment[part] !== 0) {
      return new VirtioError(
        'MISALIGNED_RING',
        `${part} at ${addr} is not ${alignment[part]}-byte aligned (${section})`,
      );
    }
    if (!checkRam(mem, addr, sizes[part])) {
      return new VirtioError(
        'ADDRESS_OUT_OF_RANGE',
        `${part} [${addr}, +${sizes[part]}) is not inside guest RAM`,
      );
    }
  }
  return undefined;
}

/**
 * A cache of the RAM regions of a memory, so the per-descriptor check costs a short scan instead
 * of a `regions()` call. A miss re-reads the regions once (RAM may have been added); RAM that is
 * removed later is caught when the copy itself fails.
 */
export class RamMap {
  private bases: number[] = [];
  private ends: number[] = [];
  /** The memory reports no regions: check each range with `contains`. */
  private opaque = false;

  /** @param mem - the memory whose RAM regions are cached */
  constructor(private readonly mem: GuestMemory) {
    this.refresh();
  }

  /** Whether `[addr, addr + len)` is inside one RAM region (len > 0). */
  covers(addr: number, len: number): boolean {
    if (this.opaque) return this.mem.contains(addr, len);
    if (this.scan(addr, len)) return true;
    this.refresh();
    return this.scan(addr, len);
  }

  private scan(addr: number, len: number): boolean {
    const end = addr + len;
    for (let i = 0; i < this.bases.length; i++) {
      if (addr >= this.bases[i]! && end <= this.ends[i]!) return true;
    }
    return false;
  }

  private refresh(): void {
    const regions = this.mem.regions();
    this.opaque = regions.length === 0;
    const ram = regions.filter((r) => r.kind === 'ram');
    this.bases = ram.map((r) => r.base);
    this.ends = ram.map((r) => r.base + r.size);
  }
}
