// The CpuMemory seam over @vmkit/paging's Mmu (or any Translator, such as @vmkit/ept's
// NestedMmu): every access is translated (TLB, paging-structure caches, walk) with the access
// kind paging needs, a failed translation becomes the architectural exception or, for a
// second-stage refusal, the EPT VM exit, and accesses that cross a page boundary translate both
// pages before touching either (SDM Vol. 3A §4.7: the fault names the first inaccessible page
// and a faulting write stores nothing).
import { type GuestMemory, GuestMemoryError } from '@vmkit/memory';
import {
  ACCESS_FETCH,
  ACCESS_IMPLICIT,
  ACCESS_USER,
  ACCESS_WRITE,
  type Mmu,
  WalkOutcome,
} from '@vmkit/paging';
import { BasicExitReason } from '@vmkit/vmx';
import { RFLAGS, Vector } from '@vmkit/x86';
import { addWatch, type CodeWatch } from './code-cache.js';
import { CpuFault } from './fault.js';
import type { CpuMemory, Privilege } from './memory.js';
import type { SecondStageExitRecord, Translator } from './translator.js';
import { exitInformation, VmExit } from './vmx/vm-exit.js';

const TWO32 = 4294967296;
const PAGE = 4096;

/** Options for {@link MmuMemory}. */
export interface MmuMemoryOptions {
  /**
   * The CPU's current RFLAGS (for example `() => cpu.flags`): SMAP lets explicit supervisor
   * accesses reach user pages when RFLAGS.AC = 1 (SDM Vol. 3A §4.6.1). Without it AC reads
   * as 0.
   */
  readonly rflags?: () => number;
  /**
   * Where a translator without its own `secondStageExit` (paging's `Mmu` with an `Ept` second
   * stage) records second-stage refusals: the `Ept`'s `exit`. Without either, a
   * `SECOND_STAGE_FAULT` raises #MC.
   */
  readonly secondStageExit?: SecondStageExitRecord;
}

/** Entries per access kind of MmuMemory's fast-path cache (a power of two). */
const MICRO = 64;

// Translation epochs come from one counter for all MmuMemory objects, so an epoch names one set
// of translations of one memory: a successor link recorded by one CPU is never followed by
// another CPU sharing the code cache.
let epochs = 0;

/**
 * Linear memory through paging: implements {@link CpuMemory} over an `Mmu` from
 * `@vmkit/paging` (or any {@link Translator}, such as `@vmkit/ept`'s `NestedMmu`) and the
 * memory its final addresses (`result.hostPhysical`) index: guest-physical memory for a
 * one-stage MMU, host-physical memory behind a second stage.
 *
 * - Data accesses are user-mode at CPL 3, supervisor otherwise; instruction fetches are
 *   fetch accesses; GDT/IDT/TSS accesses are implicit supervisor-mode accesses.
 * - #PF carries paging's error code and the faulting linear address (the CPU writes CR2 when
 *   it delivers it).
 * - MOV to CR0/CR3/CR4, WRMSR EFER, INVLPG and INVPCID reach the Mmu, which applies the TLB
 *   invalidations of SDM Vol. 3A §4.10.4. After setting the CPU's paging registers directly,
 *   the host calls {@link Cpu.syncPaging}.
 * - A translation to a physical address with no RAM behind it, or a paging-structure entry
 *   outside guest memory, raises #MC (vmkit has no MMIO path through the CPU yet).
 * - A second-stage refusal (`SECOND_STAGE_FAULT`) becomes a VM exit, EPT violation (48) or
 *   EPT misconfiguration (49), with the qualification, guest-physical address and (when
 *   qualification bit 7 says it is valid) guest-linear address of SDM Vol. 3C §28.2.1; the
 *   guest state stays as before the instruction, which runs again after the VMM fixes the
 *   mapping. A refusal during event delivery also reports the event (IDT-vectoring).
 *
 * @example
 * ```ts
 * const mmu = new Mmu(ram);
 * let cpu: Cpu;
 * const memory = new MmuMemory(mmu, ram, { rflags: () => cpu.flags });
 * cpu = new Cpu({ memory });
 * cpu.cr3 = 0x1000n;
 * cpu.syncPaging();
 * ```
 */
