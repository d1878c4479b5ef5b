import { CR0, CR4 } from '@vmkit/x86';
import { ACCESS_STACK, ACCESS_WRITE } from './access.js';
import type { PageTableMemory } from './page-table-memory.js';
import { loadPdptes } from './pdpte.js';
import { protectionKeyFault } from './protection-keys.js';
import { PagingStructureCaches, type PscConfig } from './psc.js';
import { REFERENCE_WRITE, WalkOutcome, type WalkResult } from './result.js';
import type { SecondStage } from './second-stage.js';
import {
  type PagingFeatures,
  PagingMode,
  PagingState,
  type PagingStateInit,
  permissionIndex,
} from './state.js';
import { TranslationStats } from './stats.js';
import { TLB_ATTR, Tlb, type TlbConfig } from './tlb.js';
import type { TranslationCache } from './translation-cache.js';
import type { WalkObserver } from './walk-observer.js';
import { PageWalker, splitLinear } from './walker.js';

const U32 = 0x1_0000_0000;

/** Options of an {@link Mmu}. */
export interface MmuOptions {
  /** Processor features (MAXPHYADDR, 1 GiB pages, PSE-36). */
  readonly features?: PagingFeatures;
  /** Initial registers (features here are overridden by `features`). */
  readonly registers?: Omit<PagingStateInit, 'features'>;
  /** TLB geometry and replacement. */
  readonly tlb?: TlbConfig;
  /** Paging-structure-cache geometry and replacement. */
  readonly psc?: PscConfig;
  /** A second translation stage (EPT), if any. */
  readonly secondStage?: SecondStage;
  /** An observer of every page-walk memory reference (see {@link Mmu.walkObserver}). */
  readonly walkObserver?: WalkObserver;
}

/**
 * Linear-address translation with TLBs and paging-structure caches, as a processor does it
 * (SDM Vol. 3A §4.10): a TLB hit checks the cached rights against the current CR0.WP, SMEP,
 * SMAP/AC and protection keys without touching memory; a miss continues from the deepest
 * paging-structure-cache hit, or walks from CR3, and fills both. Cached entries stay in use
 * after the paging structures change until software invalidates them with MOV to CR3, MOV to
 * CR4, MOV to CR0, INVLPG or INVPCID, exactly as §4.10.4 specifies, so stale translations
 * behave as on hardware.
 *
 * Register writes go through the `movTo*` methods, which apply the invalidations the SDM ties
 * to them and the PDPTE load of PAE paging.
 *
 * @example
 * ```ts
 * const mmu = new Mmu(memory, { registers: { cr0: 0x8001_0001, cr4: 0x20, efer: 0xd00 } });
 * mmu.movToCr3(0x1000n);
 * if (mmu.translate(0, 0x40_1000, ACCESS_WRITE) === WalkOutcome.OK) mmu.result.physical;
 * mmu.stats.hits; // TLB hits so far
 * ```
 */
export class Mmu {
  /** The registers and derived tables. */
  readonly state: PagingState;
  /** The walker used on misses. */
  readonly walker: PageWalker;
  /** The TLBs. */
  readonly tlb: Tlb;
  /** The paging-structure caches. */
  readonly psc: PagingStructureCaches;
  /** Counters. */
  readonly stats = new TranslationStats();
  /** The memory holding the paging structures. */
  readonly memory: PageTableMemory;
  /** The result of the last translation (reused; shared with the walker). */
  readonly result: WalkResult;
  /**
   * Called after each walk with every memory reference it made (entry reads and A/D writes, in
   * order, with the address in {@link Mmu.memory}), exactly the references `stats.reads` and
   * `stats.writes` count, so a cache model can price each by where it hits. May be set or
   * cleared at any time; when undefined (the default) walks cost nothing extra.
   */
  walkObserver: WalkObserver | undefined;
  private readonly small: TranslationCache;
  private readonly secondStage: SecondStage | undefined;

