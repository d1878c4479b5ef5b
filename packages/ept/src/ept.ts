import { type GuestMemory, GuestMemoryError } from '@vmkit/memory';
import {
  type CacheGeometry,
  type PagingState,
  loadPdptes as pagingLoadPdptes,
  type Replacement,
  SECOND_STAGE_FETCH,
  SECOND_STAGE_GUEST_EXECUTE_DISABLE,
  SECOND_STAGE_GUEST_USER_PAGE,
  SECOND_STAGE_GUEST_WRITABLE,
  SECOND_STAGE_PAGING_STRUCTURE,
  SECOND_STAGE_WRITE,
  type SecondStage,
  TranslationCache,
} from '@vmkit/paging';
import { type EptFeatures, type ResolvedEptFeatures, resolveEptFeatures } from './capabilities.js';
import { EPT, EPT_SUPPRESS_VE_HI, EPT_QUALIFICATION as Q } from './constants.js';
import { EntryChecks, MISCONFIGURATION_CAUSES } from './entry-checks.js';
import { checkEptp, decodeEptp } from './eptp.js';
import { EptError } from './errors.js';
import { EptExit, EptOutcome } from './exit.js';
import { REF_GUEST, REF_WRITE, ReferenceLog } from './reference-log.js';
import { EptStats } from './stats.js';

const U32 = 0x1_0000_0000;
// Bytes covered by one entry at each level (index 1..5).
const SPAN = [0, 2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39, 2 ** 48];
const RIGHTS = EPT.R | EPT.W | EPT.X | EPT.XU;

/** Geometry of the EPT caches; `ways: 0` (the default everywhere) disables one. */
export interface EptCacheConfig {
  /** Guest-physical mappings of 4-KByte EPT pages (SDM Vol. 3C §29.4.1). */
  readonly small?: CacheGeometry;
  /** Guest-physical mappings of 2-MByte EPT pages. */
  readonly large?: CacheGeometry;
  /** Guest-physical mappings of 1-GByte EPT pages. */
  readonly huge?: CacheGeometry;
  /** EPT paging-structure cache of PDEs (entries that reference an EPT page table). */
  readonly pde?: CacheGeometry;
  /** EPT paging-structure cache of PDPTEs. */
  readonly pdpte?: CacheGeometry;
  /** EPT paging-structure cache of PML4Es. */
  readonly pml4e?: CacheGeometry;
  /** EPT paging-structure cache of PML5Es. */
  readonly pml5e?: CacheGeometry;
  /** Replacement policy of all of them; default `lru`. */
  readonly replacement?: Replacement;
}

/** Options of an {@link Ept}. */
export interface EptOptions {
  /** The EPTP; it must pass the VM-entry checks (SDM Vol. 3C §27.2.1.1). */
  readonly eptp: bigint;
  /** Processor capabilities and EPT-related VM-execution controls. */
  readonly features?: EptFeatures;
  /** EPT caches (none by default: every translation walks). */
  readonly caches?: EptCacheConfig;
}

const OFF: CacheGeometry = { sets: 1, ways: 0 };

/**
 * Extended page tables (SDM Vol. 3C §29.3): translates guest-physical addresses to
 * host-physical ones by walking the EPT paging structures in host memory, with EPT
 * violations and misconfigurations reported exactly as the VMCS would hold them.
 *
 * `Ept` implements `@vmkit/paging`'s `SecondStage`: give it to a `PageWalker` or `Mmu`
 * and every guest paging-structure access and the final guest-physical address go through
 * it (the two-dimensional walk). A refused access returns -1; the details are in
 * {@link Ept.exit}. Every memory reference of the EPT walks and of the guest walk they serve
 * is appended to {@link Ept.references}.
 *
 * Optional caches (guest-physical mappings and EPT paging-structure caches, tagged with the
 * EP4TA, SDM Vol. 3C §29.4) keep stale entries until {@link Ept.invalidate} (INVEPT).
 *
 * @example
 * ```ts
 * const ept = new Ept(host, { eptp: makeEptp(0x10_0000) });
 * const walker = new PageWalker(host, ept);
 * if (walker.walk(state, 0, 0x40_1000, ACCESS_WRITE) === WalkOutcome.SECOND_STAGE_FAULT) {
 *   ept.exit.qualification; // EPT-violation exit qualification
 * }
 * ```
 */
