import type { GuestMemory } from '@vmkit/memory';
import {
  ACCESS_FETCH,
  ACCESS_IMPLICIT,
  ACCESS_STACK,
  ACCESS_USER,
  ACCESS_WRITE,
  PageWalker,
  PagingMode,
  PagingState,
  type PagingStateInit,
  PagingStructureCaches,
  type PscConfig,
  TLB_ATTR,
  Tlb,
  type TlbConfig,
  type TranslationCache,
  type WalkObserver,
  WalkOutcome,
  type WalkResult,
} from '@vmkit/paging';
import { CR4 } from '@vmkit/x86';
import type { EptFeatures } from './capabilities.js';
import { EPT } from './constants.js';
import { Ept, type EptCacheConfig } from './ept.js';
import { checkEptp, decodeEptp } from './eptp.js';
import { EptError } from './errors.js';
import type { EptExit } from './exit.js';
import { NestedStats } from './nested-stats.js';
import { REF_GUEST, REF_WRITE, type ReferenceLog } from './reference-log.js';

const U32 = 0x1_0000_0000;
// Combined-cache tags: (VPID, EP4TA) context x 8192 + PCID; PCID slot 4096 holds the
// context's global entries, so a global entry never crosses a VPID or EP4TA.
const CTX = 8192;
const GLOBAL = 4096;

/** Options of a {@link NestedMmu}. */
export interface NestedMmuOptions {
  /** The EPTP (it must pass the VM-entry checks). */
  readonly eptp: bigint;
  /** The VPID (0..0xffff); default 1. */
  readonly vpid?: number;
  /** EPT capabilities and controls. */
  readonly eptFeatures?: EptFeatures;
  /** Guest processor features and initial registers. */
  readonly guest?: PagingStateInit;
  /** Combined-TLB geometry (default: paging's TLB defaults). */
  readonly tlb?: TlbConfig;
  /** Combined paging-structure-cache geometry (default: paging's defaults). */
  readonly psc?: PscConfig;
  /** EPT caches: guest-physical mappings and EPT paging-structure caches (default: enabled). */
  readonly eptCaches?: EptCacheConfig;
  /** An observer of every walk reference (see {@link NestedMmu.walkObserver}). */
  readonly walkObserver?: WalkObserver;
}

const DEFAULT_EPT_CACHES: EptCacheConfig = {
  small: { sets: 64, ways: 4 },
  large: { sets: 8, ways: 4 },
  huge: { sets: 1, ways: 4 },
  pde: { sets: 8, ways: 4 },
  pdpte: { sets: 4, ways: 4 },
  pml4e: { sets: 1, ways: 2 },
  pml5e: { sets: 1, ways: 2 },
};

/**
 * Guest-linear to host-physical translation as a processor in VMX non-root operation with EPT
 * does it (SDM Vol. 3C §29.4): a combined TLB (guest-linear page to host-physical frame, tagged
 * with VPID, EP4TA and PCID), combined paging-structure caches (guest paging-structure entries
 * to the host-physical address of the next guest table), and, inside {@link Ept}, the
 * guest-physical mappings and EPT paging-structure caches ("nested TLB"). A miss walks the
 * guest tables with `@vmkit/paging`'s `PageWalker` through the EPT second stage.
 *
 * Invalidation: guest MOV to CR3 and INVLPG ({@link NestedMmu.movToCr3},
 * {@link NestedMmu.invlpg}) as SDM Vol. 3A §4.10.4 defines them for the current VPID (combined
 * mappings of every EP4TA); the VMM's INVEPT and INVVPID ({@link NestedMmu.invept},
 * {@link NestedMmu.invvpid}) as SDM Vol. 3C §29.4.3 and the instruction pages define them.
 *
 * @example
 * ```ts
 * const mmu = new NestedMmu(host, { eptp, vpid: 1, guest: { cr0, cr4, efer, cr3 } });
 * if (mmu.translate(0, 0x40_1000, ACCESS_WRITE) === WalkOutcome.OK) mmu.result.hostPhysical;
 * mmu.invept(1, eptp); // single-context
 * ```
 */
