import {
  CR0,
  CR4,
  EFER,
  MAXPHYADDR_LIMIT,
  PDE_2MB,
  PDE_4MB,
  PDPTE_1GB,
  PTE,
  RFLAGS,
} from '@vmkit/x86';
import { ACCESS_FETCH, ACCESS_IMPLICIT, ACCESS_USER, ACCESS_WRITE } from './access.js';
import { PagingError } from './errors.js';

/** Paging mode codes used on the hot path (SDM Vol. 3A §4.1.1, Table 4-1). */
export const PagingMode = {
  /** CR0.PG = 0: linear addresses are physical addresses. */
  NONE: 0,
  /** 32-bit paging. */
  BITS32: 1,
  /** PAE paging. */
  PAE: 2,
  /** 4-level paging. */
  LEVEL4: 3,
  /** 5-level paging. */
  LEVEL5: 4,
} as const;

/** The processor features that change what translation does (SDM Vol. 3A §4.1.4). */
export interface PagingFeatures {
  /** MAXPHYADDR, 32..52 (CPUID.80000008H:EAX[7:0]); default 52. */
  readonly maxPhyAddr?: number;
  /** 1-GByte pages (CPUID.80000001H:EDX.Page1GB); default true. */
  readonly page1GB?: boolean;
  /** PSE-36: 4-MByte pages above 4 GBytes with 32-bit paging (CPUID.01H:EDX[17]); default true. */
  readonly pse36?: boolean;
}

/** Initial register values of a {@link PagingState}; all default to 0 (paging off). */
export interface PagingStateInit {
  /** Processor features; see {@link PagingFeatures}. */
  readonly features?: PagingFeatures;
  /** CR0, low 32 bits. */
  readonly cr0?: number;
  /** CR3 as a bigint (bit 63 ignored; it is an operand flag of MOV CR3, not CR3 state). */
  readonly cr3?: bigint;
  /** CR4, low 32 bits. */
  readonly cr4?: number;
  /** IA32_EFER, low 32 bits. */
  readonly efer?: number;
  /** RFLAGS, low 32 bits (EFLAGS.AC matters for SMAP). */
  readonly rflags?: number;
  /** PKRU. */
  readonly pkru?: number;
  /** IA32_PKRS, low 32 bits. */
  readonly pkrs?: number;
}

const U32 = 0x1_0000_0000;

function checkU32(name: string, value: number): number {
  // Accepts int32 results of bitwise operators as well as uint32 values.
  if (!Number.isInteger(value) || value < -0x8000_0000 || value >= U32) {
    throw new PagingError('INVALID_ADDRESS', `${name} ${value} is not a 32-bit value`);
  }
  return value >>> 0;
}

/**
 * The processor state that linear-address translation reads: CR0, CR3, CR4, IA32_EFER,
 * EFLAGS.AC, PKRU, IA32_PKRS and the four PDPTE registers of PAE paging, plus the features
 * that shape it. Setting a register recomputes the derived tables the walker uses (paging
 * mode, reserved-bit masks per level, the permission table), so a walk does no decoding of
 * control registers.
 *
 * This class holds state only: MOV CR3/CR4 invalidation semantics and PDPTE loading live in
 * {@link Mmu} and {@link loadPdptes}.
 *
 * @example
 * ```ts
 * const state = new PagingState({
 *   features: { maxPhyAddr: 46 },
 *   cr0: CR0.PG | CR0.PE | CR0.WP,
 *   cr4: CR4.PAE,
 *   efer: EFER.LME | EFER.LMA | EFER.NXE,
 *   cr3: 0x1000n,
 * });
 * state.mode; // PagingMode.LEVEL4
 * ```
 */
export class PagingState {
  /** MAXPHYADDR in effect. */
  readonly maxPhyAddr: number;
  /** Whether 1-GByte pages are supported. */
  readonly page1GB: boolean;
  /** Whether PSE-36 is supported. */
  readonly pse36: boolean;