  /**
   * @param memory - guest memory (after the second stage, if any)
   * @param options - features, registers, cache geometry, second stage
   */
  constructor(memory: PageTableMemory, options: MmuOptions = {}) {
    this.memory = memory;
    this.state = new PagingState({ ...options.registers, features: options.features ?? {} });
    this.walker = new PageWalker(memory, options.secondStage);
    this.result = this.walker.result;
    this.tlb = new Tlb(options.tlb);
    this.small = this.tlb.small;
    this.secondStage = options.secondStage;
    this.psc = new PagingStructureCaches(options.psc);
    this.walkObserver = options.walkObserver;
  }

  /**
   * Translates a linear address given as two uint32 halves (the hot path).
   *
   * @param linearHi - bits 63:32
   * @param linearLo - bits 31:0
   * @param access - `ACCESS_*` flags
   * @returns a {@link WalkOutcome}; details in {@link Mmu.result}
   */
  translate(linearHi: number, linearLo: number, access: number): number {
    const state = this.state;
    const mode = state.mode;
    // Halves may arrive as int32 (results of bitwise operators): tags use the uint32 form.
    let hi = linearHi >>> 0;
    linearLo >>>= 0;
    if (mode >= PagingMode.LEVEL4) {
      const top = mode === PagingMode.LEVEL4 ? hi >> 15 : hi >> 24;
      if (top !== 0 && top !== -1) return this.nonCanonical(hi, linearLo, access);
    } else if (mode === PagingMode.NONE) {
      return this.walker.walk(state, hi, linearLo, access);
    } else {
      hi = 0;
    }
    // The 4-KByte TLB, inline: the common case. Tag = linear-address bits 63:12.
    const small = this.small;
    const tag = hi * 0x10_0000 + (linearLo >>> 12);
    const ways = small.ways;
    const base = (tag & small.setMask) * ways;
    const tags = small.tag;
    const pcid = state.pcid;
    for (let i = base, end = base + ways; i < end; i++) {
      if (tags[i] === tag && (small.pcid[i] === pcid || small.global[i] === 1)) {
        const attr = small.attr[i]!;
        // Plain hit: not a write to a clean page, no protection keys, no second stage.
        if (
          ((access & ACCESS_WRITE) === 0 || (attr & TLB_ATTR.DIRTY) !== 0) &&
          (state.cr4 & (CR4.PKE | CR4.PKS)) === 0 &&
          this.secondStage === undefined
        ) {
          const errorCode = state.permission[(permissionIndex(access) << 3) | (attr & 7)]!;
          if (errorCode === 0) {
            if (small.replacement === 'lru') small.stamp[i] = ++small.clock;
            this.stats.hits++;
            const r = this.result;
            const frame = small.value[i]!;
            r.outcome = WalkOutcome.OK;
            r.errorCode = 0;
            r.linearHi = hi;
            r.linearLo = linearLo;
            r.referenceCount = 0;
            r.frame = frame;
            r.pageSize = 0x1000;
            r.rights = attr & 7;
            r.dirty = (attr & TLB_ATTR.DIRTY) !== 0;
            r.global = small.global[i] === 1;
            r.protectionKey = attr >>> TLB_ATTR.KEY_SHIFT;
            r.physical = frame + (linearLo & 0xfff);
            r.hostPhysical = r.physical;
            return WalkOutcome.OK;
          }
        }
        if (small.replacement === 'lru') small.stamp[i] = ++small.clock;
        return this.hit(small, i, 0xfff, 0x1000, hi, linearLo, access);
      }
    }
    return this.lookupLarge(hi, linearLo, access);
  }

  /**
   * Convenience form of {@link Mmu.translate} taking the linear address as a bigint.
   *
   * @param linear - the linear address in [0, 2^64)
   * @param access - `ACCESS_*` flags
   * @returns the reused {@link WalkResult}
   */
  translateLinear(linear: bigint, access: number): WalkResult {
    const [hi, lo] = splitLinear(linear);
    this.translate(hi, lo, access);
    return this.result;
  }