export class NestedMmu {
  /** The EPT second stage (with its own caches and counters). */
  readonly ept: Ept;
  /** The guest's paging registers. */
  readonly state: PagingState;
  /** The guest walker (through {@link NestedMmu.ept}). */
  readonly walker: PageWalker;
  /** The combined TLB. */
  readonly tlb: Tlb;
  /** The combined paging-structure caches. */
  readonly psc: PagingStructureCaches;
  /** Counters. */
  readonly stats = new NestedStats();
  /** The result of the last translation (shared with the walker). */
  readonly result: WalkResult;
  /**
   * Called after each two-dimensional walk with every memory reference it made, in order, with
   * its host-physical address: EPT entry reads and EPT A/D writes, and guest entry reads and
   * guest A/D writes (those the walk performed; updates abandoned on an EPT exit are not
   * references). `info` is as in {@link ReferenceLog}: the level, {@link REF_WRITE} and
   * {@link REF_GUEST}. These are exactly the references `stats.references` counts (and those
   * with `REF_GUEST`, `stats.guestReferences`), so a cache model can price each by where it
   * hits. Undefined by default, and then walks cost nothing extra.
   */
  walkObserver: WalkObserver | undefined;
  private vpidValue: number;
  private ctx = 0;
  private readonly contexts = new Map<string, number>();
  // Per combined-cache slot: the guest-physical frame (TLB) or host table address (PSC).
  private readonly extra = new Map<TranslationCache, Float64Array>();
  private readonly guestHpa = new Float64Array(6);
  // Guest-physical frames of the combined TLB entries, by slot (the hit path reads them).
  private readonly smallFrames: Float64Array;
  private readonly largeFrames: Float64Array;
  private readonly hugeFrames: Float64Array;

  /**
   * @param host - host-physical memory (EPT tables, guest memory)
   * @param options - EPTP, VPID, features, cache geometry
   */
  constructor(host: GuestMemory, options: NestedMmuOptions) {
    this.ept = new Ept(host, {
      eptp: options.eptp,
      ...(options.eptFeatures !== undefined ? { features: options.eptFeatures } : {}),
      caches: options.eptCaches ?? DEFAULT_EPT_CACHES,
    });
    this.state = new PagingState(options.guest);
    this.walker = new PageWalker(host, this.ept);
    this.result = this.walker.result;
    this.tlb = new Tlb(options.tlb);
    this.psc = new PagingStructureCaches(options.psc);
    for (const c of [this.tlb.small, this.tlb.large, this.tlb.huge, ...this.psc.byLevel]) {
      if (c !== undefined) this.extra.set(c, new Float64Array(c.capacity));
    }
    // A guest that starts in PAE paging has its PDPTE registers loaded from CR3, as the
    // VM entry that loads the guest state would (a failed load leaves them zero).
    if (this.state.mode === PagingMode.PAE) this.ept.loadPdptes(this.state);
    this.smallFrames = this.extra.get(this.tlb.small)!;
    this.largeFrames = this.extra.get(this.tlb.large)!;
    this.hugeFrames = this.extra.get(this.tlb.huge)!;
    this.vpidValue = checkVpid(options.vpid ?? 1);
    this.ctx = this.contextOf(this.vpidValue, this.ept.ep4ta);
    this.walkObserver = options.walkObserver;
  }

  /** The current VPID. @returns the VPID */
  get vpid(): number {
    return this.vpidValue;
  }

  /**
   * Switches to another vCPU context (VMWRITE of VPID and EPTP, then VM entry). Cached
   * information of other contexts stays tagged and may be used after switching back.
   *
   * @param vpid - the VPID, 0..0xffff
   * @param eptp - the EPTP (default: unchanged)
   */
  setContext(vpid: number, eptp?: bigint): void {
    this.vpidValue = checkVpid(vpid);
    if (eptp !== undefined) this.ept.setEptp(eptp);
    this.ctx = this.contextOf(this.vpidValue, this.ept.ep4ta);
  }

