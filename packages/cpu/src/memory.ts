import { type GuestMemory, GuestMemoryError } from '@vmkit/memory';
import { PFEC, Vector } from '@vmkit/x86';
import { addWatch, type CodeWatch } from './code-cache.js';
import { CpuFault } from './fault.js';

/**
 * Whether an access is made by supervisor (CPL 0) or user (CPL 3) code; paging checks U/S
 * with it (SDM Vol. 3A §4.6).
 */
export type Privilege = 0 | 3;

/**
 * The linear-memory seam the CPU reads and writes through: the consumer-side interface that a
 * flat identity map implements today and the paging MMU implements later.
 *
 * Linear addresses are canonical 64-bit addresses held as signed JavaScript numbers
 * (sign-extended from bit 47, so `[-2^47, 2^47)`, all exact); the CPU checks canonicality
 * before it calls the seam. A failed translation throws a {@link CpuFault} (#PF with its
 * error code and address), which the CPU reports as the instruction's exception. Accesses
 * may cross page boundaries; the implementation handles them.
 */
export interface CpuMemory {
  /** Reads one byte of data. */
  read8(linear: number, cpl: Privilege): number;
  /** Reads a 16-bit little-endian value. */
  read16(linear: number, cpl: Privilege): number;
  /** Reads an unsigned 32-bit little-endian value. */
  read32(linear: number, cpl: Privilege): number;
  /** Writes one byte. */
  write8(linear: number, value: number, cpl: Privilege): void;
  /** Writes a 16-bit little-endian value. */
  write16(linear: number, value: number, cpl: Privilege): void;
  /** Writes a 32-bit little-endian value. */
  write32(linear: number, value: number, cpl: Privilege): void;
  /**
   * Writes a 64-bit value as two little-endian halves. Either both halves are written or,
   * when any byte faults, neither is.
   */
  write64(linear: number, lo: number, hi: number, cpl: Privilege): void;
  /** Fetches one instruction byte (an instruction-fetch access for paging). */
  fetch8(linear: number, cpl: Privilege): number;
  /**
   * Optional: checks that a write of `size` bytes at `linear` would succeed, as the write
   * would (the same faults; paging sets A and D), without storing anything. INS checks its
   * destination with it before it reads the port; without it the store is only checked when
   * it is made, after the port read.
   */
  checkWrite?(linear: number, size: number, cpl: Privilege): void;
  /**
   * The physical address `fetch8(linear, cpl)` would read, with every check such a fetch makes
   * (present, NX, SMEP, U/S at CPL 3, a second stage's execute right): it throws what the fetch
   * would throw. The CPU looks its cached blocks up by this address at every block entry that
   * the successor chain does not cover.
   */
  fetchPhysical(linear: number, cpl: Privilege): number;
  /**
   * A number that changes whenever a translation this memory may have cached could have changed
   * (paging registers, invalidations, a flush by the host), and that no other memory ever uses
   * for another set of translations. The CPU follows a block's recorded successor without a
   * fetch translation only while it is unchanged. Constant for an identity map.
   */
  readonly translationEpoch: number;
  /**
   * Registers a code cache to report stores to: from then on every write (data, implicit system
   * writes) calls `watch.noteStore` with the physical address written. The CPU calls it with its
   * code cache when it is constructed; CPUs that share this memory object each register theirs.
   */
  watchCode(watch: CodeWatch): void;
  /**
   * Optional: an implicit supervisor-mode read (GDT, IDT and TSS accesses, SDM Vol. 3A §4.6),
   * which paging checks as supervisor whatever the CPL, with SMAP always applied. Without
   * it the CPU uses `read32(linear, 0)`.
   */
  readSystem32?(linear: number): number;
  /** Optional: an implicit supervisor-mode write (the TSS busy bit of LTR). */
  writeSystem32?(linear: number, value: number): void;
  /**
   * Optional: the paging registers changed: MOV to CR0, CR3 or CR4 (already checked by the
   * CPU), or WRMSR to IA32_EFER. The implementation applies the TLB invalidations the SDM
   * ties to each write (§4.10.4.1).
   */
  writePagingRegister?(register: 'cr0' | 'cr3' | 'cr4' | 'efer', value: bigint): void;
  /** Optional: INVLPG of a canonical linear address. */
  invlpg?(linear: number): void;
  /** Optional: INVPCID of a checked type (0..3), PCID and, for type 0, canonical address. */
  invpcid?(type: number, pcid: number, linear: number): void;
}

/**
 * A flat identity map from linear to guest-physical addresses over a `GuestMemory` (from `@vmkit/memory`): the
 * CPU's memory before paging is plugged in. It behaves as an identity-mapped 4-level page
 * table that maps exactly the guest's memory as present, writable, user and executable:
 * an access to an address outside it raises #PF with the not-present error code (SDM Vol. 3A
 * §4.7), never a host exception.
 *
 * @example
 * ```ts
 * const flat = new FlatMemory(new GuestPhysicalMemory({ ram: [{ base: 0, size: 0x10000 }] }));
 * flat.write32(0x100, 0xdeadbeef, 0);
 * flat.read32(0x100, 0); // 0xdeadbeef
 * ```
 */
export class FlatMemory implements CpuMemory {
  private readonly mem: GuestMemory;
  // The code cache(s) stores are reported to.
  private watch: CodeWatch | undefined;
  /** Always 0: the identity map never changes (see `CpuMemory.translationEpoch`). */
  readonly translationEpoch = 0;