export class Ept implements SecondStage {
  /** Details of the last translation (reused). */
  readonly exit = new EptExit();
  /** Memory references of walks since the last `references.clear()`. */
  readonly references = new ReferenceLog();
  /** Counters. */
  readonly stats = new EptStats();
  /** The resolved features. */
  readonly features: ResolvedEptFeatures;
  /** Host-physical memory: EPT tables, guest paging structures, guest RAM. */
  readonly memory: GuestMemory;
  /** Guest-physical mappings by page size (4 KiB, 2 MiB, 1 GiB). */
  readonly mappings: readonly [TranslationCache, TranslationCache, TranslationCache];
  /** EPT paging-structure caches by level of the cached entry (index 2..5). */
  readonly psc: readonly (TranslationCache | undefined)[];

  private eptpValue = 0n;
  private root = 0;
  private walkLength = 4;
  private ad = false;
  private context = 0;
  private readonly contexts = new Map<number, number>();
  private readonly checks: EntryChecks;
  private readonly entryAt = new Float64Array(6);
  private readonly entryLo = new Int32Array(6);
  private readonly entryHi = new Int32Array(6);
  /**
   * Page size, AND of permissions and leaf dirty flag of the last translation of a final
   * (non-paging-structure) address: what a combined TLB entry needs.
   *
   * @internal
   */
  readonly lastFinal = { pageSize: 0, permissions: 0, dirty: false };
  private pdpteLoad = false;
  private hintPage = -1;
  private leafDirty = false;
  private hintHost = 0;

  /**
   * @param memory - host-physical memory holding the EPT tables and the guest's memory
   * @param options - EPTP, features, caches
   * @throws {@link EptError} `INVALID_EPTP` when VM entry would reject the EPTP
   */
  constructor(memory: GuestMemory, options: EptOptions) {
    this.memory = memory;
    this.features = resolveEptFeatures(options.features);
    const c = options.caches ?? {};
    const r = c.replacement ?? 'lru';
    this.mappings = [
      new TranslationCache(c.small ?? OFF, r),
      new TranslationCache(c.large ?? OFF, r),
      new TranslationCache(c.huge ?? OFF, r),
    ];
    this.psc = [
      undefined,
      undefined,
      new TranslationCache(c.pde ?? OFF, r),
      new TranslationCache(c.pdpte ?? OFF, r),
      new TranslationCache(c.pml4e ?? OFF, r),
      new TranslationCache(c.pml5e ?? OFF, r),
    ];
    this.checks = new EntryChecks(this.features);
    this.setEptp(options.eptp);
  }

  /** The current EPTP. @returns the EPTP */
  get eptp(): bigint {
    return this.eptpValue;
  }

  /** The EP4TA (EPTP bits 51:12) that tags cached information. @returns the address */
  get ep4ta(): number {
    return this.root;
  }

  /**
   * Loads a new EPTP (a VMWRITE followed by VM entry). Cached information tagged with other
   * EP4TAs stays (SDM Vol. 3C §29.4.1); switching back may use it.
   *
   * @param eptp - the new EPTP
   * @throws {@link EptError} `INVALID_EPTP` when VM entry would reject it
   */
  setEptp(eptp: bigint): void {
    const bad = checkEptp(eptp, this.features);
    if (bad !== undefined) {
      throw new EptError('INVALID_EPTP', `EPTP 0x${eptp.toString(16)} fails VM entry: ${bad}`);
    }
    const f = decodeEptp(eptp);
    this.eptpValue = eptp;
    this.root = f.root;
    this.walkLength = f.walkLength;
    this.ad = f.accessedDirty;
    this.context = this.contextOf(f.root);
  }