  /** CR0 (low 32 bits). */
  cr0 = 0;
  /** CR3 bits 31:0. */
  cr3Lo = 0;
  /** CR3 bits 63:32. */
  cr3Hi = 0;
  /** CR4 (low 32 bits). */
  cr4 = 0;
  /** IA32_EFER (low 32 bits). */
  efer = 0;
  /** RFLAGS (low 32 bits). */
  rflags = 0;
  /** PKRU. */
  pkru = 0;
  /** IA32_PKRS (low 32 bits). */
  pkrs = 0;
  /** Low halves of the PDPTE registers PDPTE0..3 (PAE paging, SDM Vol. 3A §4.4.1). */
  readonly pdpteLo = new Uint32Array(4);
  /** High halves of the PDPTE registers. */
  readonly pdpteHi = new Uint32Array(4);

  /** The paging mode ({@link PagingMode}), derived. */
  mode: number = PagingMode.NONE;
  /** The current PCID: CR3[11:0] when CR4.PCIDE = 1, else 0 (SDM Vol. 3A §4.10.1). */
  pcid = 0;
  /** Mask of physical-address bits (M-1):32 in an entry's high half. */
  readonly addressHiMask: number;
  /**
   * Reserved-bit masks of the low half, indexed by `level * 2 + PS` for the current mode
   * (SDM Vol. 3A §4.3-§4.5: the tables' "Reserved (must be 0)" rows).
   */
  readonly reservedLo = new Int32Array(12);
  /** Reserved-bit masks of the high half, indexed like {@link PagingState.reservedLo}. */
  readonly reservedHi = new Int32Array(12);
  /**
   * Error code of a denied access, indexed by `(accessIndex << 3) | rights`, 0 when allowed;
   * the access index packs W/R (bit 1), U/S (bit 2), I/D (bit 4) and implicit (bit 0).
   * Protection keys are checked separately.
   */
  readonly permission = new Uint8Array(32 * 8);
  /** Mask applied to ACCESS_FETCH to form the I/D error-code bit (SDM Vol. 3A §4.7). */
  fetchErrorMask = 0;

  /** @param init - features and initial register values */
  constructor(init: PagingStateInit = {}) {
    const f = init.features ?? {};
    const m = f.maxPhyAddr ?? MAXPHYADDR_LIMIT;
    if (!Number.isInteger(m) || m < 32 || m > MAXPHYADDR_LIMIT) {
      throw new PagingError('INVALID_CONFIG', `MAXPHYADDR ${m} is not an integer in [32, 52]`);
    }
    this.maxPhyAddr = m;
    this.page1GB = f.page1GB ?? true;
    this.pse36 = f.pse36 ?? true;
    this.addressHiMask = 2 ** (m - 32) - 1;
    this.cr0 = checkU32('CR0', init.cr0 ?? 0);
    this.cr4 = checkU32('CR4', init.cr4 ?? 0);
    this.efer = checkU32('IA32_EFER', init.efer ?? 0);
    this.rflags = checkU32('RFLAGS', init.rflags ?? 0);
    this.pkru = checkU32('PKRU', init.pkru ?? 0);
    this.pkrs = checkU32('IA32_PKRS', init.pkrs ?? 0);
    this.setCr3(init.cr3 ?? 0n);
    this.derive();
  }

  /** Sets CR0 and recomputes the derived state. @param value - CR0 bits 31:0 */
  setCr0(value: number): void {
    this.cr0 = checkU32('CR0', value);
    this.derive();
  }

  /** Sets CR4 and recomputes the derived state. @param value - CR4 bits 31:0 */
  setCr4(value: number): void {
    this.cr4 = checkU32('CR4', value);
    this.derive();
  }

  /** Sets IA32_EFER and recomputes the derived state. @param value - IA32_EFER bits 31:0 */
  setEfer(value: number): void {
    this.efer = checkU32('IA32_EFER', value);
    this.derive();
  }

  /** Sets RFLAGS (only AC matters here). @param value - RFLAGS bits 31:0 */
  setRflags(value: number): void {
    this.rflags = checkU32('RFLAGS', value);
    this.derive();
  }

  /**
   * Sets CR3. Bit 63 (the MOV CR3 no-flush operand bit) is not part of CR3 and is dropped.
   *
   * @param value - the new CR3 as a bigint in [0, 2^64)
   */
  setCr3(value: bigint): void {
    if (value < 0n || value >= 1n << 64n) {
      throw new PagingError('INVALID_ADDRESS', `CR3 ${value} is not a 64-bit value`);
    }
    this.setCr3Halves(Number((value >> 32n) & 0x7fff_ffffn), Number(value & 0xffff_ffffn));
  }