  /**
   * MOV to CR3 (SDM Vol. 3A §4.10.4.1). With CR4.PCIDE = 0 it invalidates the non-global TLB
   * entries and the paging-structure-cache entries of PCID 000H; with CR4.PCIDE = 1 those of
   * the new PCID, unless bit 63 of the operand is 1. In PAE mode it loads the PDPTE registers
   * first; a reserved bit there is #GP(0) and leaves CR3 and the caches unchanged (§4.4.1).
   *
   * @param value - the source operand, a 64-bit value
   * @returns `WalkOutcome.OK` or the PDPTE-load failure (`GENERAL_PROTECTION`, ...)
   */
  movToCr3(value: bigint): number {
    const [hi, lo] = splitLinear(value);
    const state = this.state;
    const noFlush = (state.cr4 & CR4.PCIDE) !== 0 && (hi & 0x8000_0000) !== 0;
    const oldHi = state.cr3Hi;
    const oldLo = state.cr3Lo;
    state.setCr3Halves(hi & 0x7fff_ffff, lo);
    if (state.mode === PagingMode.PAE) {
      const loaded = loadPdptes(state, this.memory, this.walker.secondStage);
      if (loaded !== WalkOutcome.OK) {
        state.setCr3Halves(oldHi, oldLo);
        return loaded;
      }
    }
    if (!noFlush) {
      this.tlb.clearPcid(state.pcid, false);
      this.psc.clearPcid(state.pcid);
    }
    return WalkOutcome.OK;
  }

  /**
   * MOV to CR4 (SDM Vol. 3A §4.10.4.1): changing PGE, or clearing PCIDE, invalidates all TLB
   * entries (global ones too) and all paging-structure caches for all PCIDs; changing PAE, or
   * setting SMEP, invalidates those of the current PCID. If PAE paging is in use afterwards and
   * PAE, PGE, PSE or SMEP changed, the PDPTE registers are reloaded (§4.4.1); a reserved bit is
   * #GP(0) and CR4 keeps its old value.
   *
   * @param value - the new CR4 (low 32 bits)
   * @returns `WalkOutcome.OK` or the PDPTE-load failure
   */
  movToCr4(value: number): number {
    const state = this.state;
    const old = state.cr4;
    state.setCr4(value);
    const changed = old ^ state.cr4;
    if (
      state.mode === PagingMode.PAE &&
      (changed & (CR4.PAE | CR4.PGE | CR4.PSE | CR4.SMEP)) !== 0
    ) {
      const loaded = loadPdptes(state, this.memory, this.walker.secondStage);
      if (loaded !== WalkOutcome.OK) {
        state.setCr4(old);
        return loaded;
      }
    }
    if ((changed & CR4.PGE) !== 0 || ((old & CR4.PCIDE) !== 0 && (state.cr4 & CR4.PCIDE) === 0)) {
      this.flushAll();
    } else if ((changed & CR4.PAE) !== 0 || (changed & state.cr4 & CR4.SMEP) !== 0) {
      this.tlb.clearPcid(state.pcid, true);
      this.psc.clearPcid(state.pcid);
    }
    return WalkOutcome.OK;
  }

  /**
   * MOV to CR0 (SDM Vol. 3A §4.10.4.1): clearing PG invalidates everything. If PAE paging is in
   * use afterwards and PG, CD or NW changed, the PDPTE registers are reloaded (§4.4.1).
   *
   * @param value - the new CR0 (low 32 bits)
   * @returns `WalkOutcome.OK` or the PDPTE-load failure
   */
  movToCr0(value: number): number {
    const state = this.state;
    const old = state.cr0;
    state.setCr0(value);
    const changed = old ^ state.cr0;
    if (state.mode === PagingMode.PAE && (changed & (CR0.PG | CR0.CD | CR0.NW)) !== 0) {
      const loaded = loadPdptes(state, this.memory, this.walker.secondStage);
      if (loaded !== WalkOutcome.OK) {
        state.setCr0(old);
        return loaded;
      }
    }
    if ((old & CR0.PG) !== 0 && (state.cr0 & CR0.PG) === 0) this.flushAll();
    return WalkOutcome.OK;
  }

  /** WRMSR IA32_EFER (no invalidation). @param value - IA32_EFER bits 31:0 */
  writeEfer(value: number): void {
    this.state.setEfer(value);
  }