  /**
   * The small integer that tags cached entries of an EP4TA (shared with the combined caches
   * of `NestedMmu`).
   *
   * @param ep4ta - an EPTP root address
   * @returns the tag
   */
  contextOf(ep4ta: number): number {
    let id = this.contexts.get(ep4ta);
    if (id === undefined) {
      id = this.contexts.size + 1;
      this.contexts.set(ep4ta, id);
    }
    return id;
  }

  /**
   * Invalidates cached guest-physical mappings and EPT paging-structure-cache entries: those
   * of one EP4TA (INVEPT single-context) or all (INVEPT global), SDM Vol. 3C §29.4.3.1.
   *
   * @param ep4ta - the EP4TA, or undefined for all
   */
  invalidate(ep4ta?: number): void {
    const caches = [...this.mappings, ...this.psc.slice(2)] as TranslationCache[];
    if (ep4ta === undefined) {
      for (const c of caches) c.clear();
      return;
    }
    const ctx = this.contexts.get(ep4ta);
    if (ctx === undefined) return;
    for (const c of caches) c.invalidateWhere((i) => c.pcid[i] === ctx);
  }

  /**
   * The PDPTE-register load of PAE paging (MOV to CR3 and friends, SDM Vol. 3A §4.4.1) through
   * EPT. An EPT violation it causes has qualification bit 7 (guest-linear address valid) clear,
   * as SDM Vol. 3C Table 28-7 specifies for PDPTE loads.
   *
   * @param state - the guest's paging state (CR3 set)
   * @returns the `WalkOutcome` of `@vmkit/paging`'s `loadPdptes`
   */
  loadPdptes(state: PagingState): number {
    this.pdpteLoad = true;
    try {
      return pagingLoadPdptes(state, this.memory, this);
    } finally {
      this.pdpteLoad = false;
    }
  }

  /**
   * Tells the next paging-structure access to the 4-KByte guest-physical page `gpaPage` that
   * the page is at host-physical `hostPage`: a combined paging-structure-cache hit supplies the
   * host address of the next guest table, so reading its entry needs no EPT walk
   * (SDM Vol. 3C §29.4.1, combined paging-structure-cache entries).
   *
   * @param gpaPage - guest-physical page number (address / 4096)
   * @param hostPage - host-physical address of that page
   * @internal
   */
  hint(gpaPage: number, hostPage: number): void {
    this.hintPage = gpaPage;
    this.hintHost = hostPage;
  }

  /**
   * Translates one guest-physical address (`SecondStage`).
   *
   * @param gpa - the guest-physical address
   * @param access - `SECOND_STAGE_*` flags of `@vmkit/paging`
   * @param linearHi - bits 63:32 of the guest-linear address being translated
   * @param linearLo - bits 31:0
   * @returns the host-physical address, or -1 after an EPT violation or misconfiguration
   */
  translate(gpa: number, access: number, linearHi: number, linearLo: number): number {
    const structure = (access & SECOND_STAGE_PAGING_STRUCTURE) !== 0;
    if (structure && this.hintPage >= 0) {
      const page = this.hintPage;
      this.hintPage = -1;
      if (Math.floor(gpa / 4096) === page) {
        const hpa = this.hintHost + (gpa % 4096);
        this.logGuest(hpa, access);
        return hpa;
      }
    }
    // SDM Vol. 3C §29.3.3.2: with EPT A/D flags on, processor accesses to guest paging-structure
    // entries are treated as writes.
    const write = (access & SECOND_STAGE_WRITE) !== 0 || (structure && this.ad);
    const fetch = (access & SECOND_STAGE_FETCH) !== 0;
    // The right needed, as a mask of the AND of the entries' permissions.
    const need = fetch
      ? this.features.modeBasedExecute && (access & SECOND_STAGE_GUEST_USER_PAGE) !== 0
        ? EPT.XU
        : EPT.X
      : write
        ? EPT.W
        : EPT.R;
    const hpa =
      this.lookupMapping(gpa, access, need, write, linearHi, linearLo) ??
      this.walk(gpa, access, need, write, linearHi, linearLo);
    if (hpa >= 0) {
      if (structure) this.logGuest(hpa, access);
      else {
        const f = this.lastFinal;
        f.pageSize = this.exit.pageSize;
        f.permissions = this.exit.permissions;
        f.dirty = !this.ad || this.leafDirty;
      }
    }
    return hpa;
  }

