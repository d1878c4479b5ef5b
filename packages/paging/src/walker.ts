import { GuestMemoryError } from '@vmkit/memory';
import { CR4, PFEC, PTE } from '@vmkit/x86';
import { ACCESS_FETCH, ACCESS_STACK, ACCESS_USER, ACCESS_WRITE } from './access.js';
import { PagingError } from './errors.js';
import type { PageTableMemory } from './page-table-memory.js';
import { protectionKeyFault } from './protection-keys.js';
import { REFERENCE_WRITE, WalkOutcome, WalkResult } from './result.js';
import {
  SECOND_STAGE_FETCH,
  SECOND_STAGE_GUEST_EXECUTE_DISABLE,
  SECOND_STAGE_GUEST_USER_PAGE,
  SECOND_STAGE_GUEST_WRITABLE,
  SECOND_STAGE_PAGING_STRUCTURE,
  SECOND_STAGE_READ,
  SECOND_STAGE_USER,
  SECOND_STAGE_WRITE,
  type SecondStage,
} from './second-stage.js';
import { PagingMode, type PagingState, permissionIndex, RIGHT_USER, RIGHT_XD } from './state.js';

const U32 = 0x1_0000_0000;

/**
 * The page walker: translates a linear address by reading the paging structures in guest
 * memory exactly as SDM Vol. 3A chapter 4 describes, for 32-bit, PAE, 4-level and 5-level
 * paging. It caches nothing (see {@link Mmu} for the TLB and paging-structure caches).
 *
 * The hot-path entry point {@link PageWalker.walk} takes the linear address as two uint32
 * halves and returns a {@link WalkOutcome}; the details are in {@link PageWalker.result},
 * one object reused by every walk, so a walk allocates nothing.
 *
 * Rules implemented, each beside its SDM section in the code: non-canonical addresses fault
 * with #GP(0)/#SS(0) before any memory reference (§3.3.7.1, §4.5); entries are read top-down,
 * a clear P flag or a set reserved bit stops the walk (§4.3-§4.5, §4.7); access rights combine
 * R/W, U/S and XD over all levels and apply CR0.WP, CR4.SMEP, CR4.SMAP with EFLAGS.AC,
 * CR4.PKE with PKRU and CR4.PKS with IA32_PKRS (§4.6); accessed flags are set in every entry
 * used and the dirty flag in the leaf on writes, but only once the whole translation,
 * including the second stage of the final address, has succeeded (§4.8).
 *
 * @example
 * ```ts
 * const walker = new PageWalker(memory);
 * if (walker.walk(state, 0xffff_ffff, 0x8000_1234, ACCESS_WRITE) === WalkOutcome.OK) {
 *   walker.result.physical; // guest-physical address
 * }
 * ```
 */
export class PageWalker {
  /** The result of the last walk (reused). */
  readonly result = new WalkResult();
  /** The memory holding the paging structures (after the second stage, if any). */
  readonly memory: PageTableMemory;
  /** The second stage consulted for every guest-physical address, if any. */
  readonly secondStage: SecondStage | undefined;
  private readonly updateAt = new Float64Array(6);

  /**
   * @param memory - the memory the paging structures live in
   * @param secondStage - a second translation stage (EPT), or undefined for none
   */
  constructor(memory: PageTableMemory, secondStage?: SecondStage) {
    this.memory = memory;
    this.secondStage = secondStage;
  }

