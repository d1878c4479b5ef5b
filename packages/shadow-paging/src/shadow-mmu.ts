import type { GuestMemory } from '@vmkit/memory';
import {
  ACCESS_WRITE,
  Mmu,
  PageWalker,
  PagingMode,
  PagingState,
  type PagingStateInit,
  type PscConfig,
  type TlbConfig,
  WalkOutcome,
} from '@vmkit/paging';
import { CR0, CR4 } from '@vmkit/x86';
import { ShadowError } from './errors.js';
import { GuestView, type P2m } from './guest-view.js';
import { LogDirty, type LogDirtyOptions } from './log-dirty.js';
import { A, D, G, P, RW, SW_PREDICT, SW_WRITABLE, US } from './spte.js';
import { ShadowFaultKind, ShadowLock, ShadowStats } from './stats.js';

const U32 = 0x1_0000_0000;
const NON_LEAF = P | RW | US | A;
// Rights as paging's WalkResult.rights: bit 0 writable, bit 1 user, bit 2 XD.
const R_W = 1;
const R_U = 2;
const R_XD = 4;

/** How {@link ShadowMmu.translate} ended. */
export const ShadowOutcome = {
  /** Translated: `result.hostPhysical`, `result.physical`. */
  OK: 0,
  /** A guest #PF: `result.errorCode`; CR2 is the linear address. */
  PAGE_FAULT: 1,
  /** #GP(0): non-canonical address. */
  GENERAL_PROTECTION: 2,
  /** #SS(0): non-canonical stack access. */
  STACK_FAULT: 3,
  /** A write to a guest page table: emulate it with {@link ShadowMmu.emulateWrite} at `result.physical`. */
  PAGE_TABLE_WRITE: 4,
  /** The guest-physical address `result.physical` has no RAM: emulate the MMIO access. */
  MMIO: 5,
} as const;

/** A host-physical range `[base, limit)` for shadow tables. */
export interface ShadowMemoryRange {
  /** First byte. */
  readonly base: number;
  /** One past the last byte. */
  readonly limit: number;
}

/** Options of a {@link ShadowMmu}. */
export interface ShadowMmuOptions {
  /** The guest-physical to host-physical map. */
  readonly p2m: P2m;
  /** Host-physical range for shadow tables, 4-KByte aligned. */
  readonly shadowMemory: ShadowMemoryRange;
  /** Guest registers (4-level paging with CR0.WP = 1). */
  readonly guest: PagingStateInit;
  /** Shadow roots kept for guest CR3 values (bounded cache); default 4. */
  readonly rootCache?: number;
  /** Geometry of the hardware TLB in front of the shadow tables (paging's defaults). */
  readonly tlb?: TlbConfig;
  /** Geometry of the hardware paging-structure caches (paging's defaults). */
  readonly psc?: PscConfig;
}

/** The result of a translation (reused). */
export class ShadowResult {
  /** A {@link ShadowOutcome} value. */
  outcome = 0;
  /** Host-physical address (OK). */
  hostPhysical = 0;
  /** Guest-physical address (OK, PAGE_TABLE_WRITE, MMIO). */
  physical = 0;
  /** Guest #PF error code. */
  errorCode = 0;
  /** The kind of the last shadow fault handled ({@link ShadowFaultKind}), -1 if none. */
  lastFault = -1;
}

class ShadowPage {
  parents = new Set<number>();
  root = false;
  marker = 0;
  hisStride = -1;
  constructor(
    readonly hpa: number,
    readonly key: string,
    readonly gfn: number,
    readonly level: number,
    readonly direct: boolean,
  ) {}
}

/**
 * Shadow page tables as Xen and KVM build them, for 4-level guests: real 4-level tables in host
 * memory (guest-linear to host-physical) filled on demand from the guest's tables and the P2M.
 * A hardware walk (`@vmkit/paging`'s `PageWalker`) of the shadow tables is the guest's MMU;
 * when it faults, {@link ShadowMmu.handlePageFault} walks the guest tables, sets the guest's
 * accessed/dirty flags, and classifies the fault ({@link ShadowFaultKind}).
 *
 * - Shadow pages are keyed by guest table frame, level and the rights accumulated above (KVM's
 *   role), so leaf entries carry the combined R/W, U/S and XD of the whole guest path; guest
 *   2 MiB / 1 GiB pages are split into "direct" shadow tables of 4 KiB entries.
 * - Guest page tables are write-protected in every shadow leaf; a guest write to one is a
 *   `PAGE_TABLE_WRITE` fault, emulated by {@link ShadowMmu.emulateWrite}, which zaps the
 *   shadow entries of the written guest entry.
 * - Dirty-flag emulation: a shadow leaf is writable only once the guest leaf's D is set.
 * - Guest CR3 loads select a cached shadow root (bounded LRU cache); INVLPG zaps the leaf.
 * - Log-dirty mode with the three strategies of seed 004 ({@link ShadowMmu.startLogDirty}).
 *
 * @example
 * ```ts
 * const shadow = new ShadowMmu(host, { p2m, shadowMemory: { base, limit }, guest: regs });
 * if (shadow.translate(hi, lo, ACCESS_WRITE) === ShadowOutcome.OK) shadow.result.hostPhysical;
 * ```
 */
