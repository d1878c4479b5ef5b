// The linear memory of a vCPU under shadow paging: the CPU's accesses walk the shadow tables
// (the ShadowVcpu's hardware Mmu), paging-register changes and invalidations reach the shadow
// MMU, and one armed page sends the faulting instruction's stores to `emulateWrite` (how a VMM
// emulates a guest write to a write-protected guest page table, seed 003 §II.A).
import { CpuFault, type Privilege } from '@vmkit/cpu';
import type { GuestMemory } from '@vmkit/memory';
import type { Mmu, PagingState } from '@vmkit/paging';
import { ShadowError, type ShadowResult } from '@vmkit/shadow-paging';
import { MmioWindowMemory } from './mmio-window.js';

/** #GP, SDM Vol. 3A Table 6-1. */
const GP = 13;
const PAGE = 4096;

/** What the VMM needs of one vCPU's shadow MMU (`ShadowMmu` for vCPU 0, `ShadowVcpu` else). */
export interface ShadowPort {
  /** The hardware MMU walking the shadow tables. */
  readonly hardware: Mmu;
  /** The guest's own paging registers. */
  readonly guestState: PagingState;
  /** The result of the last operation. */
  readonly result: ShadowResult;
  /** Handles a shadow page fault; returns a `ShadowFaultKind`. */
  handlePageFault(linearHi: number, linearLo: number, access: number): number;
  /** Guest MOV to CR3. */
  setCr3(cr3: bigint): void;
  /** Guest INVLPG. */
  invlpg(linearHi: number, linearLo: number): void;
  /** Guest CR0/CR4/EFER/RFLAGS changes. */
  setRegisters(regs: { cr0?: number; cr4?: number; efer?: number; rflags?: number }): void;
  /** Emulates a guest store to one of its page tables. */
  emulateWrite(gpa: number, value: bigint, size: 1 | 2 | 4 | 8): void;
}

/** The emulation window of a shadow vCPU's linear memory (the VMM's page-table store emulation). */
export interface ShadowWindow {
  /** The vCPU's shadow MMU. */
  readonly port: ShadowPort;
  /**
   * Sends the next instruction's stores to the page of `linear` through `emulateWrite` at the
   * guest-physical page of `gpa`.
   */
  arm(linear: number, gpa: number): void;
  /** Ends the emulation window. */
  disarm(): void;
  /** Guest page-table stores sent to `emulateWrite` so far. */
  readonly emulatedStores: number;
}

/**
 * An {@link MmioWindowMemory} over a shadow vCPU's hardware MMU. Paging-register writes and invalidations the
 * CPU performs itself (those that do not exit) go to the shadow MMU, so the shadow tables never
 * fall behind the guest's registers; a paging mode the shadow MMU refuses is #GP for the guest.
 */
export class ShadowLinearMemory extends MmioWindowMemory<Mmu> implements ShadowWindow {
  private armedPage = -1;
  private armedGpa = 0;
  /** Guest page-table stores sent to `emulateWrite`. */
  emulatedStores = 0;

  /**
   * @param port - the vCPU's shadow MMU
   * @param host - host memory (guest RAM at the identity p2m)
   * @param flushAll - drops every shadow table (for INVPCID, which the shadow MMU lacks)
   * @param rflags - the CPU's RFLAGS
   */
  constructor(
    readonly port: ShadowPort,
    host: GuestMemory,
    private readonly flushAll: () => void,
    rflags: () => number,
  ) {
    super(port.hardware, host, host, { rflags });
  }

  /**
   * Sends the stores of the next instruction to linear page `linearPage` to `emulateWrite` at
   * guest-physical page `gpaPage` (the page the guest's own tables map it to).
   *
   * @param linear - the faulting linear address
   * @param gpa - the guest-physical address it maps to
   */
  arm(linear: number, gpa: number): void {
    this.armedPage = Math.floor(linear / PAGE);
    this.armedGpa = Math.floor(gpa / PAGE) * PAGE;
  }