  /**
   * Translates a linear address given as two halves, walking from CR3.
   *
   * @param state - the processor state (mode, control registers, PKRU...)
   * @param linearHi - bits 63:32 of the linear address, a uint32 (ignored without IA-32e paging)
   * @param linearLo - bits 31:0 of the linear address, a uint32
   * @param access - `ACCESS_*` flags (see {@link makeAccess})
   * @returns a {@link WalkOutcome}; details in {@link PageWalker.result}
   */
  walk(state: PagingState, linearHi: number, linearLo: number, access: number): number {
    const r = this.result;
    // Accept int32 halves (results of bitwise operators) as well as uint32 ones.
    linearHi >>>= 0;
    linearLo >>>= 0;
    r.linearHi = linearHi;
    r.linearLo = linearLo;
    r.referenceCount = 0;
    r.errorCode = 0;
    try {
      switch (state.mode) {
        case PagingMode.LEVEL4:
          // SDM Vol. 3A §4.5.1 and §3.3.7.1: bits 63:47 must equal bit 47.
          if (linearHi >> 15 !== 0 && linearHi >> 15 !== -1) return this.nonCanonical(access);
          return this.walkLong(state, linearHi, linearLo, access, 4, state.rootTable(), -1, 0);
        case PagingMode.LEVEL5:
          // With 5-level paging, bits 63:56 must equal bit 56.
          if (linearHi >> 24 !== 0 && linearHi >> 24 !== -1) return this.nonCanonical(access);
          return this.walkLong(state, linearHi, linearLo, access, 5, state.rootTable(), -1, 0);
        case PagingMode.PAE:
          return this.walkPae(state, linearLo, access);
        case PagingMode.BITS32:
          return this.walk32(state, linearLo, access);
        default:
          return this.noPaging(linearLo, access);
      }
    } catch (e) {
      if (!(e instanceof GuestMemoryError)) throw e;
      r.outcome = WalkOutcome.BAD_PHYSICAL_ADDRESS;
      r.faultAddress = e.address ?? Number.NaN;
      return r.outcome;
    }
  }

  /**
   * Continues a 4-/5-level walk at `level` with the table a paging-structure cache supplied,
   * and the R/W, U/S (low half, ANDed) and XD (high half, ORed) accumulated above it. The
   * cached upper entries are not read again and get no accessed-flag update (§4.10.3.2).
   *
   * @param state - the processor state
   * @param linearHi - bits 63:32 of a canonical linear address
   * @param linearLo - bits 31:0
   * @param access - `ACCESS_*` flags
   * @param level - the level of the table, 1..4
   * @param table - guest-physical address of the table
   * @param accLo - AND of the low halves of the entries above
   * @param accHi - OR of the high halves of the entries above
   * @returns a {@link WalkOutcome}
   */
  walkFrom(
    state: PagingState,
    linearHi: number,
    linearLo: number,
    access: number,
    level: number,
    table: number,
    accLo: number,
    accHi: number,
  ): number {
    const r = this.result;
    r.linearHi = linearHi;
    r.linearLo = linearLo;
    r.referenceCount = 0;
    r.errorCode = 0;
    try {
      return this.walkLong(state, linearHi, linearLo, access, level, table, accLo, accHi);
    } catch (e) {
      if (!(e instanceof GuestMemoryError)) throw e;
      r.outcome = WalkOutcome.BAD_PHYSICAL_ADDRESS;
      r.faultAddress = e.address ?? Number.NaN;
      return r.outcome;
    }
  }

  /**
   * Convenience form of {@link PageWalker.walk} taking the linear address as a bigint.
   *
   * @param state - the processor state
   * @param linear - the linear address in [0, 2^64)
   * @param access - `ACCESS_*` flags
   * @returns the reused {@link WalkResult}
   */
  translate(state: PagingState, linear: bigint, access: number): WalkResult {
    const [hi, lo] = splitLinear(linear);
    this.walk(state, hi, lo, access);
    return this.result;
  }