export class MmuMemory<T extends Translator = Mmu> implements CpuMemory {
  /** The MMU translating linear addresses. */
  readonly mmu: T;
  private readonly mem: GuestMemory;
  private readonly flags: (() => number) | undefined;
  private readonly stage2: SecondStageExitRecord | undefined;
  private ac = 0;
  // A per-access-kind cache in front of the Mmu (the CPU's fast path for TLB hits), direct-
  // mapped: MICRO entries per access kind (write, user, fetch), entry = kind * MICRO + (linear
  // page number mod MICRO); page = linear page number, frame = physical page base. Filled only
  // from successful translations (A and, for writes, D already set by the Mmu) and emptied by
  // every event that may change a translation or its rights (paging registers, INVLPG,
  // INVPCID, RFLAGS.AC). Keeping an entry until then is what a TLB may do (SDM Vol. 3A
  // §4.10.2.4). Several entries per kind keep code that alternates between its stack and a
  // few data pages from walking the Mmu's TLB on every switch.
  private readonly microPage = new Float64Array(32 * MICRO).fill(Number.NaN);
  private readonly microFrame = new Float64Array(32 * MICRO);
  private watch: CodeWatch | undefined;
  /**
   * Renewed by every {@link MmuMemory.flush}, from a counter all MmuMemory objects share (see
   * `CpuMemory.translationEpoch`).
   */
  translationEpoch = ++epochs;

  /**
   * @param mmu - the MMU (its registers are kept in step by the CPU)
   * @param memory - the guest-physical memory accesses go to
   * @param options - where RFLAGS.AC comes from
   */
  constructor(mmu: T, memory: GuestMemory, options: MmuMemoryOptions = {}) {
    this.mmu = mmu;
    this.mem = memory;
    this.flags = options.rflags;
    this.stage2 = mmu.secondStageExit ?? options.secondStageExit;
  }

  /**
   * Empties the fast-path cache in front of the Mmu. The CPU's paging hooks do this; a host
   * that changes the Mmu's registers or invalidates its TLB directly must call it too.
   */
  flush(): void {
    this.microPage.fill(Number.NaN);
    this.translationEpoch = ++epochs;
  }

  /** {@inheritDoc CpuMemory.watchCode} */
  watchCode(watch: CodeWatch): void {
    this.watch = addWatch(this.watch, watch);
  }

  /**
   * Reports a store of `size` bytes at physical address `physical` to the code caches
   * registered with {@link MmuMemory.watchCode}. Every write of this class calls it; a subclass
   * that sends a store elsewhere in the same memory (an emulated page-table write) calls it
   * too, so cached code there is dropped before the next instruction.
   *
   * @param physical - the address written, in the memory this object accesses
   * @param size - bytes written
   */
  noteStore(physical: number, size: number): void {
    this.watch?.noteStore(physical, size);
  }

  /** {@inheritDoc CpuMemory.fetchPhysical} */
  fetchPhysical(linear: number, cpl: Privilege): number {
    return this.translate(linear, ACCESS_FETCH | (cpl === 3 ? ACCESS_USER : 0));
  }

  /** Translates one linear address; throws the architectural exception on failure. */
  private translate(linear: number, access: number): number {
    this.syncAc();
    const page = Math.floor(linear / PAGE);
    const slot = (access & 31) * MICRO + (page & (MICRO - 1));
    if (this.microPage[slot] === page && (access & ACCESS_IMPLICIT) === 0) {
      return this.microFrame[slot]! + (linear - page * PAGE);
    }
    const outcome = this.mmu.translate(Math.floor(linear / TWO32) >>> 0, linear >>> 0, access);
    if (outcome === WalkOutcome.OK) {
      const physical = this.mmu.result.hostPhysical;
      if ((access & ACCESS_IMPLICIT) === 0) {
        this.microPage[slot] = page;
        this.microFrame[slot] = physical - (linear - page * PAGE);
      }
      return physical;
    }
    switch (outcome) {
      case WalkOutcome.PAGE_FAULT:
        throw new CpuFault(Vector.PF, this.mmu.result.errorCode, linear);
      case WalkOutcome.GENERAL_PROTECTION:
        throw new CpuFault(Vector.GP, 0);
      case WalkOutcome.STACK_FAULT:
        throw new CpuFault(Vector.SS, 0);
      case WalkOutcome.SECOND_STAGE_FAULT:
        if (this.stage2 !== undefined) throw eptExit(this.stage2);
        throw new CpuFault(Vector.MC);
      default:
        throw new CpuFault(Vector.MC);
    }
  }

  // RFLAGS.AC decides whether supervisor accesses may touch user pages (SMAP, SDM Vol. 3A
  // §4.6.1): the Mmu must see its current value, and a change empties the fast-path cache.
  private syncAc(): void {
    if (this.flags !== undefined) {
      const flags = this.flags();
      const ac = flags & RFLAGS.AC;
      if (ac !== this.ac) {
        this.ac = ac;
        this.mmu.setRflags(flags >>> 0);
        this.flush();
      }
    }
  }