  private logGuest(hpa: number, access: number): void {
    this.references.push(hpa, REF_GUEST | ((access & SECOND_STAGE_WRITE) !== 0 ? REF_WRITE : 0));
  }

  /** A guest-physical-mapping hit, or undefined to walk. */
  private lookupMapping(
    gpa: number,
    access: number,
    need: number,
    write: boolean,
    linearHi: number,
    linearLo: number,
  ): number | undefined {
    const ctx = this.context;
    for (let s = 0; s < 3; s++) {
      const c = this.mappings[s]!;
      if (c.ways === 0) continue;
      const span = SPAN[s + 1]!;
      const slot = c.lookup(Math.floor(gpa / span), ctx);
      if (slot < 0) continue;
      const attr = c.attr[slot]!;
      const rights = attr & RIGHTS;
      // A write through a mapping cached with D = 0 walks again to set D (§29.3.4.2).
      if (write && this.ad && (attr & EPT.D) === 0) return undefined;
      this.stats.mappingHits++;
      const e = this.exit;
      if ((rights & need) === 0) {
        // A cached, less permissive mapping: an EPT violation, which invalidates the mappings
        // that would translate the address (SDM Vol. 3C §29.4.3.1).
        c.tag[slot] = -1;
        return this.violation(gpa, access, rights, linearHi, linearLo, s + 1, 0, c.attrHi[slot]!);
      }
      const hpa = c.value[slot]! + (gpa % span);
      this.leafDirty = (attr & EPT.D) !== 0;
      e.outcome = EptOutcome.OK;
      e.hostPhysical = hpa;
      e.pageSize = span;
      e.memoryType = (attr >>> 3) & 7;
      e.ignorePat = (attr & EPT.IPAT) !== 0;
      e.permissions = rights;
      e.guestPhysical = gpa;
      return hpa;
    }
    if (this.mappings[0].ways !== 0) this.stats.mappingMisses++;
    return undefined;
  }