  // SDM Vol. 3A §4.5.4: 4-level and 5-level paging.
  private walkLong(
    state: PagingState,
    hi: number,
    lo: number,
    access: number,
    startLevel: number,
    table: number,
    accLo: number,
    accHi: number,
  ): number {
    const r = this.result;
    const mem = this.memory;
    const ss = this.secondStage;
    const rsvLo = state.reservedLo;
    const rsvHi = state.reservedHi;
    const am = state.addressHiMask;
    const refs = r.referenceAddress;
    const info = r.referenceInfo;
    const entryLo = r.entryLo;
    const entryHi = r.entryHi;
    const entryAddress = r.entryAddress;
    let n = r.referenceCount;
    let level = startLevel;
    let eLo = 0;
    let eHi = 0;
    for (;;) {
      // Index bits: 20:12, 29:21, 38:30 (straddling the halves), 47:39, 56:48.
      const index =
        level <= 2
          ? (lo >>> (level * 9 + 3)) & 0x1ff
          : level === 3
            ? ((hi & 0x7f) << 2) | (lo >>> 30)
            : (hi >>> (level * 9 - 29)) & 0x1ff;
      const gpa = table + index * 8;
      let at = gpa;
      if (ss !== undefined) {
        at = ss.translate(gpa, structureAccess(access), hi, lo);
        if (at < 0) {
          r.referenceCount = n;
          return this.secondStageFault(gpa, level);
        }
      }
      // Both halves through one call site: V8 inlines read32 (with its region and page
      // lookups) into this loop once within its inlining budget; a second site stays a call.
      for (let h = 0; h < 2; h++) {
        const v = mem.read32(at + h * 4);
        if (h === 0) eLo = v;
        else eHi = v;
      }
      refs[n] = gpa;
      info[n++] = level;
      entryLo[level] = eLo;
      entryHi[level] = eHi;
      entryAddress[level] = gpa;
      if ((eLo & PTE.P) === 0) {
        r.referenceCount = n;
        return this.pageFault(state, access, 0);
      }
      const k = level * 2 + ((eLo >>> 7) & 1);
      if (((eLo & rsvLo[k]!) | (eHi & rsvHi[k]!)) !== 0) {
        r.referenceCount = n;
        return this.pageFault(state, access, PFEC.P | PFEC.RSVD);
      }
      accLo &= eLo;
      accHi |= eHi;
      if (level === 1 || (level <= 3 && (eLo & PTE.PS) !== 0)) break;
      // Below 4 GiB the address stays a uint32: one built by a multiply is a double, and a
      // double address takes slower paths through read32's bounds check and indexing.
      const tHi = eHi & am;
      table = tHi === 0 ? (eLo & 0xffff_f000) >>> 0 : tHi * U32 + ((eLo & 0xffff_f000) >>> 0);
      level--;
    }
    r.referenceCount = n;
    // Bits 29:0 (1 GByte), 20:0 (2 MByte) or 11:0 (4 KByte) of the linear address are the
    // offset in the page (§4.5.4).
    const offsetMask = level === 1 ? 0xfff : level === 2 ? 0x1f_ffff : 0x3fff_ffff;
    const frame = (eHi & am) * U32 + ((eLo & ~offsetMask) >>> 0);
    // Without a second stage, an allowed translation without protection keys is completed
    // here, as finish() and updateAccessedDirty() would do it, saving their calls; everything
    // else goes through finish().
    const rights = ((accLo >>> 1) & 3) | ((accHi >>> 29) & RIGHT_XD);
    if (
      ss !== undefined ||
      state.permission[(permissionIndex(access) << 3) | rights] !== 0 ||
      (state.cr4 & (CR4.PKE | CR4.PKS)) !== 0
    ) {
      return this.finish(
        state,
        access,
        startLevel,
        level,
        frame,
        lo & offsetMask,
        accLo,
        accHi,
        true,
      );
    }
    const physical = frame + (lo & offsetMask);
    r.frame = frame;
    r.pageSize = level === 1 ? 0x1000 : level === 2 ? 0x20_0000 : 0x4000_0000;
    r.leafLevel = level;
    r.rights = rights;
    r.protectionKey = (eHi >>> 27) & 0xf;
    r.global = (eLo & PTE.G) !== 0 && (state.cr4 & CR4.PGE) !== 0;
    r.physical = physical;
    r.hostPhysical = physical;
    r.outcome = WalkOutcome.OK;
    // §4.8, as in updateAccessedDirty: nothing to write when every entry has A (their AND has
    // it) and, for a write, the leaf has D.
    const dirtyBit = (access & ACCESS_WRITE) !== 0 ? PTE.D : 0;
    if ((accLo & PTE.A) === 0 || (eLo & dirtyBit) !== dirtyBit) {
      for (let l = startLevel; l >= level; l--) {
        const need = l === level ? PTE.A | dirtyBit : PTE.A;
        const v = entryLo[l]!;
        if ((v & need) === need) continue;
        const value = (v | need) >>> 0;
        const gpa = entryAddress[l]!;
        // A (bit 5) and D (bit 6) live in the entry's lowest byte: one byte store updates them.
        mem.write8(gpa, value & 0xff);
        entryLo[l] = value;
        refs[n] = gpa;
        info[n++] = l | REFERENCE_WRITE;
      }
      r.referenceCount = n;
    }
    r.dirty = (entryLo[level]! & PTE.D) !== 0;
    return WalkOutcome.OK;
  }