  /** Sets RFLAGS (EFLAGS.AC matters for SMAP). @param value - RFLAGS bits 31:0 */
  setRflags(value: number): void {
    this.state.setRflags(value);
  }

  /** WRPKRU (no invalidation: rights are checked at use). @param value - PKRU */
  setPkru(value: number): void {
    this.state.setPkru(value);
  }

  /** WRMSR IA32_PKRS (no invalidation). @param value - IA32_PKRS bits 31:0 */
  setPkrs(value: number): void {
    this.state.setPkrs(value);
  }

  /**
   * INVLPG (SDM Vol. 3A §4.10.4.1 and the INVLPG reference): invalidates the TLB entries for
   * the page of the address with the current PCID, global entries for that page whatever
   * their PCID, and every paging-structure-cache entry of the current PCID. A non-canonical
   * address makes it a no-op.
   *
   * @param linearHi - bits 63:32
   * @param linearLo - bits 31:0
   */
  invlpg(linearHi: number, linearLo: number): void {
    const state = this.state;
    let hi = linearHi >>> 0;
    linearLo >>>= 0;
    if (state.mode >= PagingMode.LEVEL4) {
      const top = state.mode === PagingMode.LEVEL4 ? hi >> 15 : hi >> 24;
      if (top !== 0 && top !== -1) return;
    } else {
      hi = 0;
    }
    this.tlb.invalidatePage(hi, linearLo, state.pcid, true, this.largeShift());
    this.psc.clearPcid(state.pcid);
  }

  /**
   * INVPCID (SDM Vol. 2A INVPCID; Vol. 3A §4.10.4.1). Type 0: the non-global translations of
   * one address for one PCID; 1: all non-global translations of one PCID; 2: everything,
   * global included; 3: everything but global translations. Each also invalidates the
   * paging-structure caches of the PCIDs concerned. #GP(0) for a type above 3, a PCID above
   * 0xfff, a non-canonical type-0 address, or types 0/1 with a non-zero PCID while
   * CR4.PCIDE = 0.
   *
   * @param type - the INVPCID type, 0..3
   * @param pcid - the descriptor's PCID
   * @param linearHi - bits 63:32 of the descriptor's linear address (type 0)
   * @param linearLo - bits 31:0 of the descriptor's linear address (type 0)
   * @returns `WalkOutcome.OK` or `WalkOutcome.GENERAL_PROTECTION`
   */
  invpcid(type: number, pcid: number, linearHi = 0, linearLo = 0): number {
    const state = this.state;
    if (!Number.isInteger(type) || type < 0 || type > 3) return WalkOutcome.GENERAL_PROTECTION;
    if (!Number.isInteger(pcid) || pcid < 0 || pcid > 0xfff) return WalkOutcome.GENERAL_PROTECTION;
    const pcide = (state.cr4 & CR4.PCIDE) !== 0;
    if (type <= 1 && !pcide && pcid !== 0) return WalkOutcome.GENERAL_PROTECTION;
    switch (type) {
      case 0: {
        if (state.mode >= PagingMode.LEVEL4) {
          const top = state.mode === PagingMode.LEVEL4 ? linearHi >> 15 : linearHi >> 24;
          if (top !== 0 && top !== -1) return WalkOutcome.GENERAL_PROTECTION;
        }
        const hi = state.mode >= PagingMode.LEVEL4 ? linearHi >>> 0 : 0;
        this.tlb.invalidatePage(hi, linearLo >>> 0, pcid, false, this.largeShift());
        this.psc.clearPcid(pcid);
        break;
      }
      case 1:
        this.tlb.clearPcid(pcid, false);
        this.psc.clearPcid(pcid);
        break;
      case 2:
        this.flushAll();
        break;
      default:
        this.tlb.clearNonGlobal();
        this.psc.clear();
    }
    return WalkOutcome.OK;
  }

  /** Invalidates every TLB and paging-structure-cache entry (e.g. on a VMX transition). */
  flushAll(): void {
    this.tlb.clear();
    this.psc.clear();
  }