export class ShadowMmu {
  /** Counters. */
  readonly stats = new ShadowStats();
  /** The shadow lock. */
  readonly lock = new ShadowLock();
  // Set when a shadow entry lost rights or disappeared: the hardware TLB must be flushed
  // before the guest runs again (KVM's remote TLB flush).
  private tlbStale = false;
  // Guest frame of each host frame mapped by a shadow leaf (for `result.physical` on TLB hits).
  private readonly hostToGfn = new Map<number, number>();
  private readonly free: number[] = [];
  private readonly pages = new Map<number, ShadowPage>();
  private readonly byKey = new Map<string, ShadowPage>();
  private readonly byGfn = new Map<number, Set<ShadowPage>>();
  private readonly rmap = new Map<number, Set<number>>();
  private readonly leafGfn = new Map<number, number>();
  private readonly roots = new Map<number, ShadowPage>();
  private readonly rootCache: number;
  private logDirty: LogDirty | undefined;
  private readonly host: GuestMemory;
  private readonly p2m: P2m;
  private readonly view: GuestView;
  private readonly vcpus: VcpuState[] = [];
  // The vCPU whose operation is running (vCPU 0 outside `ShadowVcpu` calls).
  private active: VcpuState;

  /**
   * @param host - host-physical memory (guest RAM through the P2M, and the shadow tables)
   * @param options - P2M, shadow-table memory, guest registers, root-cache size
   */
  constructor(host: GuestMemory, options: ShadowMmuOptions) {
    const { base, limit } = options.shadowMemory;
    if (base % 4096 !== 0 || limit % 4096 !== 0 || !(limit > base)) {
      throw new ShadowError('INVALID_CONFIG', 'shadow memory must be a 4-KByte aligned range');
    }
    this.rootCache = options.rootCache ?? 4;
    if (!Number.isInteger(this.rootCache) || this.rootCache < 1) {
      throw new ShadowError('INVALID_CONFIG', 'the root cache holds at least one root');
    }
    for (let a = limit - 4096; a >= base; a -= 4096) this.free.push(a);
    this.host = host;
    this.p2m = options.p2m;
    this.view = new GuestView(host, options.p2m, (gfn) => this.markDirty(gfn));
    this.active = this.createVcpu(options.guest, options.tlb, options.psc);
  }

  /** vCPU 0's registers (CR3 is the guest's). @returns the state */
  get guestState(): PagingState {
    return this.vcpus[0]!.guestState;
  }

  /** vCPU 0's result of the last translation (reused). @returns the result */
  get result(): ShadowResult {
    return this.vcpus[0]!.result;
  }

  /**
   * vCPU 0's MMU hardware: `@vmkit/paging`'s `Mmu` (TLB and paging-structure caches) over the
   * shadow tables. Its `stats` count TLB hits, misses and walk references.
   *
   * @returns the MMU
   */
  get hardware(): Mmu {
    return this.vcpus[0]!.hardware;
  }

  /**
   * Adds a vCPU sharing these shadow tables, with its own registers, current root and
   * hardware TLB (the MMU object itself is vCPU 0). A shadow entry that loses rights is flushed
   * from every vCPU's TLB; those flushes of other vCPUs are counted as
   * `stats.remoteTlbFlushes` (KVM's and Xen's TLB-flush IPIs).
   *
   * @param options - the vCPU's guest registers (default: vCPU 0's initial ones) and TLB geometry
   * @returns the vCPU
   */
  addVcpu(options: { guest?: PagingStateInit; tlb?: TlbConfig; psc?: PscConfig } = {}): ShadowVcpu {
    const prev = this.active;
    const g = prev.guestState;
    const state = this.createVcpu(
      options.guest ?? {
        features: { maxPhyAddr: g.maxPhyAddr, page1GB: g.page1GB },
        cr0: g.cr0,
        cr3: g.cr3,
        cr4: g.cr4,
        efer: g.efer,
      },
      options.tlb,
      options.psc,
    );
    this.active = prev;
    return new ShadowVcpu(this, state);
  }