  /**
   * Translates a guest-linear address (two uint32 halves) to host-physical.
   *
   * @param linearHi - bits 63:32
   * @param linearLo - bits 31:0
   * @param access - paging's `ACCESS_*` flags
   * @returns paging's `WalkOutcome`; `SECOND_STAGE_FAULT` means an EPT exit ({@link Ept.exit})
   */
  translate(linearHi: number, linearLo: number, access: number): number {
    const state = this.state;
    let hi = linearHi >>> 0;
    const lo = linearLo >>> 0;
    const mode = state.mode;
    if (mode >= PagingMode.LEVEL4) {
      const top = mode === PagingMode.LEVEL4 ? hi >> 15 : hi >> 24;
      if (top !== 0 && top !== -1) {
        const r = this.result;
        r.linearHi = hi;
        r.linearLo = lo;
        r.referenceCount = 0;
        r.outcome =
          (access & ACCESS_STACK) !== 0 ? WalkOutcome.STACK_FAULT : WalkOutcome.GENERAL_PROTECTION;
        this.stats.faults++;
        return r.outcome;
      }
    } else if (mode !== PagingMode.NONE) {
      hi = 0;
    }
    // Protection keys are checked by the walker only: with PKE/PKS on, every access walks.
    if ((state.cr4 & (CR4.PKE | CR4.PKS)) === 0 && mode !== PagingMode.NONE) {
      const small = this.tlb.small;
      const tag = hi * 0x10_0000 + (lo >>> 12);
      if (this.hit(small, this.smallFrames, tag, 0xfff, hi, lo, access)) return WalkOutcome.OK;
      const large = this.tlb.large;
      const largeTag = mode === PagingMode.BITS32 ? lo >>> 22 : hi * 0x800 + (lo >>> 21);
      const largeMask = mode === PagingMode.BITS32 ? 0x3f_ffff : 0x1f_ffff;
      if (this.hit(large, this.largeFrames, largeTag, largeMask, hi, lo, access))
        return WalkOutcome.OK;
      const huge = this.tlb.huge;
      if (this.hit(huge, this.hugeFrames, hi * 4 + (lo >>> 30), 0x3fff_ffff, hi, lo, access))
        return WalkOutcome.OK;
    }
    return this.miss(hi, lo, access);
  }

  /**
   * Guest MOV to CR3 (SDM Vol. 3A §4.10.4.1 for the current VPID): invalidates the non-global
   * combined TLB entries and the combined paging-structure-cache entries of the new PCID (all
   * EP4TAs), unless CR4.PCIDE = 1 and bit 63 is set. In PAE mode the PDPTEs are loaded through
   * EPT first.
   *
   * @param value - the 64-bit source operand
   * @returns `WalkOutcome.OK`, or the PDPTE-load failure (CR3 unchanged)
   */
  movToCr3(value: bigint): number {
    const state = this.state;
    const hi = Number(value >> 32n) >>> 0;
    const lo = Number(value & 0xffff_ffffn);
    const noFlush = (state.cr4 & CR4.PCIDE) !== 0 && (hi & 0x8000_0000) !== 0;
    const oldHi = state.cr3Hi;
    const oldLo = state.cr3Lo;
    state.setCr3Halves(hi & 0x7fff_ffff, lo);
    if (state.mode === PagingMode.PAE) {
      const loaded = this.ept.loadPdptes(state);
      if (loaded !== WalkOutcome.OK) {
        state.setCr3Halves(oldHi, oldLo);
        return loaded;
      }
    }
    if (!noFlush) {
      const pcid = state.pcid;
      this.invalidateWhere((ctx, p, global) => this.sameVpid(ctx) && p === pcid && !global, true);
    }
    return WalkOutcome.OK;
  }