  /**
   * Sets CR3 from two halves (the hot-path form of {@link PagingState.setCr3}).
   *
   * @param hi - CR3 bits 63:32 (bit 63 is dropped)
   * @param lo - CR3 bits 31:0
   */
  setCr3Halves(hi: number, lo: number): void {
    this.cr3Hi = checkU32('CR3 high half', hi) & 0x7fff_ffff;
    this.cr3Lo = checkU32('CR3 low half', lo);
    // Only the PCID depends on CR3; the mode and the tables do not (SDM Vol. 3A §4.10.1).
    this.pcid = (this.cr4 & CR4.PCIDE) !== 0 ? this.cr3Lo & 0xfff : 0;
  }

  /** The CR3 value as a bigint. @returns CR3 */
  get cr3(): bigint {
    return (BigInt(this.cr3Hi) << 32n) | BigInt(this.cr3Lo);
  }

  /**
   * The physical address of the root paging structure: CR3 bits (M-1):12, or bits 31:5 for
   * the PAE PDPT and 31:12 for 32-bit paging (SDM Vol. 3A Tables 4-3, 4-7, 4-12, 4-13).
   *
   * @returns the guest-physical address of the root table
   */
  rootTable(): number {
    switch (this.mode) {
      case PagingMode.BITS32:
        return (this.cr3Lo & 0xffff_f000) >>> 0;
      case PagingMode.PAE:
        return (this.cr3Lo & 0xffff_ffe0) >>> 0;
      default:
        return (this.cr3Hi & this.addressHiMask) * U32 + ((this.cr3Lo & 0xffff_f000) >>> 0);
    }
  }

  /** Sets PKRU. @param value - the 32-bit PKRU value */
  setPkru(value: number): void {
    this.pkru = checkU32('PKRU', value);
  }

  /** Sets IA32_PKRS (low 32 bits). @param value - the 32-bit IA32_PKRS value */
  setPkrs(value: number): void {
    this.pkrs = checkU32('IA32_PKRS', value);
  }

  /** Recomputes everything derived from the registers. */
  private derive(): void {
    const cr0 = this.cr0;
    const cr4 = this.cr4;
    const efer = this.efer;
    if ((cr0 & CR0.PG) === 0) this.mode = PagingMode.NONE;
    else if ((cr4 & CR4.PAE) === 0) this.mode = PagingMode.BITS32;
    else if ((efer & EFER.LME) === 0) this.mode = PagingMode.PAE;
    else this.mode = (cr4 & CR4.LA57) === 0 ? PagingMode.LEVEL4 : PagingMode.LEVEL5;
    this.pcid = (cr4 & CR4.PCIDE) !== 0 ? this.cr3Lo & 0xfff : 0;
    this.deriveReserved();
    this.derivePermissions();
  }