  /**
   * Runs one operation as the given vCPU.
   *
   * @internal
   */
  withVcpu<T>(vcpu: VcpuState, fn: () => T): T {
    const prev = this.active;
    this.active = vcpu;
    try {
      return fn();
    } finally {
      this.active = prev;
    }
  }

  private createVcpu(guest: PagingStateInit, tlb?: TlbConfig, psc?: PscConfig): VcpuState {
    const hardware = new Mmu(this.host, {
      features: { maxPhyAddr: 52 },
      ...(tlb !== undefined ? { tlb } : {}),
      ...(psc !== undefined ? { psc } : {}),
    });
    const v = new VcpuState(
      this.vcpus.length,
      new PagingState(guest),
      hardware,
      new PageWalker(this.view),
    );
    this.active = v;
    this.checkMode();
    this.vcpus.push(v);
    this.syncShadowState();
    v.current = this.rootFor(this.guestRootGfn());
    hardware.movToCr3(BigInt(v.current.hpa));
    return v;
  }

  /**
   * Guest MOV to CR3: selects the cached shadow root of the new guest root table, or builds one
   * (evicting the least recently used root beyond the cache size).
   *
   * @param cr3 - the guest's new CR3
   */
  setCr3(cr3: bigint): void {
    this.lock.acquire();
    this.active.guestState.setCr3(cr3);
    this.active.current = this.rootFor(this.guestRootGfn());
    // The hardware's MOV to CR3: non-global TLB entries go, global ones stay (as for the guest).
    this.active.hardware.movToCr3(BigInt(this.active.current.hpa));
    this.flushIfStale();
    this.lock.release();
  }

  /**
   * Changes guest CR0, CR4, EFER, RFLAGS or PKRU. Changes that alter translation (CR4.PGE,
   * PAE, LA57, SMEP, SMAP, PKE, EFER.NXE) drop every shadow table.
   *
   * @param regs - the registers to change
   */
  setRegisters(regs: {
    cr0?: number;
    cr4?: number;
    efer?: number;
    rflags?: number;
    pkru?: number;
  }): void {
    const g = this.active.guestState;
    const old = [g.cr0, g.cr4, g.efer, g.rflags, g.pkru] as const;
    const before = `${g.cr0}:${g.cr4}:${g.efer}`;
    if (regs.cr0 !== undefined) g.setCr0(regs.cr0);
    if (regs.cr4 !== undefined) g.setCr4(regs.cr4);
    if (regs.efer !== undefined) g.setEfer(regs.efer);
    if (regs.rflags !== undefined) g.setRflags(regs.rflags);
    if (regs.pkru !== undefined) g.setPkru(regs.pkru);
    try {
      this.checkMode();
    } catch (e) {
      // Refused: the guest keeps its old registers.
      g.setCr0(old[0]);
      g.setCr4(old[1]);
      g.setEfer(old[2]);
      g.setRflags(old[3]);
      g.setPkru(old[4]);
      throw e;
    }
    this.syncShadowState();
    if (`${g.cr0}:${g.cr4}:${g.efer}` !== before) this.flushAll();
  }

  /**
   * The guest's MMU: walks the shadow tables as hardware would and handles the shadow faults
   * it takes (at most a few rounds: fill, then dirty-flag emulation), returning what the
   * guest sees.
   *
   * @param linearHi - bits 63:32 of the linear address
   * @param linearLo - bits 31:0
   * @param access - paging's `ACCESS_*` flags
   * @returns a {@link ShadowOutcome}; details in {@link ShadowMmu.result}
   */
  translate(linearHi: number, linearLo: number, access: number): number {
    const r = this.active.result;
    r.lastFault = -1;
    for (let round = 0; round < 4; round++) {
      const o = this.active.hardware.translate(linearHi, linearLo, access);
      if (o === WalkOutcome.OK) {
        const hpa = this.active.hardware.result.physical;
        r.outcome = ShadowOutcome.OK;
        r.hostPhysical = hpa;
        r.physical = this.hostToGfn.get(Math.floor(hpa / 4096))! * 4096 + (linearLo & 0xfff);
        return r.outcome;
      }
      if (o !== WalkOutcome.PAGE_FAULT) {
        r.outcome =
          o === WalkOutcome.STACK_FAULT
            ? ShadowOutcome.STACK_FAULT
            : ShadowOutcome.GENERAL_PROTECTION;
        return r.outcome;
      }
      const kind = this.handlePageFault(linearHi, linearLo, access);
      r.lastFault = kind;
      if (kind === ShadowFaultKind.GUEST) return r.outcome;
      if (kind === ShadowFaultKind.PAGE_TABLE_WRITE || kind === ShadowFaultKind.MMIO)
        return r.outcome;
    }
    throw new ShadowError('INVALID_ARGUMENT', 'shadow fault handling did not converge');
  }