  // SDM Vol. 3A §4.4.2: PAE paging. The PDPTEs come from the PDPTE registers (§4.4.1).
  private walkPae(state: PagingState, lo: number, access: number): number {
    const r = this.result;
    const i = lo >>> 30;
    const pLo = state.pdpteLo[i]!;
    const pHi = state.pdpteHi[i]!;
    r.entryLo[3] = pLo;
    r.entryHi[3] = pHi;
    r.entryAddress[3] = Number.NaN;
    if ((pLo & PTE.P) === 0) return this.pageFault(state, access, 0);
    const am = state.addressHiMask;
    // PDPTEs of PAE paging have no R/W, U/S or XD: they do not restrict access (§4.6.1).
    let accLo = -1;
    let accHi = 0;
    let table = (pHi & am) * U32 + ((pLo & 0xffff_f000) >>> 0);
    for (let level = 2; ; level--) {
      const index = level === 2 ? (lo >>> 21) & 0x1ff : (lo >>> 12) & 0x1ff;
      if (!this.readEntry(table + index * 8, level, true, access)) return r.outcome;
      const eLo = r.entryLo[level]!;
      const eHi = r.entryHi[level]!;
      if ((eLo & PTE.P) === 0) return this.pageFault(state, access, 0);
      const k = level * 2 + ((eLo >>> 7) & 1);
      if (((eLo & state.reservedLo[k]!) | (eHi & state.reservedHi[k]!)) !== 0) {
        return this.pageFault(state, access, PFEC.P | PFEC.RSVD);
      }
      accLo &= eLo;
      accHi |= eHi;
      if (level === 1 || (eLo & PTE.PS) !== 0) {
        const offsetMask = level === 1 ? 0xfff : 0x1f_ffff;
        const frame = (eHi & am) * U32 + ((eLo & ~offsetMask) >>> 0);
        return this.finish(state, access, 2, level, frame, lo & offsetMask, accLo, accHi, false);
      }
      table = (eHi & am) * U32 + ((eLo & 0xffff_f000) >>> 0);
    }
  }

  // SDM Vol. 3A §4.3: 32-bit paging, with 4-MByte pages when CR4.PSE = 1.
  private walk32(state: PagingState, lo: number, access: number): number {
    const r = this.result;
    const pdeAddress = ((state.cr3Lo & 0xffff_f000) >>> 0) + (lo >>> 22) * 4;
    if (!this.readEntry(pdeAddress, 2, false, access)) return r.outcome;
    const pde = r.entryLo[2]!;
    if ((pde & PTE.P) === 0) return this.pageFault(state, access, 0);
    if ((pde & PTE.PS) !== 0 && (state.cr4 & CR4.PSE) !== 0) {
      if ((pde & state.reservedLo[5]!) !== 0) {
        return this.pageFault(state, access, PFEC.P | PFEC.RSVD);
      }
      // Table 4-4: bits 20:13 are physical-address bits 39:32 (PSE-36), bits 31:22 are 31:22.
      const frame = ((pde >>> 13) & 0xff) * U32 + ((pde & 0xffc0_0000) >>> 0);
      return this.finish(state, access, 2, 2, frame, lo & 0x3f_ffff, pde, 0, false);
    }
    const pteAddress = ((pde & 0xffff_f000) >>> 0) + ((lo >>> 12) & 0x3ff) * 4;
    if (!this.readEntry(pteAddress, 1, false, access)) return r.outcome;
    const pte = r.entryLo[1]!;
    if ((pte & PTE.P) === 0) return this.pageFault(state, access, 0);
    const frame = (pte & 0xffff_f000) >>> 0;
    return this.finish(state, access, 2, 1, frame, lo & 0xfff, pde & pte, 0, false);
  }

  // CR0.PG = 0: the linear address is the physical address (SDM Vol. 3A §4.1.2).
  private noPaging(lo: number, access: number): number {
    const r = this.result;
    r.frame = (lo & 0xffff_f000) >>> 0;
    r.pageSize = 4096;
    r.leafLevel = 0;
    r.rights = RIGHT_USER | 1;
    r.global = false;
    r.dirty = false;
    r.protectionKey = 0;
    r.physical = lo;
    return this.finalAccess(lo, access, RIGHT_USER | 1);
  }