  // SDM Vol. 3C §29.3.2: the EPT translation mechanism.
  private walk(
    gpa: number,
    access: number,
    need: number,
    write: boolean,
    linearHi: number,
    linearLo: number,
  ): number {
    const mem = this.memory;
    const f = this.features;
    const mbec = f.modeBasedExecute;
    const log = this.references;
    const stats = this.stats;
    const ctx = this.context;
    const hi = Math.floor(gpa / U32);
    const lo = gpa >>> 0;
    stats.walks++;
    let level = this.walkLength;
    let table = this.root;
    let acc = -1;
    // The deepest EPT paging-structure-cache hit (§29.4.1) skips the entries above it.
    for (let l = 2; l <= this.walkLength; l++) {
      const c = this.psc[l]!;
      if (c.ways === 0) continue;
      const slot = c.lookup(Math.floor(gpa / SPAN[l]!), ctx);
      if (slot < 0) continue;
      stats.pscHits[l]!++;
      table = c.value[slot]!;
      acc = c.attr[slot]!;
      level = l - 1;
      break;
    }
    const top = level;
    const accTop = acc;
    let eLo = 0;
    let eHi = 0;
    try {
      for (;;) {
        let index: number;
        if (level === 1) index = (lo >>> 12) & 0x1ff;
        else if (level === 2) index = (lo >>> 21) & 0x1ff;
        else if (level === 3) index = ((hi & 0x7f) << 2) | (lo >>> 30);
        else if (level === 4) index = (hi >>> 7) & 0x1ff;
        else index = (hi >>> 16) & 0x1ff;
        const at = table + index * 8;
        eLo = mem.read32(at);
        eHi = mem.read32(at + 4);
        log.push(at, level);
        stats.reads[level]!++;
        this.entryAt[level] = at;
        this.entryLo[level] = eLo;
        this.entryHi[level] = eHi;
        acc &= eLo;
        // §29.3.2: an entry is present if any of bits 2:0 is 1 (or bit 10 with MBEC); a
        // non-present entry ends the walk with an EPT violation and its other bits are ignored.
        if ((eLo & 7) === 0 && !(mbec && (eLo & EPT.XU) !== 0)) {
          return this.violation(gpa, access, acc, linearHi, linearLo, level, eLo, eHi);
        }
        const leaf = level === 1 || (level <= 3 && (eLo & EPT.PS) !== 0);
        const cause = this.checks.misconfiguration(eLo, eHi, level, leaf);
        if (cause !== 0) return this.misconfigured(gpa, access, level, eLo, eHi, cause);
        if (leaf) break;
        table = (eHi & 0xf_ffff) * U32 + ((eLo & 0xffff_f000) >>> 0);
        level--;
      }
    } catch (e) {
      if (!(e instanceof GuestMemoryError)) throw e;
      // An EPT table outside host memory: the VMM built it wrong. Report it as a
      // misconfiguration of the entry that pointed there, never as host memory access.
      return this.misconfigured(gpa, access, level + 1, eLo, eHi, 3);
    }
    // §29.3.3.2: the access is allowed only if every entry used grants the right.
    if ((acc & need) === 0) {
      return this.violation(gpa, access, acc, linearHi, linearLo, level, eLo, eHi);
    }
    const span = SPAN[level]!;
    const base = (eHi & 0xf_ffff) * U32 + ((eLo & ~(span - 1)) >>> 0);
    // §29.3.4.1-2: with EPT A/D on, the accessed flag of every entry used and the dirty flag of
    // the leaf on a write (guest paging-structure accesses count as writes).
    let leafLo = eLo;
    if (this.ad) {
      for (let l = top; l >= level; l--) {
        const old = this.entryLo[l]!;
        const set = l === level && write ? EPT.A | EPT.D : EPT.A;
        if ((old & set) === set) continue;
        const value = old | set;
        mem.write8(this.entryAt[l]! + 1, (value >>> 8) & 0xff);
        this.entryLo[l] = value;
        log.push(this.entryAt[l]!, l | REF_WRITE);
        stats.writes[l]!++;
      }
      leafLo = this.entryLo[level]!;
    }
    this.leafDirty = (leafLo & EPT.D) !== 0;
    const hpa = base + (gpa % span);
    const e = this.exit;
    e.outcome = EptOutcome.OK;
    e.hostPhysical = hpa;
    e.pageSize = span;
    e.memoryType = (eLo >>> 3) & 7;
    e.ignorePat = (eLo & EPT.IPAT) !== 0;
    e.permissions = acc & RIGHTS;
    e.guestPhysical = gpa;
    e.level = level;
    this.fill(gpa, level, top, accTop, base, acc, leafLo, eHi);
    return hpa;
  }

  private fill(
    gpa: number,
    level: number,
    top: number,
    accTop: number,
    base: number,
    acc: number,
    leafLo: number,
    leafHi: number,
  ): void {
    const ctx = this.context;
    const m = this.mappings[level - 1]!;
    if (m.ways !== 0) {
      const slot = m.fill(Math.floor(gpa / SPAN[level]!), ctx, false);
      m.value[slot] = base;
      m.attr[slot] = (acc & RIGHTS) | (leafLo & (0x78 | EPT.D));
      m.attrHi[slot] = leafHi;
    }
    // Cache each entry above the leaf that references an EPT paging structure, with the AND of
    // the permissions down to it.
    let a = accTop;
    for (let l = top; l > level; l--) {
      a &= this.entryLo[l]!;
      const c = this.psc[l]!;
      if (c.ways === 0) continue;
      const eLo = this.entryLo[l]!;
      const eHi = this.entryHi[l]!;
      const slot = c.fill(Math.floor(gpa / SPAN[l]!), ctx, false);
      c.value[slot] = (eHi & 0xf_ffff) * U32 + ((eLo & 0xffff_f000) >>> 0);
      c.attr[slot] = a;
    }
  }