  /**
   * Handles a shadow page fault taken at a linear address (what the VMM's #PF exit handler
   * does): walks the guest tables for the access (setting guest A/D as the hardware would),
   * then injects a guest fault, fills or upgrades the shadow entry, or asks for emulation.
   *
   * @param linearHi - bits 63:32 of the faulting address
   * @param linearLo - bits 31:0
   * @param access - the access, paging's `ACCESS_*` flags
   * @returns a {@link ShadowFaultKind}; guest error code / gpa in {@link ShadowMmu.result}
   */
  handlePageFault(linearHi: number, linearLo: number, access: number): number {
    const r = this.active.result;
    this.lock.acquire();
    try {
      const o = this.active.walker.walk(this.active.guestState, linearHi, linearLo, access);
      const g = this.active.walker.result;
      this.lock.charge(g.referenceCount);
      if (
        o === WalkOutcome.PAGE_FAULT ||
        o === WalkOutcome.GENERAL_PROTECTION ||
        o === WalkOutcome.STACK_FAULT
      ) {
        r.outcome =
          o === WalkOutcome.PAGE_FAULT
            ? ShadowOutcome.PAGE_FAULT
            : o === WalkOutcome.STACK_FAULT
              ? ShadowOutcome.STACK_FAULT
              : ShadowOutcome.GENERAL_PROTECTION;
        r.errorCode = g.errorCode;
        return this.count(ShadowFaultKind.GUEST);
      }
      if (o !== WalkOutcome.OK) {
        // A guest table outside RAM: reported as MMIO at that address for the VMM to decide.
        r.outcome = ShadowOutcome.MMIO;
        r.physical = g.faultAddress;
        return this.count(ShadowFaultKind.MMIO);
      }
      const gpa = g.physical;
      const gfn = Math.floor(gpa / 4096);
      r.physical = gpa;
      if (!(this.p2m(gfn) >= 0)) {
        r.outcome = ShadowOutcome.MMIO;
        return this.count(ShadowFaultKind.MMIO);
      }
      const write = (access & ACCESS_WRITE) !== 0;
      if (write && this.byGfn.has(gfn)) {
        r.outcome = ShadowOutcome.PAGE_TABLE_WRITE;
        return this.count(ShadowFaultKind.PAGE_TABLE_WRITE);
      }
      let existed: boolean;
      try {
        existed = this.fill(linearHi >>> 0, linearLo >>> 0, write);
      } catch (e) {
        if (!(e instanceof ShadowError) || e.code !== 'OUT_OF_SHADOW_MEMORY') throw e;
        // Shadow memory is exhausted (a guest can build any number of page tables): drop
        // every shadow table and build this path again, as KVM reclaims shadow pages.
        this.flushAllHeld();
        this.stats.reclaims++;
        existed = this.fill(linearHi >>> 0, linearLo >>> 0, write);
      }
      return this.count(existed ? ShadowFaultKind.WRITE_PROTECT : ShadowFaultKind.NOT_PRESENT);
    } finally {
      this.flushIfStale();
      this.lock.release();
    }
  }

  /**
   * Emulates a guest write to one of its page tables (after a `PAGE_TABLE_WRITE` fault, or for
   * any VMM-side write to guest page tables): writes guest memory and zaps the shadow entries
   * derived from the written guest entry in every shadow of that table.
   *
   * @param gpa - guest-physical address written
   * @param value - the value (little-endian)
   * @param size - 1, 2, 4 or 8 bytes, not crossing an 8-byte entry
   */
  emulateWrite(gpa: number, value: bigint, size: 1 | 2 | 4 | 8): void {
    if (![1, 2, 4, 8].includes(size) || (gpa % 8) + size > 8) {
      throw new ShadowError('INVALID_ARGUMENT', 'the write must stay within one 8-byte entry');
    }
    this.lock.acquire();
    try {
      if (size === 8) this.view.write64(gpa, value);
      else if (size === 4) this.view.write32(gpa, Number(value & 0xffff_ffffn));
      else if (size === 2) this.view.write16(gpa, Number(value & 0xffffn));
      else this.view.write8(gpa, Number(value & 0xffn));
      this.stats.emulatedWrites++;
      const index = Math.floor((gpa % 4096) / 8);
      for (const page of this.byGfn.get(Math.floor(gpa / 4096)) ?? [])
        this.zap(page.hpa + index * 8);
    } finally {
      this.flushIfStale();
      this.lock.release();
    }
  }