  /**
   * Guest MOV to CR0, MOV to CR4 or WRMSR IA32_EFER, and RFLAGS changes. A change of a bit that
   * alters translation (CR0.PG/WP/CD/NW, CR4.PSE/PAE/PGE/PCIDE/SMEP/SMAP/PKE/LA57/PKS,
   * EFER.LME/NXE) invalidates every combined TLB and combined paging-structure-cache entry of
   * the current VPID (all EP4TAs): at least what SDM Vol. 3A §4.10.4.1 requires, and
   * invalidating more is always allowed. Rights are checked at use, so WP/SMEP/SMAP changes
   * need no flush for correctness; they are included for simplicity. In PAE mode the PDPTEs are
   * (re)loaded through EPT; a failed load leaves the registers unchanged.
   *
   * @param regs - the registers to change
   * @returns `WalkOutcome.OK` or the PDPTE-load failure
   */
  setRegisters(regs: { cr0?: number; cr4?: number; efer?: number; rflags?: number }): number {
    const s = this.state;
    const old = [s.cr0, s.cr4, s.efer] as const;
    if (regs.cr0 !== undefined) s.setCr0(regs.cr0);
    if (regs.cr4 !== undefined) s.setCr4(regs.cr4);
    if (regs.efer !== undefined) s.setEfer(regs.efer);
    if (regs.rflags !== undefined) s.setRflags(regs.rflags);
    const changed = s.cr0 !== old[0] || s.cr4 !== old[1] || s.efer !== old[2];
    if (changed && s.mode === PagingMode.PAE) {
      const loaded = this.ept.loadPdptes(s);
      if (loaded !== WalkOutcome.OK) {
        s.setCr0(old[0]);
        s.setCr4(old[1]);
        s.setEfer(old[2]);
        return loaded;
      }
    }
    if (changed) this.invalidateWhere((ctx) => this.sameVpid(ctx), true);
    return WalkOutcome.OK;
  }

  /**
   * A VM entry or VM exit: with VPID 0 (VPIDs not in use), every transition invalidates the
   * linear and combined mappings of VPID 0000H (SDM Vol. 3C §29.1); with another VPID nothing.
   */
  vmTransition(): void {
    if (this.vpidValue === 0) this.invalidateWhere((ctx) => this.vpidOf(ctx) === 0, true);
  }

  /**
   * Guest INVLPG: combined TLB entries for the page (current PCID, and global ones) and every
   * combined paging-structure-cache entry of the current PCID, for the current VPID and every
   * EP4TA (SDM Vol. 3C §29.4.3.1).
   *
   * @param linearHi - bits 63:32
   * @param linearLo - bits 31:0
   */
  invlpg(linearHi: number, linearLo: number): void {
    const pcid = this.state.pcid;
    this.invalidatePage(linearHi >>> 0, linearLo >>> 0, (ctx, p, global) => {
      return this.sameVpid(ctx) && (global || p === pcid);
    });
    this.invalidatePsc((ctx, p) => this.sameVpid(ctx) && p === pcid);
  }

  /**
   * Guest MOV to CR0 (the CPU seam's name for {@link NestedMmu.setRegisters} with `cr0`).
   *
   * @param value - the new CR0
   * @returns `WalkOutcome.OK` or the PDPTE-load failure
   */
  movToCr0(value: number): number {
    return this.setRegisters({ cr0: value });
  }

  /**
   * Guest MOV to CR4 (the CPU seam's name for {@link NestedMmu.setRegisters} with `cr4`).
   *
   * @param value - the new CR4
   * @returns `WalkOutcome.OK` or the PDPTE-load failure
   */
  movToCr4(value: number): number {
    return this.setRegisters({ cr4: value });
  }

  /**
   * Guest WRMSR to IA32_EFER (the CPU seam's name for {@link NestedMmu.setRegisters} with
   * `efer`).
   *
   * @param value - the new EFER
   */
  writeEfer(value: number): void {
    this.setRegisters({ efer: value });
  }

  /**
   * The guest's RFLAGS changed (AC matters to SMAP); no translation is invalidated.
   *
   * @param value - RFLAGS
   */
  setRflags(value: number): void {
    this.state.setRflags(value);
  }