  /** Ends the emulation window. */
  disarm(): void {
    this.armedPage = -1;
  }

  /** Emulated store, split so no piece crosses an 8-byte entry; false when not armed here. */
  private emulated(linear: number, size: number, lo: number, hi: number): boolean {
    if (this.armedPage < 0 || Math.floor(linear / PAGE) !== this.armedPage) return false;
    const offset = linear - this.armedPage * PAGE;
    if (offset + size > PAGE) return false;
    const gpa = this.armedGpa + offset;
    this.emulatedStores++;
    // Guest RAM sits at host-physical = guest-physical: cached code there is dropped as for any
    // store the CPU makes.
    this.noteStore(gpa, size);
    const value = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    if ((gpa % 8) + size <= 8) {
      this.port.emulateWrite(gpa, value, size as 1 | 2 | 4 | 8);
      return true;
    }
    for (let k = 0; k < size; k++)
      this.port.emulateWrite(gpa + k, (value >> BigInt(8 * k)) & 0xffn, 1);
    return true;
  }

  /** `CpuMemory.checkWrite`: a store inside the armed page is emulated (nothing to check). */
  override checkWrite(linear: number, size: number, cpl: Privilege): void {
    const page = Math.floor(linear / PAGE);
    if (this.armedPage >= 0 && page === this.armedPage && linear - page * PAGE + size <= PAGE)
      return;
    super.checkWrite(linear, size, cpl);
  }
  /** `CpuMemory.write8`, through `emulateWrite` inside the armed page. */
  override write8(linear: number, value: number, cpl: Privilege): void {
    if (!this.emulated(linear, 1, value & 0xff, 0)) super.write8(linear, value, cpl);
  }
  /** `CpuMemory.write16`, through `emulateWrite` inside the armed page. */
  override write16(linear: number, value: number, cpl: Privilege): void {
    if (!this.emulated(linear, 2, value & 0xffff, 0)) super.write16(linear, value, cpl);
  }
  /** `CpuMemory.write32`, through `emulateWrite` inside the armed page. */
  override write32(linear: number, value: number, cpl: Privilege): void {
    if (!this.emulated(linear, 4, value, 0)) super.write32(linear, value, cpl);
  }
  /** `CpuMemory.write64`, through `emulateWrite` inside the armed page. */
  override write64(linear: number, lo: number, hi: number, cpl: Privilege): void {
    if (!this.emulated(linear, 8, lo, hi)) super.write64(linear, lo, hi, cpl);
  }

  /** `CpuMemory.writePagingRegister`: changed registers go to the shadow MMU. */
  override writePagingRegister(register: 'cr0' | 'cr3' | 'cr4' | 'efer', value: bigint): void {
    const g = this.port.guestState;
    // Unchanged CR0/CR4/EFER (the CPU re-syncs all registers at once): nothing to redo.
    if (register !== 'cr3' && g[register] === Number(value)) return;
    this.flush();
    try {
      if (register === 'cr3') this.port.setCr3(value);
      else this.port.setRegisters({ [register]: Number(value) });
    } catch (e) {
      // A paging mode shadow paging does not support (it shadows 4-level paging with WP).
      if (e instanceof ShadowError) throw new CpuFault(GP, 0);
      throw e;
    }
  }

  /** `CpuMemory.invlpg`: the shadow MMU drops the page's shadow entry. */
  override invlpg(linear: number): void {
    this.flush();
    this.port.invlpg(Math.floor(linear / 2 ** 32) >>> 0, linear >>> 0);
  }

  /** `CpuMemory.invpcid`: every shadow table is dropped. */
  override invpcid(_type: number, _pcid: number, _linear: number): void {
    // The shadow MMU has no per-PCID invalidation: drop every shadow table (always enough).
    this.flush();
    this.flushAll();
  }
}