  /** @param memory - the guest-physical memory to map one to one */
  constructor(memory: GuestMemory) {
    this.mem = memory;
  }

  /** {@inheritDoc CpuMemory.watchCode} */
  watchCode(watch: CodeWatch): void {
    this.watch = addWatch(this.watch, watch);
  }

  /**
   * The identity: `linear` itself. Nothing can be cached at an address outside guest memory
   * (decoding there faults), so only negative addresses, which the map never covers, are
   * refused here; the fetch that decodes a block checks the rest. A host that removes a memory
   * region holding cached code calls `Cpu.invalidateCode` for it.
   */
  fetchPhysical(linear: number, cpl: Privilege): number {
    if (linear < 0) throw this.fault(linear, cpl, PFEC.ID);
    return linear;
  }

  private fault(linear: number, cpl: Privilege, flags: number): CpuFault {
    return new CpuFault(Vector.PF, flags | (cpl === 3 ? PFEC.US : 0), linear);
  }

  private byte(linear: number, cpl: Privilege, flags: number): number {
    if (linear < 0 || !this.mem.contains(linear, 1)) throw this.fault(linear, cpl, flags);
    return this.mem.read8(linear);
  }

  // An access that leaves the mapped memory part-way is split into bytes, so the fault
  // names the first unmapped byte (CR2, SDM Vol. 3A §4.7) and a write faults before it stores
  // anything (an instruction's memory writes either all happen or none does). The fast paths
  // let GuestMemory do the bounds check (it throws before touching anything) and take the
  // slow path only when it refuses.
  private slowRead(linear: number, size: number, cpl: Privilege, e: unknown): number {
    if (!(e instanceof GuestMemoryError)) throw e;
    let value = 0;
    for (let k = 0; k < size; k++) value += this.byte(linear + k, cpl, 0) * 2 ** (8 * k);
    return value;
  }

  private slowWrite(linear: number, size: number, value: number, cpl: Privilege, e: unknown): void {
    if (!(e instanceof GuestMemoryError)) throw e;
    for (let k = 0; k < size; k++) this.byte(linear + k, cpl, PFEC.WR);
    for (let k = 0; k < size; k++) this.mem.write8(linear + k, (value >>> (8 * k)) & 0xff);
  }

  /** {@inheritDoc CpuMemory.read8} */
  read8(linear: number, cpl: Privilege): number {
    try {
      return this.mem.read8(linear);
    } catch (e) {
      return this.slowRead(linear, 1, cpl, e);
    }
  }
  /** {@inheritDoc CpuMemory.checkWrite} */
  checkWrite(linear: number, size: number, cpl: Privilege): void {
    if (linear >= 0 && this.mem.contains(linear, size)) return;
    for (let k = 0; k < size; k++) this.byte(linear + k, cpl, PFEC.WR);
  }
  /** {@inheritDoc CpuMemory.read16} */
  read16(linear: number, cpl: Privilege): number {
    try {
      return this.mem.read16(linear);
    } catch (e) {
      return this.slowRead(linear, 2, cpl, e);
    }
  }
  /** {@inheritDoc CpuMemory.read32} */
  read32(linear: number, cpl: Privilege): number {
    try {
      return this.mem.read32(linear);
    } catch (e) {
      return this.slowRead(linear, 4, cpl, e);
    }
  }
  /** {@inheritDoc CpuMemory.write8} */
  write8(linear: number, value: number, cpl: Privilege): void {
    // Reported before the bytes change (linear = physical here): a faulting store at worst
    // drops blocks it did not need to.
    this.watch?.noteStore(linear, 1);
    try {
      this.mem.write8(linear, value);
    } catch (e) {
      this.slowWrite(linear, 1, value, cpl, e);
    }
  }
  /** {@inheritDoc CpuMemory.write16} */
  write16(linear: number, value: number, cpl: Privilege): void {
    this.watch?.noteStore(linear, 2);
    try {
      this.mem.write16(linear, value);
    } catch (e) {
      this.slowWrite(linear, 2, value, cpl, e);
    }
  }
  /** {@inheritDoc CpuMemory.write32} */
  write32(linear: number, value: number, cpl: Privilege): void {
    this.watch?.noteStore(linear, 4);
    try {
      this.mem.write32(linear, value);
    } catch (e) {
      this.slowWrite(linear, 4, value, cpl, e);
    }
  }
  /** {@inheritDoc CpuMemory.write64} */
  write64(linear: number, lo: number, hi: number, cpl: Privilege): void {
    this.watch?.noteStore(linear, 8);
    if (linear >= 0 && this.mem.contains(linear, 8)) {
      this.mem.write32(linear, lo);
      this.mem.write32(linear + 4, hi);
    } else {
      for (let k = 0; k < 8; k++) this.byte(linear + k, cpl, PFEC.WR);
      for (let k = 0; k < 4; k++) this.mem.write8(linear + k, (lo >>> (8 * k)) & 0xff);
      for (let k = 0; k < 4; k++) this.mem.write8(linear + 4 + k, (hi >>> (8 * k)) & 0xff);
    }
  }
  /** {@inheritDoc CpuMemory.fetch8} */
  fetch8(linear: number, cpl: Privilege): number {
    try {
      return this.mem.read8(linear);
    } catch (e) {
      if (!(e instanceof GuestMemoryError)) throw e;
      throw this.fault(linear, cpl, PFEC.ID);
    }
  }
}
