// Host-physical memory of a VM: guest RAM at [0, size) (the identity p2m) and, from `vmmBase`
// up, the VMM's private range (EPT or shadow tables). The two live in separate objects so that
// everything guest-facing (devices, hypercalls, the loader) holds guest RAM only and can never
// reach the VMM's tables; the MMU hardware models, which must see both, get this composite.
import type { GuestMemory, GuestPhysicalMemory, RegionInfo } from '@vmkit/memory';

/**
 * Guest RAM below `vmmBase` and the VMM's private memory from `vmmBase`, as one host-physical
 * address space. An access that spans the boundary is split; one outside both fails as the
 * underlying memories fail (a `GuestMemoryError`).
 *
 * @example
 * ```ts
 * const host = new HostMemory(ram, tables, 0x800_0000);
 * host.read32(0x800_0000); // the first word of the VMM's range
 * ```
 */
export class HostMemory implements GuestMemory {
  /**
   * @param guest - guest RAM (guest-physical = host-physical below `vmmBase`)
   * @param vmm - the VMM's private memory, at host-physical addresses from `vmmBase`
   * @param vmmBase - first host-physical address of the VMM's range (at or above guest RAM's end)
   */
  constructor(
    readonly guest: GuestPhysicalMemory,
    readonly vmm: GuestPhysicalMemory,
    readonly vmmBase: number,
  ) {}

  private at(hpa: number): GuestPhysicalMemory {
    return hpa < this.vmmBase ? this.guest : this.vmm;
  }

  /** `GuestMemory.read8` at host-physical addresses, on whichever memory holds them. */
  read8(hpa: number): number {
    return this.at(hpa).read8(hpa);
  }
  /** `GuestMemory.read16` at host-physical addresses, on whichever memory holds them. */
  read16(hpa: number): number {
    return this.at(hpa).read16(hpa);
  }
  /** `GuestMemory.read32` at host-physical addresses, on whichever memory holds them. */
  read32(hpa: number): number {
    return this.at(hpa).read32(hpa);
  }
  /** `GuestMemory.read64` at host-physical addresses, on whichever memory holds them. */
  read64(hpa: number): bigint {
    return this.at(hpa).read64(hpa);
  }
  /** `GuestMemory.write8` at host-physical addresses, on whichever memory holds them. */
  write8(hpa: number, value: number): void {
    this.at(hpa).write8(hpa, value);
  }
  /** `GuestMemory.write16` at host-physical addresses, on whichever memory holds them. */
  write16(hpa: number, value: number): void {
    this.at(hpa).write16(hpa, value);
  }
  /** `GuestMemory.write32` at host-physical addresses, on whichever memory holds them. */
  write32(hpa: number, value: number): void {
    this.at(hpa).write32(hpa, value);
  }
  /** `GuestMemory.write64` at host-physical addresses, on whichever memory holds them. */
  write64(hpa: number, value: bigint): void {
    this.at(hpa).write64(hpa, value);
  }

  /** The part of `[hpa, hpa + length)` below the boundary, in bytes. */
  private lowPart(hpa: number, length: number): number {
    return Math.max(0, Math.min(length, this.vmmBase - hpa));
  }

  /** `GuestMemory.readBytes` at host-physical addresses, on whichever memory holds them. */
  readBytes(hpa: number, dest: Uint8Array): void {
    const low = this.lowPart(hpa, dest.length);
    if (low > 0) this.guest.readBytes(hpa, dest.subarray(0, low));
    if (low < dest.length) this.vmm.readBytes(hpa + low, dest.subarray(low));
  }
  /** `GuestMemory.writeBytes` at host-physical addresses, on whichever memory holds them. */
  writeBytes(hpa: number, src: Uint8Array): void {
    const low = this.lowPart(hpa, src.length);
    if (low > 0) this.guest.writeBytes(hpa, src.subarray(0, low));
    if (low < src.length) this.vmm.writeBytes(hpa + low, src.subarray(low));
  }
  /** `GuestMemory.fill` at host-physical addresses, on whichever memory holds them. */
  fill(hpa: number, length: number, byte: number): void {
    const low = this.lowPart(hpa, length);
    if (low > 0) this.guest.fill(hpa, low, byte);
    if (low < length) this.vmm.fill(hpa + low, length - low, byte);
  }
  /** `GuestMemory.copy` at host-physical addresses, on whichever memory holds them. */
  copy(dest: number, src: number, length: number): void {
    const buffer = new Uint8Array(length);
    this.readBytes(src, buffer);
    this.writeBytes(dest, buffer);
  }
  /** `GuestMemory.contains` at host-physical addresses, on whichever memory holds them. */
  contains(hpa: number, length: number): boolean {
    const low = this.lowPart(hpa, length);
    return (
      (low === 0 || this.guest.contains(hpa, low)) &&
      (low === length || this.vmm.contains(hpa + low, length - low))
    );
  }
  /** `GuestMemory.regions` at host-physical addresses, on whichever memory holds them. */
  regions(): readonly RegionInfo[] {
    return [...this.guest.regions(), ...this.vmm.regions()];
  }
}