  /**
   * Guest INVPCID (SDM Vol. 2A INVPCID, Vol. 3A §4.10.4.1, for the current VPID and every
   * EP4TA as §29.4.3.1 extends it to combined mappings). Type 0: the non-global combined
   * mappings of one page for one PCID; 1: all non-global ones of one PCID; 2: every one,
   * global included; 3: every one but global ones. Each also drops the combined
   * paging-structure-cache entries of the PCIDs concerned.
   *
   * @param type - 0..3
   * @param pcid - the descriptor's PCID
   * @param linearHi - bits 63:32 of the descriptor's address (type 0)
   * @param linearLo - bits 31:0 (type 0)
   * @returns `WalkOutcome.OK`, or `WalkOutcome.GENERAL_PROTECTION` for a type above 3 or a PCID
   *   above 0xfff
   */
  invpcid(type: number, pcid: number, linearHi = 0, linearLo = 0): number {
    if (!Number.isInteger(type) || type < 0 || type > 3) return WalkOutcome.GENERAL_PROTECTION;
    if (!Number.isInteger(pcid) || pcid < 0 || pcid > 0xfff) return WalkOutcome.GENERAL_PROTECTION;
    const own = (ctx: number) => this.sameVpid(ctx);
    switch (type) {
      case 0:
        this.invalidatePage(linearHi >>> 0, linearLo >>> 0, (ctx, p) => own(ctx) && p === pcid);
        this.invalidatePsc((ctx, p) => own(ctx) && p === pcid);
        break;
      case 1:
        this.invalidateWhere((ctx, p) => own(ctx) && p === pcid, true);
        break;
      case 2:
        this.invalidateWhere((ctx) => own(ctx), true);
        break;
      default:
        this.invalidateWhere((ctx, _p, global) => own(ctx) && !global, true);
        break;
    }
    return WalkOutcome.OK;
  }

  /**
   * The record of the last EPT-induced exit (the {@link Ept}'s {@link EptExit}): what a CPU
   * reads after `translate` returns `SECOND_STAGE_FAULT` to build the EPT-violation or
   * EPT-misconfiguration VM exit.
   *
   * @returns the EPT exit record
   */
  get secondStageExit(): EptExit {
    return this.ept.exit;
  }

  /**
   * INVEPT (SDM Vol. 3C §29.4.3 and the INVEPT instruction). Type 1 (single-context):
   * guest-physical and combined mappings of the EP4TA in `eptp`, every VPID and PCID; the EPTP
   * must pass the VM-entry checks. Type 2 (global): all of them.
   *
   * @param type - 1 or 2
   * @param eptp - the descriptor's EPTP (type 1)
   * @returns true, or false for VMfailValid (unsupported type, invalid EPTP)
   */
  invept(type: number, eptp = 0n): boolean {
    if (type === 2) {
      this.ept.invalidate();
      this.invalidateWhere(() => true, true);
      return true;
    }
    if (type !== 1) return false;
    if (checkEptp(eptp, this.ept.features) !== undefined) return false;
    const root = decodeEptp(eptp).root;
    this.ept.invalidate(root);
    this.invalidateWhere((ctx) => this.ep4taOf(ctx) === root, true);
    return true;
  }