  private violation(
    gpa: number,
    access: number,
    acc: number,
    linearHi: number,
    linearLo: number,
    level: number,
    eLo: number,
    eHi: number,
  ): number {
    const structure = (access & SECOND_STAGE_PAGING_STRUCTURE) !== 0;
    // Table 28-7 bits 2:0: the access. Accesses to guest paging structures with EPT A/D on are
    // treated as writes, and such a violation sets both bit 0 and bit 1.
    let q: number;
    if (structure && this.ad) q = Q.READ | Q.WRITE;
    else if ((access & SECOND_STAGE_FETCH) !== 0) q = Q.FETCH;
    else if ((access & SECOND_STAGE_WRITE) !== 0) q = Q.WRITE;
    else q = Q.READ;
    // Bits 5:3 (and 6 with MBEC): the AND of the permission bits of the entries used.
    q |= (acc & 7) << 3;
    if (this.features.modeBasedExecute && (acc & EPT.XU) !== 0) q |= Q.USER_EXECUTABLE;
    // Bit 7: the guest-linear address is valid except for PDPTE loads; bit 8: the access was to
    // the translation of the linear address rather than to a guest paging structure.
    if (!this.pdpteLoad) {
      q |= Q.LINEAR_VALID;
      if (!structure) {
        q |= Q.TRANSLATED;
        if (this.features.advancedExitInfo) {
          if ((access & SECOND_STAGE_GUEST_USER_PAGE) !== 0) q |= Q.USER_LINEAR;
          if ((access & SECOND_STAGE_GUEST_WRITABLE) !== 0) q |= Q.GUEST_WRITABLE;
          if ((access & SECOND_STAGE_GUEST_EXECUTE_DISABLE) !== 0) q |= Q.GUEST_EXECUTE_DISABLE;
        }
      }
    }
    const e = this.exit;
    e.outcome = EptOutcome.VIOLATION;
    e.qualification = q;
    e.guestPhysical = gpa;
    e.linearHi = this.pdpteLoad ? 0 : linearHi >>> 0;
    e.linearLo = this.pdpteLoad ? 0 : linearLo >>> 0;
    e.level = level;
    e.entryLo = eLo >>> 0;
    e.entryHi = eHi >>> 0;
    e.cause = undefined;
    e.convertToVe = this.features.violationVe && (eHi & EPT_SUPPRESS_VE_HI) === 0;
    this.stats.violations++;
    this.abandonUpdates(access);
    this.invalidateAddress(gpa);
    return -1;
  }

  // The guest walker translates every accessed/dirty update before writing any (so a fault
  // leaves all flags untouched): when one faults, the updates translated before it are not
  // performed and leave the reference log.
  private abandonUpdates(access: number): void {
    if (
      (access & (SECOND_STAGE_PAGING_STRUCTURE | SECOND_STAGE_WRITE)) !==
      (SECOND_STAGE_PAGING_STRUCTURE | SECOND_STAGE_WRITE)
    )
      return;
    this.references.removePendingGuestWrites();
  }

  private misconfigured(
    gpa: number,
    access: number,
    level: number,
    eLo: number,
    eHi: number,
    cause: number,
  ): number {
    const e = this.exit;
    e.outcome = EptOutcome.MISCONFIGURATION;
    e.qualification = 0;
    e.guestPhysical = gpa;
    e.level = level;
    e.entryLo = eLo >>> 0;
    e.entryHi = eHi >>> 0;
    e.cause = MISCONFIGURATION_CAUSES[cause];
    e.convertToVe = false;
    this.stats.misconfigurations++;
    this.abandonUpdates(access);
    this.invalidateAddress(gpa);
    return -1;
  }

  // SDM Vol. 3C §29.4.3.1: an EPT violation or misconfiguration invalidates the cached
  // guest-physical mappings and paging-structure entries that would translate the address.
  private invalidateAddress(gpa: number): void {
    const ctx = this.context;
    for (let s = 0; s < 3; s++) {
      const c = this.mappings[s]!;
      if (c.ways !== 0) c.invalidateTag(Math.floor(gpa / SPAN[s + 1]!), ctx, false);
    }
    for (let l = 2; l <= 5; l++) {
      const c = this.psc[l]!;
      if (c.ways !== 0) c.invalidateTag(Math.floor(gpa / SPAN[l]!), ctx, false);
    }
  }
}