  // The fast path of the data accesses: the physical address of a `size`-byte access at
  // `linear` of kind `access` (no write, fetch or implicit bits) when the one-entry cache holds
  // its page and the access stays inside that page, else -1 (then the general path runs).
  private cached(linear: number, size: number, access: number): number {
    this.syncAc();
    const page = Math.floor(linear / PAGE);
    const offset = linear - page * PAGE;
    const slot = access * MICRO + (page & (MICRO - 1));
    if (offset > PAGE - size || this.microPage[slot] !== page) return -1;
    return this.microFrame[slot]! + offset;
  }

  /**
   * Physical addresses of the first byte and of the first byte on the next page (or -1 when
   * the access stays in one page), translating the first page first.
   */
  private span(linear: number, size: number, access: number): [number, number] {
    const first = this.translate(linear, access);
    const offset = linear - Math.floor(linear / PAGE) * PAGE;
    if (offset + size <= PAGE) return [first, -1];
    return [first, this.translate(linear + (PAGE - offset), access)];
  }

  private read(linear: number, size: number, access: number): number {
    const [p, q] = this.span(linear, size, access);
    try {
      if (q < 0) {
        return size === 1
          ? this.mem.read8(p)
          : size === 2
            ? this.mem.read16(p)
            : this.mem.read32(p);
      }
      const inFirst = PAGE - (linear - Math.floor(linear / PAGE) * PAGE);
      let value = 0;
      for (let k = 0; k < size; k++) {
        const b = k < inFirst ? this.mem.read8(p + k) : this.mem.read8(q + k - inFirst);
        value += b * 2 ** (8 * k);
      }
      return value;
    } catch (e) {
      throw machineCheck(e);
    }
  }

  private write(linear: number, size: number, value: number, access: number): void {
    const [p, q] = this.span(linear, size, access | ACCESS_WRITE);
    const inFirst = PAGE - (linear - Math.floor(linear / PAGE) * PAGE);
    if (q < 0) this.noteStore(p, size);
    else {
      this.noteStore(p, inFirst);
      this.noteStore(q, size - inFirst);
    }
    try {
      if (q < 0) {
        if (size === 1) this.mem.write8(p, value);
        else if (size === 2) this.mem.write16(p, value);
        else this.mem.write32(p, value);
        return;
      }
      for (let k = 0; k < size; k++) {
        const b = (value >>> (8 * k)) & 0xff;
        if (k < inFirst) this.mem.write8(p + k, b);
        else this.mem.write8(q + k - inFirst, b);
      }
    } catch (e) {
      throw machineCheck(e);
    }
  }