  /**
   * Guest INVLPG: zaps the shadow leaf that maps the address, so the next access resyncs it.
   * A zapped leaf is flushed from every vCPU's hardware TLB (no vCPU keeps a translation whose
   * shadow entry is gone).
   *
   * @param linearHi - bits 63:32
   * @param linearLo - bits 31:0
   */
  invlpg(linearHi: number, linearLo: number): void {
    this.lock.acquire();
    this.stats.invlpgs++;
    // INVLPG in the hardware too: only this address's TLB entries (an alias through another
    // linear address may stay stale, as the architecture allows without its own INVLPG).
    this.active.hardware.invlpg(linearHi, linearLo);
    let table = this.active.current.hpa;
    for (let level = 4; level >= 1; level--) {
      const at = table + index(level, linearHi >>> 0, linearLo >>> 0) * 8;
      const lo = this.host.read32(at);
      if ((lo & P) === 0) break;
      if (level === 1) {
        this.zapLeaf(at, lo);
        // The leaf is shared: other vCPUs' TLBs may still cache it. Architecturally they may
        // (SDM Vol. 3A §4.10.5: INVLPG acts on this processor only), but once the leaf has left
        // the rmap, write-protecting its frame when it becomes a guest page table (getPage)
        // and zapping it on a guest PTE write (emulateWrite) can no longer reach those TLB
        // entries: a store through one would change a guest table unseen and leave the shadows
        // stale even after the guest's own full flush. So flush every vCPU, as KVM does.
        this.tlbStale = true;
      } else table = (this.host.read32(at + 4) & 0xf_ffff) * U32 + ((lo & 0xffff_f000) >>> 0);
    }
    this.flushIfStale();
    this.lock.release();
  }

  /** Drops every shadow table (roots are kept, emptied). */
  flushAll(): void {
    this.lock.acquire();
    for (const root of this.roots.values())
      for (let i = 0; i < 512; i++) this.zap(root.hpa + i * 8);
    this.flushIfStale();
    this.lock.release();
  }

  /** Number of shadow pages in use. @returns the count */
  shadowPages(): number {
    return this.pages.size;
  }

  /**
   * Starts log-dirty mode (seed 004): from now on every guest write to RAM is recorded. All
   * shadow leaves lose write permission first.
   *
   * @param options - strategy, marker width, EWMA alpha
   */
  startLogDirty(options: LogDirtyOptions): void {
    const log = new LogDirty(options, this.host, this.stats, this.lock);
    this.logDirty = log;
    this.lock.acquire();
    // Every present leaf may be writable: revoke all (a full scan, once).
    for (const page of this.pages.values()) if (page.level === 1) log.markAll(page);
    log.revokeMarked(false);
    this.tlbStale = true;
    this.flushIfStale();
    this.lock.release();
  }

  /** Stops log-dirty mode. */
  stopLogDirty(): void {
    this.logDirty = undefined;
  }

  /**
   * Ends a log-dirty epoch: returns the guest frames written since the last harvest (by the
   * guest through its shadow entries, and by the VMM: emulated page-table writes, guest A/D
   * updates), and prepares the next epoch as the strategy prescribes. The cost grows with
   * what was written (marked segments, predicted entries), not with guest size — except for
   * `original`, which drops every shadow table.
   *
   * @returns the dirty guest frame numbers, ascending
   */
  harvest(): number[] {
    const log = this.logDirty;
    if (log === undefined) throw new ShadowError('INVALID_ARGUMENT', 'log-dirty mode is off');
    this.lock.acquire();
    log.collectPredicted(this.leafGfn);
    // Prepare the next epoch before collecting: entries dropped now belong to this epoch.
    if (log.strategy === 'original') this.flushAllHeld();
    else log.revokeMarked(log.strategy === 'write-fault-prediction');
    this.tlbStale = true;
    const dirty = log.takeDirty();
    this.flushIfStale();
    this.lock.release();
    return dirty;
  }

  private flushAllHeld(): void {
    for (const root of this.roots.values())
      for (let i = 0; i < 512; i++) this.zap(root.hpa + i * 8);
  }

  private markDirty(gfn: number): void {
    this.logDirty?.markDirty(gfn);
  }

  private count(kind: number): number {
    this.stats.faults[kind]!++;
    return kind;
  }

  private checkMode(): void {
    const g = this.active.guestState;
    if (g.mode !== PagingMode.LEVEL4) {
      throw new ShadowError('UNSUPPORTED_MODE', 'only 4-level guest paging is shadowed');
    }
    if ((g.cr0 & CR0.WP) === 0) {
      throw new ShadowError('UNSUPPORTED_MODE', 'guest CR0.WP = 0 is not shadowed');
    }
  }

