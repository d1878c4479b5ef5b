import type { AccessSize, GuestMemory, RegionInfo } from '@vmkit/memory';

/**
 * A GuestMemory decorator that fails the test if anything touches memory outside the RAM
 * regions of the inner memory (including its MMIO ranges), before the inner memory even gets
 * to refuse the access.
 */
export class GuardedMemory implements GuestMemory {
  violations: string[] = [];
  constructor(private readonly inner: GuestMemory) {}

  private check(gpa: number, length: number): void {
    const ram = this.inner
      .regions()
      .some((r) => r.kind === 'ram' && gpa >= r.base && gpa + length <= r.base + r.size);
    if (!ram) this.violations.push(`access at ${gpa} length ${length}`);
  }
  read8(gpa: number): number {
    this.check(gpa, 1);
    return this.inner.read8(gpa);
  }
  read16(gpa: number): number {
    this.check(gpa, 2);
    return this.inner.read16(gpa);
  }
  read32(gpa: number): number {
    this.check(gpa, 4);
    return this.inner.read32(gpa);
  }
  read64(gpa: number): bigint {
    this.check(gpa, 8);
    return this.inner.read64(gpa);
  }
  write8(gpa: number, value: number): void {
    this.check(gpa, 1);
    this.inner.write8(gpa, value);
  }
  write16(gpa: number, value: number): void {
    this.check(gpa, 2);
    this.inner.write16(gpa, value);
  }
  write32(gpa: number, value: number): void {
    this.check(gpa, 4);
    this.inner.write32(gpa, value);
  }
  write64(gpa: number, value: bigint): void {
    this.check(gpa, 8);
    this.inner.write64(gpa, value);
  }
  readBytes(gpa: number, dest: Uint8Array): void {
    this.check(gpa, dest.length);
    this.inner.readBytes(gpa, dest);
  }
  writeBytes(gpa: number, src: Uint8Array): void {
    this.check(gpa, src.length);
    this.inner.writeBytes(gpa, src);
  }
  fill(gpa: number, length: number, byte: number): void {
    this.check(gpa, length);
    this.inner.fill(gpa, length, byte);
  }
  copy(dest: number, src: number, length: number): void {
    this.check(dest, length);
    this.check(src, length);
    this.inner.copy(dest, src, length);
  }
  contains(gpa: number, length: number): boolean {
    return this.inner.contains(gpa, length);
  }
  regions(): readonly RegionInfo[] {
    return this.inner.regions();
  }
}

export type { AccessSize };