  /** {@inheritDoc CpuMemory.read8} */
  read8(linear: number, cpl: Privilege): number {
    const access = cpl === 3 ? ACCESS_USER : 0;
    const p = this.cached(linear, 1, access);
    if (p < 0) return this.read(linear, 1, access);
    try {
      return this.mem.read8(p);
    } catch (e) {
      throw machineCheck(e);
    }
  }
  /** {@inheritDoc CpuMemory.read16} */
  read16(linear: number, cpl: Privilege): number {
    const access = cpl === 3 ? ACCESS_USER : 0;
    const p = this.cached(linear, 2, access);
    if (p < 0) return this.read(linear, 2, access);
    try {
      return this.mem.read16(p);
    } catch (e) {
      throw machineCheck(e);
    }
  }
  /** {@inheritDoc CpuMemory.read32} */
  read32(linear: number, cpl: Privilege): number {
    const access = cpl === 3 ? ACCESS_USER : 0;
    const p = this.cached(linear, 4, access);
    if (p < 0) return this.read(linear, 4, access);
    try {
      return this.mem.read32(p);
    } catch (e) {
      throw machineCheck(e);
    }
  }
  /** {@inheritDoc CpuMemory.write8} */
  write8(linear: number, value: number, cpl: Privilege): void {
    const access = (cpl === 3 ? ACCESS_USER : 0) | ACCESS_WRITE;
    const p = this.cached(linear, 1, access);
    if (p < 0) {
      this.write(linear, 1, value, access);
      return;
    }
    this.watch?.noteStore(p, 1);
    try {
      this.mem.write8(p, value);
    } catch (e) {
      throw machineCheck(e);
    }
  }
  /** {@inheritDoc CpuMemory.write16} */
  write16(linear: number, value: number, cpl: Privilege): void {
    const access = (cpl === 3 ? ACCESS_USER : 0) | ACCESS_WRITE;
    const p = this.cached(linear, 2, access);
    if (p < 0) {
      this.write(linear, 2, value, access);
      return;
    }
    this.watch?.noteStore(p, 2);
    try {
      this.mem.write16(p, value);
    } catch (e) {
      throw machineCheck(e);
    }
  }
  /** {@inheritDoc CpuMemory.write32} */
  write32(linear: number, value: number, cpl: Privilege): void {
    const access = (cpl === 3 ? ACCESS_USER : 0) | ACCESS_WRITE;
    const p = this.cached(linear, 4, access);
    if (p < 0) {
      this.write(linear, 4, value, access);
      return;
    }
    this.watch?.noteStore(p, 4);
    try {
      this.mem.write32(p, value);
    } catch (e) {
      throw machineCheck(e);
    }
  }
  /** {@inheritDoc CpuMemory.write64} */
  write64(linear: number, lo: number, hi: number, cpl: Privilege): void {
    const access = (cpl === 3 ? ACCESS_USER : 0) | ACCESS_WRITE;
    const p = this.cached(linear, 8, access);
    if (p >= 0) {
      this.watch?.noteStore(p, 8);
      try {
        this.mem.write32(p, lo);
        this.mem.write32(p + 4, hi);
      } catch (e) {
        throw machineCheck(e);
      }
      return;
    }
    // Both halves' pages are translated before either half is written.
    this.span(linear, 8, access);
    this.write(linear, 4, lo, access);
    this.write(linear + 4, 4, hi, access);
  }
  /** {@inheritDoc CpuMemory.checkWrite} */
  checkWrite(linear: number, size: number, cpl: Privilege): void {
    const [p, q] = this.span(linear, size, (cpl === 3 ? ACCESS_USER : 0) | ACCESS_WRITE);
    // A frame with nothing behind it is the #MC the store would raise.
    const inFirst = q < 0 ? size : PAGE - (linear - Math.floor(linear / PAGE) * PAGE);
    if (!this.mem.contains(p, inFirst) || (q >= 0 && !this.mem.contains(q, size - inFirst)))
      throw new CpuFault(Vector.MC);
  }
  /** {@inheritDoc CpuMemory.fetch8} */
  fetch8(linear: number, cpl: Privilege): number {
    const p = this.translate(linear, ACCESS_FETCH | (cpl === 3 ? ACCESS_USER : 0));
    try {
      return this.mem.read8(p);
    } catch (e) {
      throw machineCheck(e);
    }
  }
  /** {@inheritDoc CpuMemory.readSystem32} */
  readSystem32(linear: number): number {
    return this.read(linear, 4, ACCESS_IMPLICIT);
  }
  /** {@inheritDoc CpuMemory.writeSystem32} */
  writeSystem32(linear: number, value: number): void {
    this.write(linear, 4, value, ACCESS_IMPLICIT);
  }
  /** {@inheritDoc CpuMemory.writePagingRegister} */
  writePagingRegister(register: 'cr0' | 'cr3' | 'cr4' | 'efer', value: bigint): void {
    this.flush();
    // In IA-32e mode none of these loads PDPTE registers, so none can fail here.
    if (register === 'cr3') this.mmu.movToCr3(value);
    else if (register === 'cr0') this.mmu.movToCr0(Number(value));
    else if (register === 'cr4') this.mmu.movToCr4(Number(value));
    else this.mmu.writeEfer(Number(value));
  }
  /** {@inheritDoc CpuMemory.invlpg} */
  invlpg(linear: number): void {
    this.flush();
    this.mmu.invlpg(Math.floor(linear / TWO32) >>> 0, linear >>> 0);
  }
  /** {@inheritDoc CpuMemory.invpcid} */
  invpcid(type: number, pcid: number, linear: number): void {
    this.flush();
    this.mmu.invpcid(type, pcid, Math.floor(linear / TWO32) >>> 0, linear >>> 0);
  }
}

// SDM Vol. 3C §28.2.1: an EPT violation reports its qualification (Table 28-7), the
// guest-physical address and, when bit 7 says so, the guest-linear address; an EPT
// misconfiguration only the guest-physical address.
function eptExit(record: SecondStageExitRecord): VmExit {
  const violation = record.outcome !== 2;
  const linearValid = violation && (record.qualification & 0x80) !== 0;
  return new VmExit(
    exitInformation({
      exitReason: violation ? BasicExitReason.EPT_VIOLATION : BasicExitReason.EPT_MISCONFIGURATION,
      exitQualification: violation ? BigInt(record.qualification >>> 0) : 0n,
      guestPhysicalAddress: record.guestPhysical,
      guestLinearAddress: linearValid
        ? (BigInt(record.linearHi >>> 0) << 32n) | BigInt(record.linearLo >>> 0)
        : 0n,
    }),
  );
}

function machineCheck(e: unknown): unknown {
  return e instanceof GuestMemoryError ? new CpuFault(Vector.MC) : e;
}