  // The shadow tables are walked with the guest's rights-related registers; PCIDs are not used.
  private syncShadowState(): void {
    const g = this.active.guestState;
    const s = this.active.hardware.state;
    s.setCr0(g.cr0);
    s.setCr4(g.cr4 & ~(CR4.PCIDE | CR4.LA57));
    s.setEfer(g.efer);
    s.setRflags(g.rflags);
    s.setPkru(g.pkru);
    // Rights are checked at each use, but a changed mode or CR4.PGE would change what the TLB
    // holds: start clean.
    this.active.hardware.flushAll();
  }

  // Every vCPU's TLB may cache the entry that lost rights: flush them all (remote flushes are
  // the TLB-shootdown IPIs a VMM sends).
  private flushIfStale(): void {
    if (!this.tlbStale) return;
    for (const v of this.vcpus) {
      v.hardware.flushAll();
      this.stats.tlbFlushes++;
      if (v !== this.active) this.stats.remoteTlbFlushes++;
    }
    this.tlbStale = false;
  }

  private guestRootGfn(): number {
    const g = this.active.guestState;
    return ((g.cr3Hi & 0xf_ffff) * U32 + ((g.cr3Lo & 0xffff_f000) >>> 0)) / 4096;
  }

  private rootFor(gfn: number): ShadowPage {
    const cached = this.roots.get(gfn);
    if (cached !== undefined) {
      this.stats.rootHits++;
      this.roots.delete(gfn);
      this.roots.set(gfn, cached);
      return cached;
    }
    this.stats.rootMisses++;
    const key = `g:${gfn}:4:${R_W | R_U}`;
    let root: ShadowPage;
    try {
      root = this.getPage(gfn, 4, false, key);
    } catch (e) {
      if (!(e instanceof ShadowError) || e.code !== 'OUT_OF_SHADOW_MEMORY') throw e;
      this.flushAllHeld();
      this.stats.reclaims++;
      root = this.getPage(gfn, 4, false, key);
    }
    root.root = true;
    this.roots.set(gfn, root);
    if (this.roots.size > this.rootCache) {
      // Evict the least recently used root that no other vCPU is running on.
      for (const [oldGfn, old] of this.roots) {
        if (old === root || this.vcpus.some((v) => v !== this.active && v.current === old))
          continue;
        this.roots.delete(oldGfn);
        old.root = false;
        if (old.parents.size === 0) this.freePage(old);
        break;
      }
    }
    return root;
  }

  private getPage(gfn: number, level: number, direct: boolean, key: string): ShadowPage {
    const existing = this.byKey.get(key);
    if (existing !== undefined) return existing;
    const hpa = this.free.pop();
    if (hpa === undefined) throw new ShadowError('OUT_OF_SHADOW_MEMORY', 'no free shadow page');
    this.host.fill(hpa, 4096, 0);
    const page = new ShadowPage(hpa, key, gfn, level, direct);
    this.pages.set(hpa, page);
    this.byKey.set(key, page);
    this.stats.pagesAllocated++;
    if (!direct) {
      let set = this.byGfn.get(gfn);
      if (set === undefined) {
        set = new Set();
        this.byGfn.set(gfn, set);
        // The frame is now a guest page table: write-protect every shadow leaf that maps it.
        for (const at of this.rmap.get(gfn) ?? []) {
          const lo = this.host.read32(at);
          this.host.write32(at, (lo & ~(RW | SW_WRITABLE | SW_PREDICT)) >>> 0);
          this.tlbStale = true;
          this.lock.charge(1);
        }
      }
      set.add(page);
    }
    return page;
  }