  private deriveReserved(): void {
    const lo = this.reservedLo;
    const hi = this.reservedHi;
    lo.fill(0);
    hi.fill(0);
    const nxe = (this.efer & EFER.NXE) !== 0;
    const xd = nxe ? 0 : 0x8000_0000 | 0;
    const set = (level: number, ps: number, l: number, h: number) => {
      lo[level * 2 + ps] = l;
      hi[level * 2 + ps] = h;
    };
    switch (this.mode) {
      case PagingMode.BITS32: {
        // SDM Vol. 3A §4.3, Table 4-4: a 4-MByte PDE holds address bits (M-1):32 in bits
        // 20:13 with M = min(MAXPHYADDR, 40) under PSE-36 (32 without it); bits 21:(M-19)
        // are reserved. PDEs referencing page tables and PTEs have no reserved bits.
        if ((this.cr4 & CR4.PSE) !== 0) {
          const m = this.pse36 ? Math.min(this.maxPhyAddr, PDE_4MB.MAX_ADDRESS_BITS) : 32;
          set(2, 1, 2 ** 22 - 2 ** (m - 19), 0);
        }
        break;
      }
      case PagingMode.PAE: {
        // SDM Vol. 3A §4.4.2, Tables 4-9..4-11: bits 62:M are reserved, and bit 63 when
        // IA32_EFER.NXE = 0; a 2-MByte PDE also reserves bits 20:13.
        const r = (0x7fff_ffff & ~this.addressHiMask) | xd;
        set(2, 0, 0, r);
        set(2, 1, PDE_2MB.RESERVED_LO, r);
        set(1, 0, 0, r);
        set(1, 1, 0, r);
        break;
      }
      case PagingMode.LEVEL4:
      case PagingMode.LEVEL5: {
        // SDM Vol. 3A §4.5.4, Tables 4-14..4-20: bits 51:M are reserved, bit 63 when
        // IA32_EFER.NXE = 0; PS (bit 7) is reserved in PML5Es and PML4Es; a PDPTE with PS = 1
        // is reserved without 1-GByte page support and otherwise reserves bits 29:13; a
        // 2-MByte PDE reserves bits 20:13.
        const r = (0x000f_ffff & ~this.addressHiMask) | xd;
        set(5, 0, PTE.PS, r);
        set(5, 1, PTE.PS, r);
        set(4, 0, PTE.PS, r);
        set(4, 1, PTE.PS, r);
        set(3, 0, 0, r);
        set(3, 1, this.page1GB ? PDPTE_1GB.RESERVED_LO : PTE.PS, r);
        set(2, 0, 0, r);
        set(2, 1, PDE_2MB.RESERVED_LO, r);
        set(1, 0, 0, r);
        set(1, 1, 0, r);
        break;
      }
    }
  }

  private derivePermissions(): void {
    const wp = (this.cr0 & CR0.WP) !== 0;
    const smep = (this.cr4 & CR4.SMEP) !== 0;
    const smap = (this.cr4 & CR4.SMAP) !== 0;
    const ac = (this.rflags & RFLAGS.AC) !== 0;
    // XD exists only with PAE, 4-level and 5-level paging (SDM Vol. 3A §4.6.1).
    const nxe = (this.efer & EFER.NXE) !== 0 && this.mode >= PagingMode.PAE;
    // I/D is reported when CR4.SMEP = 1, or CR4.PAE = 1 and IA32_EFER.NXE = 1 (§4.7).
    this.fetchErrorMask =
      smep || ((this.cr4 & CR4.PAE) !== 0 && (this.efer & EFER.NXE) !== 0) ? ACCESS_FETCH : 0;
    for (let a = 0; a < 32; a++) {
      const access = accessFromIndex(a);
      const write = (access & ACCESS_WRITE) !== 0;
      const user = (access & ACCESS_USER) !== 0;
      const fetch = (access & ACCESS_FETCH) !== 0;
      const implicit = (access & ACCESS_IMPLICIT) !== 0;
      for (let rights = 0; rights < 8; rights++) {
        const writable = (rights & RIGHT_WRITABLE) !== 0;
        const userPage = (rights & RIGHT_USER) !== 0;
        const xd = (rights & RIGHT_XD) !== 0;
        let denied: boolean;
        // SDM Vol. 3A §4.6.1, "Determination of Access Rights".
        if (user) {
          if (!userPage) denied = true;
          else if (fetch) denied = nxe && xd;
          else denied = write && !writable;
        } else if (fetch) {
          denied = (userPage && smep) || (nxe && xd);
        } else {
          denied = (userPage && smap && (implicit || !ac)) || (write && wp && !writable);
        }
        this.permission[(a << 3) | rights] = denied
          ? 1 | (access & (ACCESS_WRITE | ACCESS_USER)) | (access & this.fetchErrorMask)
          : 0;
      }
    }
  }
}

/** Rights bit: R/W = 1 at every level. */
export const RIGHT_WRITABLE = 1;
/** Rights bit: U/S = 1 at every level (a user-mode address). */
export const RIGHT_USER = 2;
/** Rights bit: XD = 1 at some level. */
export const RIGHT_XD = 4;

/**
 * Compresses access flags to the 5-bit index of the permission table: W/R (bit 1), U/S
 * (bit 2), I/D (bit 4) stay in place, implicit goes to bit 0.
 *
 * @param access - `ACCESS_*` flags
 * @returns an index 0..31
 */
export function permissionIndex(access: number): number {
  return (access & 0x16) | ((access >>> 8) & 1);
}

function accessFromIndex(index: number): number {
  return (index & 0x16) | ((index & 1) << 8);
}