  private largeShift(): number {
    return this.state.mode === PagingMode.BITS32 ? 22 : 21;
  }

  private lookupLarge(hi: number, lo: number, access: number): number {
    const state = this.state;
    const pcid = state.pcid;
    const large = this.tlb.large;
    if (state.mode === PagingMode.BITS32) {
      const slot = large.lookup(lo >>> 22, pcid);
      if (slot >= 0) return this.hit(large, slot, 0x3f_ffff, 0x40_0000, hi, lo, access);
    } else {
      const slot = large.lookup(hi * 0x800 + (lo >>> 21), pcid);
      if (slot >= 0) return this.hit(large, slot, 0x1f_ffff, 0x20_0000, hi, lo, access);
      if (state.mode >= PagingMode.LEVEL4) {
        const huge = this.tlb.huge;
        const s = huge.lookup(hi * 4 + (lo >>> 30), pcid);
        if (s >= 0) return this.hit(huge, s, 0x3fff_ffff, 0x4000_0000, hi, lo, access);
      }
    }
    return this.miss(hi, lo, access);
  }

  /** A TLB hit: rights are checked now, against the current registers (§4.10.2.2). */
  private hit(
    cache: TranslationCache,
    slot: number,
    offsetMask: number,
    pageSize: number,
    hi: number,
    lo: number,
    access: number,
  ): number {
    const state = this.state;
    const attr = cache.attr[slot]!;
    // A write through an entry cached with D = 0 must set D in memory: walk (§4.8).
    if ((access & ACCESS_WRITE) !== 0 && (attr & TLB_ATTR.DIRTY) === 0)
      return this.miss(hi, lo, access);
    const rights = attr & TLB_ATTR.RIGHTS;
    let errorCode = state.permission[(permissionIndex(access) << 3) | rights]!;
    if (
      state.mode >= PagingMode.LEVEL4 &&
      (state.cr4 & (CR4.PKE | CR4.PKS)) !== 0 &&
      protectionKeyFault(state, rights, attr >>> TLB_ATTR.KEY_SHIFT, access)
    ) {
      errorCode |= 0x21 | (access & 6);
    }
    const r = this.result;
    r.linearHi = hi;
    r.linearLo = lo;
    r.referenceCount = 0;
    if (errorCode !== 0) return this.fault(hi, lo, errorCode);
    this.stats.hits++;
    const frame = cache.value[slot]!;
    r.errorCode = 0;
    r.frame = frame;
    r.pageSize = pageSize;
    r.rights = rights;
    r.dirty = (attr & TLB_ATTR.DIRTY) !== 0;
    r.global = cache.global[slot] === 1;
    r.protectionKey = attr >>> TLB_ATTR.KEY_SHIFT;
    r.physical = frame + (lo & offsetMask);
    if (this.walker.secondStage !== undefined)
      return this.walker.finalAccess(r.physical, access, rights);
    r.hostPhysical = r.physical;
    r.outcome = WalkOutcome.OK;
    return WalkOutcome.OK;
  }

  private miss(hi: number, lo: number, access: number): number {
    const state = this.state;
    const stats = this.stats;
    const r = this.result;
    stats.misses++;
    let outcome = -1;
    const top = state.mode === PagingMode.LEVEL5 ? 5 : 4;
    let start = top;
    let accLo = -1;
    let accHi = 0;
    if (state.mode >= PagingMode.LEVEL4) {
      // The deepest paging-structure-cache hit wins (§4.10.3.2).
      for (let level = 2; level <= top && outcome < 0; level++) {
        const c = this.psc.byLevel[level]!;
        if (c.ways === 0) continue;
        const s = c.lookup(PagingStructureCaches.tagFor(level, hi, lo), state.pcid);
        if (s < 0) continue;
        stats.pscHits[level]!++;
        accLo = c.attr[s]!;
        accHi = c.attrHi[s]!;
        start = level - 1;
        outcome = this.walker.walkFrom(state, hi, lo, access, start, c.value[s]!, accLo, accHi);
      }
      if (outcome < 0) outcome = this.walker.walk(state, hi, lo, access);
    } else {
      outcome = this.walker.walk(state, hi, lo, access);
    }
    stats.walks++;
    for (let i = 0; i < r.referenceCount; i++) {
      const info = r.referenceInfo[i]!;
      if ((info & REFERENCE_WRITE) !== 0) stats.writes[info & 7]!++;
      else stats.reads[info & 7]!++;
    }
    if (this.walkObserver !== undefined) this.observe();
    if (outcome === WalkOutcome.OK) {
      this.fillTlb(hi, lo);
      if (state.mode >= PagingMode.LEVEL4) this.fillPsc(hi, lo, start, accLo, accHi);
    } else if (outcome === WalkOutcome.PAGE_FAULT) {
      return this.fault(hi, lo, r.errorCode);
    }
    return outcome;
  }