  // Builds the shadow path for the guest walk just done; returns whether the leaf existed.
  private fill(hi: number, lo: number, write: boolean): boolean {
    const g = this.active.walker.result;
    const host = this.host;
    let page = this.active.current;
    let acc = R_W | R_U;
    const leafLevel = g.leafLevel;
    for (let level = 4; level > 1; level--) {
      const at = page.hpa + index(level, hi, lo) * 8;
      // Rights of the guest entry at this level join the rights above the child.
      let key: string;
      let childGfn: number;
      let direct: boolean;
      if (level > leafLevel) {
        // The child mirrors the guest table this guest entry references.
        const eLo = g.entryLo[level]!;
        const eHi = g.entryHi[level]!;
        if ((eLo & RW) === 0) acc &= ~R_W;
        if ((eLo & US) === 0) acc &= ~R_U;
        if ((eHi & 0x8000_0000) !== 0 && (this.active.guestState.efer & 0x800) !== 0) acc |= R_XD;
        childGfn = ((eHi & 0xf_ffff) * U32 + ((eLo & 0xffff_f000) >>> 0)) / 4096;
        direct = false;
        key = `g:${childGfn}:${level - 1}:${acc}`;
      } else {
        // Inside a guest 2 MiB / 1 GiB page: a direct table of 4 KiB entries for part of it.
        direct = true;
        childGfn = this.directBase(g.frame, g.pageSize, lo, level - 1);
        key = `d:${childGfn}:${level - 1}:${g.rights}:${g.protectionKey}:${g.global ? 1 : 0}`;
      }
      const eLo = host.read32(at);
      if ((eLo & P) !== 0) {
        const child = this.pages.get(
          (host.read32(at + 4) & 0xf_ffff) * U32 + ((eLo & 0xffff_f000) >>> 0),
        );
        if (child !== undefined && child.key === key) {
          page = child;
          continue;
        }
        this.zap(at);
      }
      const child = this.getPage(childGfn, level - 1, direct, key);
      host.write32(at, ((child.hpa % U32) | NON_LEAF) >>> 0);
      host.write32(at + 4, Math.floor(child.hpa / U32));
      child.parents.add(at);
      this.lock.charge(1);
      page = child;
    }
    // The leaf: frame from the P2M, rights of the whole guest path.
    const at = page.hpa + index(1, hi, lo) * 8;
    const old = host.read32(at);
    const existed = (old & P) !== 0;
    if (existed) this.zapLeaf(at, old);
    const gfn = Math.floor(g.physical / 4096);
    const frame = this.p2m(gfn);
    const canWrite = (g.rights & R_W) !== 0 && g.dirty && !this.byGfn.has(gfn);
    let writable = canWrite;
    if (this.logDirty !== undefined) {
      // Log-dirty: writable only once this epoch's first write has been recorded.
      writable = canWrite && write;
      if (writable) this.markDirty(gfn);
    }
    let low = P | A | (g.rights & R_U ? US : 0) | (g.global ? G : 0) | (canWrite ? SW_WRITABLE : 0);
    if (writable) low |= RW | (write ? D : 0);
    const xd = (g.rights & R_XD) !== 0 ? 0x8000_0000 : 0;
    host.write32(at, ((frame % U32) | low) >>> 0);
    host.write32(at + 4, (Math.floor(frame / U32) | xd | (g.protectionKey << 27)) >>> 0);
    this.lock.charge(1);
    let set = this.rmap.get(gfn);
    if (set === undefined) {
      set = new Set();
      this.rmap.set(gfn, set);
    }
    set.add(at);
    this.leafGfn.set(at, gfn);
    this.hostToGfn.set(Math.floor(frame / 4096), gfn);
    if (writable && this.logDirty !== undefined) this.logDirty.madeWritable(page, index(1, hi, lo));
    return existed;
  }

  // The first guest frame of the part of a guest large page that a direct table at `level`
  // covers (2^(12 + 9 * level) bytes).
  private directBase(frame: number, pageSize: number, lo: number, level: number): number {
    const span = 2 ** (12 + 9 * level);
    const offset = lo % pageSize;
    return (frame + offset - (offset % span)) / 4096;
  }

  private zapLeaf(at: number, lo: number): void {
    const gfn = this.leafGfn.get(at);
    if (gfn !== undefined) {
      // A written entry dropped mid-epoch must not lose its dirty page.
      if ((lo & (RW | D)) === (RW | D)) this.markDirty(gfn);
      this.rmap.get(gfn)?.delete(at);
      this.leafGfn.delete(at);
    }
    this.host.write32(at, 0);
    this.host.write32(at + 4, 0);
    this.lock.charge(1);
  }

  private zap(at: number): void {
    const lo = this.host.read32(at);
    if ((lo & P) === 0) return;
    this.tlbStale = true;
    const owner = this.pages.get(Math.floor(at / 4096) * 4096);
    if (owner !== undefined && owner.level === 1) {
      this.zapLeaf(at, lo);
      return;
    }
    const childHpa = (this.host.read32(at + 4) & 0xf_ffff) * U32 + ((lo & 0xffff_f000) >>> 0);
    this.host.write32(at, 0);
    this.host.write32(at + 4, 0);
    this.lock.charge(1);
    const child = this.pages.get(childHpa);
    if (child === undefined) return;
    child.parents.delete(at);
    if (child.parents.size === 0 && !child.root) this.freePage(child);
  }

  private freePage(page: ShadowPage): void {
    for (let i = 0; i < 512; i++) this.zap(page.hpa + i * 8);
    this.pages.delete(page.hpa);
    this.byKey.delete(page.key);
    this.logDirty?.forget(page);
    if (!page.direct) {
      const set = this.byGfn.get(page.gfn);
      set?.delete(page);
      if (set !== undefined && set.size === 0) this.byGfn.delete(page.gfn);
    }
    this.free.push(page.hpa);
    this.stats.pagesFreed++;
  }
}

