// CPUID feature bits that paging depends on: SDM Vol. 2A, CPUID instruction (Tables 3-8 to
// 3-10 and the leaf 07H and 80000001H/80000008H descriptions), as listed in SDM Vol. 3A §4.1.4
// ("Enumeration of Paging Features by CPUID").

/** Where a CPUID feature flag lives. */
export interface CpuidBit {
  /** The CPUID leaf (EAX input). */
  readonly leaf: number;
  /** The sub-leaf (ECX input); 0 where the leaf has none. */
  readonly subleaf: number;
  /** The output register holding the flag. */
  readonly register: 'eax' | 'ebx' | 'ecx' | 'edx';
  /** Bit position in that register. */
  readonly bit: number;
}

/** Names of the paging-related CPUID feature flags in {@link CPUID_FEATURE}. */
export type CpuidFeatureName =
  | 'PSE'
  | 'PAE'
  | 'PGE'
  | 'PAT'
  | 'PSE36'
  | 'PCID'
  | 'SMEP'
  | 'INVPCID'
  | 'SMAP'
  | 'PKU'
  | 'OSPKE'
  | 'LA57'
  | 'PKS'
  | 'NX'
  | 'PAGE1GB'
  | 'LM';

/** The paging-related CPUID feature flags (SDM Vol. 3A §4.1.4). */
export const CPUID_FEATURE: Readonly<Record<CpuidFeatureName, CpuidBit>> = {
  /** CPUID.01H:EDX.PSE [bit 3]: 4-MByte pages with 32-bit paging. */
  PSE: { leaf: 0x1, subleaf: 0, register: 'edx', bit: 3 },
  /** CPUID.01H:EDX.PAE [bit 6]: physical-address extension (PAE paging). */
  PAE: { leaf: 0x1, subleaf: 0, register: 'edx', bit: 6 },
  /** CPUID.01H:EDX.PGE [bit 13]: global pages (CR4.PGE). */
  PGE: { leaf: 0x1, subleaf: 0, register: 'edx', bit: 13 },
  /** CPUID.01H:EDX.PAT [bit 16]: page-attribute table. */
  PAT: { leaf: 0x1, subleaf: 0, register: 'edx', bit: 16 },
  /** CPUID.01H:EDX.PSE-36 [bit 17]: 4-MByte pages may map addresses above 4 GBytes. */
  PSE36: { leaf: 0x1, subleaf: 0, register: 'edx', bit: 17 },
  /** CPUID.01H:ECX.PCID [bit 17]: process-context identifiers (CR4.PCIDE). */
  PCID: { leaf: 0x1, subleaf: 0, register: 'ecx', bit: 17 },
  /** CPUID.(EAX=07H,ECX=0H):EBX.SMEP [bit 7]. */
  SMEP: { leaf: 0x7, subleaf: 0, register: 'ebx', bit: 7 },
  /** CPUID.(EAX=07H,ECX=0H):EBX.INVPCID [bit 10]. */
  INVPCID: { leaf: 0x7, subleaf: 0, register: 'ebx', bit: 10 },
  /** CPUID.(EAX=07H,ECX=0H):EBX.SMAP [bit 20]. */
  SMAP: { leaf: 0x7, subleaf: 0, register: 'ebx', bit: 20 },
  /** CPUID.(EAX=07H,ECX=0H):ECX.PKU [bit 3]: protection keys for user-mode pages. */
  PKU: { leaf: 0x7, subleaf: 0, register: 'ecx', bit: 3 },
  /** CPUID.(EAX=07H,ECX=0H):ECX.OSPKE [bit 4]: CR4.PKE is set. */
  OSPKE: { leaf: 0x7, subleaf: 0, register: 'ecx', bit: 4 },
  /** CPUID.(EAX=07H,ECX=0H):ECX.LA57 [bit 16]: 5-level paging. */
  LA57: { leaf: 0x7, subleaf: 0, register: 'ecx', bit: 16 },
  /** CPUID.(EAX=07H,ECX=0H):ECX.PKS [bit 31]: protection keys for supervisor-mode pages. */
  PKS: { leaf: 0x7, subleaf: 0, register: 'ecx', bit: 31 },
  /** CPUID.80000001H:EDX.NX [bit 20]: execute-disable (IA32_EFER.NXE). */
  NX: { leaf: 0x8000_0001, subleaf: 0, register: 'edx', bit: 20 },
  /** CPUID.80000001H:EDX.Page1GB [bit 26]: 1-GByte pages. */
  PAGE1GB: { leaf: 0x8000_0001, subleaf: 0, register: 'edx', bit: 26 },
  /** CPUID.80000001H:EDX.LM [bit 29]: Intel 64 architecture (IA-32e mode). */
  LM: { leaf: 0x8000_0001, subleaf: 0, register: 'edx', bit: 29 },
};

/** CPUID leaf 80000008H reports MAXPHYADDR in EAX[7:0] (SDM Vol. 3A §4.1.4). */
export const CPUID_LEAF_ADDRESS_SIZES = 0x8000_0008;

/**
 * The largest MAXPHYADDR on Intel 64 (SDM Vol. 3A §4.1.4: "MAXPHYADDR is at most 52").
 */
export const MAXPHYADDR_LIMIT = 52;

/**
 * MAXPHYADDR assumed when CPUID.80000008H is not supported: 36 if CPUID.01H:EDX.PAE is 1,
 * otherwise 32 (SDM Vol. 3A §4.1.4).
 */
export const MAXPHYADDR_DEFAULT = 36;

/** Address widths reported by CPUID leaf 80000008H. */
export interface AddressSizes {
  /** MAXPHYADDR: physical-address width in bits (EAX[7:0]). */
  readonly maxPhyAddr: number;
  /** Linear-address width in bits (EAX[15:8]). */
  readonly linearAddressBits: number;
}

/**
 * Decodes MAXPHYADDR and the linear-address width from CPUID.80000008H:EAX (bits 7:0 and
 * 15:8, SDM Vol. 2A CPUID).
 *
 * @param eax - EAX returned by CPUID leaf 80000008H
 * @returns the physical and linear address widths in bits
 * @example
 * ```ts
 * decodeAddressSizes(0x3930); // { maxPhyAddr: 48, linearAddressBits: 57 }
 * ```
 */
export function decodeAddressSizes(eax: number): AddressSizes {
  return { maxPhyAddr: eax & 0xff, linearAddressBits: (eax >>> 8) & 0xff };
}

/**
 * Mask, over the high 32 bits of a 64-bit entry, of the physical-address bits (M-1):32 an
 * entry may hold when MAXPHYADDR = M (SDM Vol. 3A §4.1.4). Bits 51:M of IA-32e entries and
 * bits 62:M of PAE entries above this mask are reserved.
 *
 * @param maxPhyAddr - MAXPHYADDR, 32..52
 * @returns the mask of address bits in the high half
 * @example
 * ```ts
 * physicalAddressHighMask(46); // 0x3fff (bits 45:32)
 * ```
 */
export function physicalAddressHighMask(maxPhyAddr: number): number {
  if (!Number.isInteger(maxPhyAddr) || maxPhyAddr < 32 || maxPhyAddr > MAXPHYADDR_LIMIT) {
    throw new RangeError(`MAXPHYADDR ${maxPhyAddr} is not an integer in [32, 52]`);
  }
  return 2 ** (maxPhyAddr - 32) - 1;
}