  /**
   * INVVPID (SDM Vol. 3C §29.4.3 and the INVVPID instruction): linear and combined mappings of
   * VPIDs, for every EP4TA; guest-physical mappings are untouched. Type 0 (individual address):
   * the page of one address for one VPID, all PCIDs, global entries included, plus that VPID's
   * paging-structure-cache entries; 1 (single context): everything of one VPID; 2 (all
   * contexts): every VPID but 0000H; 3 (single context retaining globals): everything of one
   * VPID but global translations. Types 0, 1 and 3 fail for VPID 0; type 0 fails for a
   * non-canonical address.
   *
   * @param type - 0..3
   * @param vpid - the descriptor's VPID
   * @param linearHi - bits 63:32 of the descriptor's address (type 0)
   * @param linearLo - bits 31:0 (type 0)
   * @returns true, or false for VMfailValid
   */
  invvpid(type: number, vpid: number, linearHi = 0, linearLo = 0): boolean {
    if (!Number.isInteger(vpid) || vpid < 0 || vpid > 0xffff) return false;
    const ofVpid = (ctx: number) => this.vpidOf(ctx) === vpid;
    switch (type) {
      case 0: {
        if (vpid === 0) return false;
        // Canonical with respect to 4-level (or 5-level with LA57) paging.
        const top = (this.state.cr4 & CR4.LA57) !== 0 ? linearHi >> 24 : linearHi >> 15;
        if (top !== 0 && top !== -1) return false;
        this.invalidatePage(linearHi >>> 0, linearLo >>> 0, ofVpid);
        this.invalidatePsc(ofVpid);
        return true;
      }
      case 1:
        if (vpid === 0) return false;
        this.invalidateWhere(ofVpid, true);
        return true;
      case 2:
        this.invalidateWhere((ctx) => this.vpidOf(ctx) !== 0, true);
        return true;
      case 3:
        if (vpid === 0) return false;
        this.invalidateWhere((ctx, _p, global) => ofVpid(ctx) && !global, true);
        return true;
      default:
        return false;
    }
  }

  private hit(
    cache: TranslationCache,
    frames: Float64Array,
    tag: number,
    offsetMask: number,
    hi: number,
    lo: number,
    access: number,
  ): boolean {
    if (cache.ways === 0) return false;
    const base = this.ctx * CTX;
    let slot = cache.lookup(tag, base + this.state.pcid);
    if (slot < 0) slot = cache.lookup(tag, base + GLOBAL);
    if (slot < 0) return false;
    const attr = cache.attr[slot]!;
    const write = (access & ACCESS_WRITE) !== 0;
    // A write through an entry cached with guest D = 0 (or EPT D = 0 with EPT A/D) walks again.
    if (write && (attr & TLB_ATTR.DIRTY) === 0) return false;
    const rights = attr & TLB_ATTR.RIGHTS;
    const index =
      (access & (ACCESS_WRITE | ACCESS_USER | ACCESS_FETCH)) |
      ((access & ACCESS_IMPLICIT) !== 0 ? 1 : 0);
    if (this.state.permission[(index << 3) | rights] !== 0) return false;
    // EPT permissions of the combined entry (bits 2:0 and 10 in attrHi).
    const ept = cache.attrHi[slot]!;
    const fetch = (access & ACCESS_FETCH) !== 0;
    const need = fetch
      ? this.ept.features.modeBasedExecute && (rights & 2) !== 0
        ? EPT.XU
        : EPT.X
      : write
        ? EPT.W
        : EPT.R;
    if ((ept & need) === 0) return false;
    const r = this.result;
    const offset = lo & offsetMask;
    r.outcome = WalkOutcome.OK;
    r.errorCode = 0;
    r.linearHi = hi;
    r.linearLo = lo;
    r.referenceCount = 0;
    r.frame = frames[slot]!;
    r.physical = r.frame + offset;
    r.hostPhysical = cache.value[slot]! + offset;
    r.pageSize = offsetMask + 1;
    r.rights = rights;
    r.dirty = (attr & TLB_ATTR.DIRTY) !== 0;
    r.global = cache.pcid[slot]! % CTX === GLOBAL;
    this.stats.hits++;
    return true;
  }