/**
 * The per-vCPU part of shadow paging: registers, hardware MMU, current shadow root.
 *
 * @internal
 */
export class VcpuState {
  /** The shadow root in use. */
  current!: ShadowPage;
  /** The result of this vCPU's last translation. */
  readonly result = new ShadowResult();

  /**
   * @param id - the vCPU index
   * @param guestState - the guest's registers
   * @param hardware - the MMU over the shadow tables
   * @param walker - the guest-table walker
   */
  constructor(
    readonly id: number,
    readonly guestState: PagingState,
    readonly hardware: Mmu,
    readonly walker: PageWalker,
  ) {}
}

/**
 * Another vCPU of a guest whose shadow tables are shared ({@link ShadowMmu.addVcpu}): the same
 * operations as {@link ShadowMmu}, with this vCPU's registers, shadow root and TLB.
 *
 * @example
 * ```ts
 * const cpu1 = shadow.addVcpu();
 * cpu1.setCr3(0x9000n);
 * cpu1.translate(0, 0x1000, 0);
 * ```
 */
export class ShadowVcpu {
  /**
   * Use {@link ShadowMmu.addVcpu}.
   *
   * @param mmu - the shared shadow MMU
   * @param state - this vCPU's state
   * @internal
   */
  constructor(
    private readonly mmu: ShadowMmu,
    private readonly state: VcpuState,
  ) {}

  /** The vCPU's index (vCPU 0 is the ShadowMmu itself). @returns the index */
  get id(): number {
    return this.state.id;
  }

  /** This vCPU's registers. @returns the state */
  get guestState(): PagingState {
    return this.state.guestState;
  }

  /** This vCPU's MMU hardware over the shadow tables. @returns the MMU */
  get hardware(): Mmu {
    return this.state.hardware;
  }

  /** The result of this vCPU's last translation. @returns the result */
  get result(): ShadowResult {
    return this.state.result;
  }

  /**
   * {@link ShadowMmu.translate} on this vCPU.
   *
   * @param linearHi - bits 63:32
   * @param linearLo - bits 31:0
   * @param access - paging's `ACCESS_*` flags
   * @returns a {@link ShadowOutcome}
   */
  translate(linearHi: number, linearLo: number, access: number): number {
    return this.mmu.withVcpu(this.state, () => this.mmu.translate(linearHi, linearLo, access));
  }

  /**
   * {@link ShadowMmu.handlePageFault} on this vCPU.
   *
   * @param linearHi - bits 63:32
   * @param linearLo - bits 31:0
   * @param access - paging's `ACCESS_*` flags
   * @returns a {@link ShadowFaultKind}
   */
  handlePageFault(linearHi: number, linearLo: number, access: number): number {
    return this.mmu.withVcpu(this.state, () =>
      this.mmu.handlePageFault(linearHi, linearLo, access),
    );
  }

  /** {@link ShadowMmu.setCr3} on this vCPU. @param cr3 - the guest's new CR3 */
  setCr3(cr3: bigint): void {
    this.mmu.withVcpu(this.state, () => this.mmu.setCr3(cr3));
  }

  /**
   * {@link ShadowMmu.invlpg} on this vCPU.
   *
   * @param linearHi - bits 63:32
   * @param linearLo - bits 31:0
   */
  invlpg(linearHi: number, linearLo: number): void {
    this.mmu.withVcpu(this.state, () => this.mmu.invlpg(linearHi, linearLo));
  }

  /**
   * {@link ShadowMmu.setRegisters} on this vCPU.
   *
   * @param regs - the registers to change
   */
  setRegisters(regs: {
    cr0?: number;
    cr4?: number;
    efer?: number;
    rflags?: number;
    pkru?: number;
  }): void {
    this.mmu.withVcpu(this.state, () => this.mmu.setRegisters(regs));
  }

  /**
   * {@link ShadowMmu.emulateWrite} on behalf of this vCPU.
   *
   * @param gpa - guest-physical address written
   * @param value - the value
   * @param size - 1, 2, 4 or 8
   */
  emulateWrite(gpa: number, value: bigint, size: 1 | 2 | 4 | 8): void {
    this.mmu.withVcpu(this.state, () => this.mmu.emulateWrite(gpa, value, size));
  }
}

function index(level: number, hi: number, lo: number): number {
  if (level === 1) return (lo >>> 12) & 0x1ff;
  if (level === 2) return (lo >>> 21) & 0x1ff;
  if (level === 3) return ((hi & 0x7f) << 2) | (lo >>> 30);
  return (hi >>> 7) & 0x1ff;
}