  /** Reads one entry through the second stage; false (with the outcome set) on a fault. */
  private readEntry(gpa: number, level: number, wide: boolean, access: number): boolean {
    const r = this.result;
    let at = gpa;
    const ss = this.secondStage;
    if (ss !== undefined) {
      at = ss.translate(gpa, structureAccess(access), r.linearHi, r.linearLo);
      if (at < 0) {
        this.secondStageFault(gpa, level);
        return false;
      }
    }
    r.entryLo[level] = this.memory.read32(at);
    r.entryHi[level] = wide ? this.memory.read32(at + 4) : 0;
    r.entryAddress[level] = gpa;
    const n = r.referenceCount++;
    r.referenceAddress[n] = gpa;
    r.referenceInfo[n] = level;
    return true;
  }

  /**
   * Applies the access-rights checks to a complete translation, then the second stage of the
   * final address, then the accessed/dirty updates.
   */
  private finish(
    state: PagingState,
    access: number,
    startLevel: number,
    leafLevel: number,
    frame: number,
    offset: number,
    accLo: number,
    accHi: number,
    protectionKeys: boolean,
  ): number {
    const r = this.result;
    const leafLo = r.entryLo[leafLevel]!;
    const leafHi = r.entryHi[leafLevel]!;
    // Rights: bit 0 R/W at every level, bit 1 U/S at every level, bit 2 XD at some level.
    const rights = ((accLo >>> 1) & 3) | ((accHi >>> 29) & RIGHT_XD);
    let errorCode = state.permission[(permissionIndex(access) << 3) | rights]!;
    const key = protectionKeys ? (leafHi >>> 27) & 0xf : 0;
    if (
      protectionKeys &&
      (state.cr4 & (CR4.PKE | CR4.PKS)) !== 0 &&
      protectionKeyFault(state, rights, key, access)
    ) {
      errorCode |= PFEC.P | PFEC.PK | (access & (ACCESS_WRITE | ACCESS_USER));
    }
    if (errorCode !== 0) {
      r.outcome = WalkOutcome.PAGE_FAULT;
      r.errorCode = errorCode;
      return WalkOutcome.PAGE_FAULT;
    }
    const physical = frame + offset;
    r.frame = frame;
    r.pageSize =
      leafLevel === 1
        ? 0x1000
        : leafLevel === 3
          ? 0x4000_0000
          : state.mode === PagingMode.BITS32
            ? 0x40_0000
            : 0x20_0000;
    r.leafLevel = leafLevel;
    r.rights = rights;
    r.protectionKey = key;
    r.global = (leafLo & PTE.G) !== 0 && (state.cr4 & CR4.PGE) !== 0;
    r.physical = physical;
    const outcome = this.finalAccess(physical, access, rights);
    if (outcome !== WalkOutcome.OK) return outcome;
    return this.updateAccessedDirty(startLevel, leafLevel, access, accLo);
  }

  /**
   * The second stage of the final address (SDM Vol. 3C §29.3.3); sets `hostPhysical` and the
   * outcome. Used by the MMU on TLB hits.
   *
   * @internal
   */
  finalAccess(physical: number, access: number, rights: number): number {
    const r = this.result;
    const ss = this.secondStage;
    let at = physical;
    if (ss !== undefined) {
      let flags =
        (access & ACCESS_FETCH) !== 0
          ? SECOND_STAGE_FETCH
          : (access & ACCESS_WRITE) !== 0
            ? SECOND_STAGE_WRITE
            : SECOND_STAGE_READ;
      if ((access & ACCESS_USER) !== 0) flags |= SECOND_STAGE_USER;
      if ((rights & 1) !== 0) flags |= SECOND_STAGE_GUEST_WRITABLE;
      if ((rights & RIGHT_USER) !== 0) flags |= SECOND_STAGE_GUEST_USER_PAGE;
      if ((rights & RIGHT_XD) !== 0) flags |= SECOND_STAGE_GUEST_EXECUTE_DISABLE;
      at = ss.translate(physical, flags, r.linearHi, r.linearLo);
      if (at < 0) return this.secondStageFault(physical, 0);
    }
    r.hostPhysical = at;
    r.outcome = WalkOutcome.OK;
    return WalkOutcome.OK;
  }