  private miss(hi: number, lo: number, access: number): number {
    const state = this.state;
    const stats = this.stats;
    const log = this.ept.references;
    stats.misses++;
    log.clear();
    let outcome = -1;
    let start = state.mode === PagingMode.LEVEL5 ? 5 : 4;
    let accLo = -1;
    let accHi = 0;
    const base = this.ctx * CTX;
    if (state.mode >= PagingMode.LEVEL4) {
      // The deepest combined paging-structure-cache hit wins (SDM Vol. 3A §4.10.3.2): it gives
      // the host-physical address of the next guest table, so that entry needs no EPT walk.
      for (let level = 2; level <= start && outcome < 0; level++) {
        const c = this.psc.byLevel[level]!;
        if (c.ways === 0) continue;
        const s = c.lookup(PagingStructureCaches.tagFor(level, hi, lo), base + state.pcid);
        if (s < 0) continue;
        stats.pscHits[level]!++;
        accLo = c.attr[s]!;
        accHi = c.attrHi[s]!;
        const table = c.value[s]!;
        this.ept.hint(Math.floor(table / 4096), this.extra.get(c)![s]!);
        start = level - 1;
        outcome = this.walker.walkFrom(state, hi, lo, access, start, table, accLo, accHi);
      }
    }
    if (outcome < 0) outcome = this.walker.walk(state, hi, lo, access);
    stats.walks++;
    stats.references += log.count;
    stats.guestReferences += log.countWhere(REF_GUEST, REF_GUEST);
    if (this.walkObserver !== undefined) this.observe();
    const r = this.result;
    if (outcome === WalkOutcome.OK) {
      this.recordGuestTables(start);
      this.fillTlb(hi, lo);
      if (state.mode >= PagingMode.LEVEL4) this.fillPsc(hi, lo, start, accLo, accHi);
    } else if (outcome === WalkOutcome.PAGE_FAULT) {
      stats.faults++;
      // §4.10.4.1: a page fault invalidates the entries for the faulting address.
      const pcid = state.pcid;
      this.invalidatePage(hi, lo, (ctx, p) => ctx === this.ctx && p === pcid);
    } else if (outcome === WalkOutcome.SECOND_STAGE_FAULT) {
      stats.eptExits++;
    }
    return r.outcome;
  }

  // The log keeps 512 references. One walk makes at most 120: 5 guest entry reads, 5 guest A/D
  // writes and the final address, each with an EPT walk of at most 5 reads and 5 EPT A/D writes
  // (11 x 10), plus the 10 guest references. So every counted reference is observed.
  private observe(): void {
    const log = this.ept.references;
    const observer = this.walkObserver!;
    const end = Math.min(log.count, log.address.length);
    for (let i = 0; i < end; i++) observer(log.address[i]!, log.info[i]!);
  }

  // Host-physical addresses of the guest entries read, by level, from the reference log.
  private recordGuestTables(start: number): void {
    const log = this.ept.references;
    let level = start;
    const end = Math.min(log.count, log.address.length);
    for (let i = 0; i < end && level >= 1; i++) {
      if ((log.info[i]! & (REF_GUEST | REF_WRITE)) === REF_GUEST)
        this.guestHpa[level--] = log.address[i]!;
    }
  }

  private fillTlb(hi: number, lo: number): void {
    const r = this.result;
    const f = this.ept.lastFinal;
    // The combined page is the smaller of the guest page and the EPT page.
    let size = Math.min(r.pageSize, f.pageSize);
    // 32-bit paging tags large entries by 4 MiB: a 2 MiB combined page is cached as 4 KiB.
    if (size === 0x20_0000 && this.state.mode === PagingMode.BITS32) size = 0x1000;
    let cache: TranslationCache;
    let tag: number;
    if (size === 0x1000) {
      cache = this.tlb.small;
      tag = hi * 0x10_0000 + (lo >>> 12);
    } else if (size === 0x4000_0000) {
      cache = this.tlb.huge;
      tag = hi * 4 + (lo >>> 30);
    } else {
      cache = this.tlb.large;
      tag = size === 0x40_0000 ? lo >>> 22 : hi * 0x800 + (lo >>> 21);
    }
    if (cache.ways === 0) return;
    const offset = lo & (size - 1);
    const slot = cache.fill(tag, this.ctx * CTX + (r.global ? GLOBAL : this.state.pcid), false);
    cache.value[slot] = r.hostPhysical - offset;
    this.extra.get(cache)![slot] = r.physical - offset;
    cache.attr[slot] = r.rights | (r.dirty && f.dirty ? TLB_ATTR.DIRTY : 0);
    cache.attrHi[slot] = f.permissions;
  }