  // Outside the counting loop so the walk path is unchanged when nothing observes it.
  private observe(): void {
    const r = this.result;
    const observer = this.walkObserver!;
    for (let i = 0; i < r.referenceCount; i++)
      observer(r.referenceAddress[i]!, r.referenceInfo[i]!);
  }

  private fillTlb(hi: number, lo: number): void {
    const r = this.result;
    const state = this.state;
    let cache: TranslationCache;
    let tag: number;
    if (r.pageSize === 0x1000) {
      cache = this.tlb.small;
      tag = hi * 0x10_0000 + (lo >>> 12);
    } else if (r.pageSize === 0x4000_0000) {
      cache = this.tlb.huge;
      tag = hi * 4 + (lo >>> 30);
    } else {
      cache = this.tlb.large;
      tag = r.pageSize === 0x40_0000 ? lo >>> 22 : hi * 0x800 + (lo >>> 21);
    }
    const slot = cache.fill(tag, state.pcid, r.global);
    if (slot < 0) return;
    cache.value[slot] = r.frame;
    cache.attr[slot] =
      r.rights | (r.dirty ? TLB_ATTR.DIRTY : 0) | (r.protectionKey << TLB_ATTR.KEY_SHIFT);
  }

  // §4.10.3.1: cache each entry above the leaf that references a paging structure, with the
  // rights accumulated down to it.
  private fillPsc(hi: number, lo: number, start: number, accLo: number, accHi: number): void {
    const r = this.result;
    const state = this.state;
    const am = state.addressHiMask;
    for (let level = start; level > r.leafLevel; level--) {
      const eLo = r.entryLo[level]!;
      const eHi = r.entryHi[level]!;
      accLo &= eLo;
      accHi |= eHi;
      const c = this.psc.byLevel[level]!;
      const slot = c.fill(PagingStructureCaches.tagFor(level, hi, lo), state.pcid, false);
      if (slot < 0) continue;
      c.value[slot] = (eHi & am) * U32 + ((eLo & 0xffff_f000) >>> 0);
      c.attr[slot] = accLo;
      c.attrHi[slot] = accHi;
    }
  }

  // §4.10.4.1: a page fault invalidates the TLB entries for the faulting page number and the
  // paging-structure-cache entries that would be used for the address.
  private fault(hi: number, lo: number, errorCode: number): number {
    const r = this.result;
    const state = this.state;
    this.stats.faults++;
    this.tlb.invalidatePage(hi, lo, state.pcid, true, this.largeShift());
    if (state.mode >= PagingMode.LEVEL4) this.psc.invalidateAddress(hi, lo, state.pcid);
    r.outcome = WalkOutcome.PAGE_FAULT;
    r.errorCode = errorCode;
    r.linearHi = hi;
    r.linearLo = lo;
    return WalkOutcome.PAGE_FAULT;
  }

  private nonCanonical(hi: number, lo: number, access: number): number {
    const r = this.result;
    this.stats.faults++;
    r.linearHi = hi;
    r.linearLo = lo;
    r.referenceCount = 0;
    r.errorCode = 0;
    r.outcome =
      (access & ACCESS_STACK) !== 0 ? WalkOutcome.STACK_FAULT : WalkOutcome.GENERAL_PROTECTION;
    return r.outcome;
  }
}