  // SDM Vol. 3A §4.8: the accessed flag of every entry used, and the dirty flag of the entry
  // that maps the page on a write. With a second stage, write permission for all updates is
  // checked first, so a second-stage fault leaves every flag untouched.
  private updateAccessedDirty(
    startLevel: number,
    leafLevel: number,
    access: number,
    accLo: number,
  ): number {
    const r = this.result;
    const dirtyBit = (access & ACCESS_WRITE) !== 0 ? PTE.D : 0;
    const leafLo = r.entryLo[leafLevel]!;
    // accLo is the AND of every entry's low half: A set there means A is set everywhere.
    if ((accLo & PTE.A) !== 0 && (leafLo & dirtyBit) === dirtyBit) {
      r.dirty = (leafLo & PTE.D) !== 0;
      return WalkOutcome.OK;
    }
    const ss = this.secondStage;
    if (ss !== undefined) {
      for (let level = startLevel; level >= leafLevel; level--) {
        const need = level === leafLevel ? PTE.A | dirtyBit : PTE.A;
        const gpa = r.entryAddress[level]!;
        this.updateAt[level] = -1;
        if ((r.entryLo[level]! & need) === need || Number.isNaN(gpa)) continue;
        const flags = structureAccess(access) ^ SECOND_STAGE_READ ^ SECOND_STAGE_WRITE;
        const at = ss.translate(gpa, flags, r.linearHi, r.linearLo);
        if (at < 0) return this.secondStageFault(gpa, level);
        this.updateAt[level] = at;
      }
    }
    const mem = this.memory;
    for (let level = startLevel; level >= leafLevel; level--) {
      const need = level === leafLevel ? PTE.A | dirtyBit : PTE.A;
      const lo = r.entryLo[level]!;
      const gpa = r.entryAddress[level]!;
      if ((lo & need) === need || Number.isNaN(gpa)) continue;
      const value = (lo | need) >>> 0;
      // A (bit 5) and D (bit 6) live in the entry's lowest byte: one byte store updates them.
      mem.write8(ss === undefined ? gpa : this.updateAt[level]!, value & 0xff);
      r.entryLo[level] = value;
      const n = r.referenceCount++;
      r.referenceAddress[n] = gpa;
      r.referenceInfo[n] = level | REFERENCE_WRITE;
    }
    r.dirty = (r.entryLo[leafLevel]! & PTE.D) !== 0;
    return WalkOutcome.OK;
  }

  private pageFault(state: PagingState, access: number, flags: number): number {
    const r = this.result;
    r.outcome = WalkOutcome.PAGE_FAULT;
    // §4.7: W/R and U/S describe the access; I/D only with SMEP or with PAE and NXE.
    r.errorCode = flags | (access & (ACCESS_WRITE | ACCESS_USER)) | (access & state.fetchErrorMask);
    return WalkOutcome.PAGE_FAULT;
  }

  private nonCanonical(access: number): number {
    const r = this.result;
    r.outcome =
      (access & ACCESS_STACK) !== 0 ? WalkOutcome.STACK_FAULT : WalkOutcome.GENERAL_PROTECTION;
    return r.outcome;
  }

  private secondStageFault(gpa: number, level: number): number {
    const r = this.result;
    r.outcome = WalkOutcome.SECOND_STAGE_FAULT;
    r.faultAddress = gpa;
    r.faultLevel = level;
    return WalkOutcome.SECOND_STAGE_FAULT;
  }
}

function structureAccess(access: number): number {
  return (
    SECOND_STAGE_READ |
    SECOND_STAGE_PAGING_STRUCTURE |
    ((access & ACCESS_USER) !== 0 ? SECOND_STAGE_USER : 0)
  );
}

/**
 * Splits a 64-bit linear address into uint32 halves.
 *
 * @param linear - the address, in [0, 2^64)
 * @returns `[bits 63:32, bits 31:0]`
 * @example
 * ```ts
 * splitLinear(0xffff_8000_0000_1000n); // [0xffff8000, 0x1000]
 * ```
 */
export function splitLinear(linear: bigint): [number, number] {
  if (typeof linear !== 'bigint' || linear < 0n || linear >= 1n << 64n) {
    throw new PagingError('INVALID_ADDRESS', `linear address ${linear} is not in [0, 2^64)`);
  }
  return [Number(linear >> 32n), Number(linear & 0xffff_ffffn)];
}