  private fillPsc(hi: number, lo: number, start: number, accLo: number, accHi: number): void {
    const r = this.result;
    const am = this.state.addressHiMask;
    const tagBase = this.ctx * CTX + this.state.pcid;
    for (let level = start; level > r.leafLevel; level--) {
      const eLo = r.entryLo[level]!;
      const eHi = r.entryHi[level]!;
      accLo &= eLo;
      accHi |= eHi;
      const c = this.psc.byLevel[level]!;
      if (c.ways === 0) continue;
      const slot = c.fill(PagingStructureCaches.tagFor(level, hi, lo), tagBase, false);
      c.value[slot] = (eHi & am) * U32 + ((eLo & 0xffff_f000) >>> 0);
      c.attr[slot] = accLo;
      c.attrHi[slot] = accHi;
      // The next table's host address: the page of the entry read one level down.
      this.extra.get(c)![slot] = Math.floor(this.guestHpa[level - 1]! / 4096) * 4096;
    }
  }

  private contextOf(vpid: number, ep4ta: number): number {
    const key = `${vpid}:${ep4ta}`;
    let id = this.contexts.get(key);
    if (id === undefined) {
      id = this.contexts.size;
      if (id >= 0x3_ffff) throw new EptError('INVALID_CONFIG', 'too many VPID/EPTP contexts');
      this.contexts.set(key, id);
      this.contextVpid.push(vpid);
      this.contextRoot.push(ep4ta);
    }
    return id;
  }

  private readonly contextVpid: number[] = [];
  private readonly contextRoot: number[] = [];

  private vpidOf(ctx: number): number {
    return this.contextVpid[ctx]!;
  }

  private ep4taOf(ctx: number): number {
    return this.contextRoot[ctx]!;
  }

  private sameVpid(ctx: number): boolean {
    return this.contextVpid[ctx] === this.vpidValue;
  }

  /** Invalidates TLB (and, with `psc`, PSC) entries: match(context, pcid, global). */
  private invalidateWhere(
    match: (ctx: number, pcid: number, global: boolean) => boolean,
    psc: boolean,
  ) {
    for (const c of [this.tlb.small, this.tlb.large, this.tlb.huge]) {
      c.invalidateWhere((i) => {
        const p = c.pcid[i]!;
        return match(Math.floor(p / CTX), p % CTX, p % CTX === GLOBAL);
      });
    }
    if (psc) this.invalidatePsc((ctx, p) => match(ctx, p, false));
  }

  private invalidatePsc(match: (ctx: number, pcid: number) => boolean): void {
    for (const c of this.psc.byLevel) {
      c?.invalidateWhere((i) => match(Math.floor(c.pcid[i]! / CTX), c.pcid[i]! % CTX));
    }
  }

  private invalidatePage(
    hi: number,
    lo: number,
    match: (ctx: number, pcid: number, global: boolean) => boolean,
  ): void {
    const bits32 = this.state.mode === PagingMode.BITS32;
    const tags: [TranslationCache, number][] = [
      [this.tlb.small, hi * 0x10_0000 + (lo >>> 12)],
      [this.tlb.large, bits32 ? lo >>> 22 : hi * 0x800 + (lo >>> 21)],
      [this.tlb.huge, hi * 4 + (lo >>> 30)],
    ];
    for (const [c, tag] of tags) {
      c.invalidateWhere((i) => {
        if (c.tag[i] !== tag) return false;
        const p = c.pcid[i]!;
        return match(Math.floor(p / CTX), p % CTX, p % CTX === GLOBAL);
      });
    }
  }
}

function checkVpid(vpid: number): number {
  if (!Number.isInteger(vpid) || vpid < 0 || vpid > 0xffff) {
    throw new EptError('INVALID_ARGUMENT', `VPID ${vpid} is not in 0..0xffff`);
  }
  return vpid;
}
