// Control registers and IA32_EFER, SDM Vol. 3A §2.5 ("Control Registers", Figure 2-7) and
// §2.2.1 ("Extended Feature Enable Register", Figure 2-4 and Table 2-1).

/**
 * CR0 flags (SDM Vol. 3A §2.5, Figure 2-7). Every value is a mask of the bit.
 *
 * @example
 * ```ts
 * const pagingOn = (cr0 & CR0.PG) !== 0;
 * ```
 */
export const CR0 = {
  /** Protection Enable (bit 0). */
  PE: 1 << 0,
  /** Monitor Coprocessor (bit 1). */
  MP: 1 << 1,
  /** Emulation (bit 2). */
  EM: 1 << 2,
  /** Task Switched (bit 3). */
  TS: 1 << 3,
  /** Extension Type (bit 4). */
  ET: 1 << 4,
  /** Numeric Error (bit 5). */
  NE: 1 << 5,
  /** Write Protect (bit 16): supervisor-mode writes honour R/W (SDM Vol. 3A §4.6.1). */
  WP: 1 << 16,
  /** Alignment Mask (bit 18). */
  AM: 1 << 18,
  /** Not Write-through (bit 29). */
  NW: 1 << 29,
  /** Cache Disable (bit 30). */
  CD: 1 << 30,
  /** Paging (bit 31). */
  PG: 0x8000_0000,
} as const;

/**
 * CR3 fields (SDM Vol. 3A §4.3 Table 4-3, §4.4.1 Table 4-7, §4.5 Tables 4-12 and 4-13,
 * §4.10.4.1 for bit 63). Low-half values are masks of the low 32 bits; `NOFLUSH_HI` is a mask
 * of the high 32 bits.
 */
export const CR3 = {
  /** Page-level Write-Through (bit 3), when CR4.PCIDE = 0. */
  PWT: 1 << 3,
  /** Page-level Cache Disable (bit 4), when CR4.PCIDE = 0. */
  PCD: 1 << 4,
  /** Process-context identifier (bits 11:0), when CR4.PCIDE = 1 (§4.10.1). */
  PCID: 0xfff,
  /** Physical-address bits 31:12 of the paging-structure root (4 KiB aligned). */
  BASE_LO: 0xffff_f000,
  /** PAE paging: bits 31:5 give the 32-byte-aligned PDPT address (§4.4.1, Table 4-7). */
  PAE_PDPT_BASE: 0xffff_ffe0,
  /**
   * Bit 63 of the MOV CR3 source operand when CR4.PCIDE = 1: if 1, the instruction is not
   * required to invalidate TLB entries of the new PCID (§4.10.4.1). Mask of the high half.
   */
  NOFLUSH_HI: 0x8000_0000,
} as const;

/** CR4 flags (SDM Vol. 3A §2.5, Figure 2-7 and the CR4 list that follows it). Masks. */
export const CR4 = {
  /** Virtual-8086 Mode Extensions (bit 0). */
  VME: 1 << 0,
  /** Protected-Mode Virtual Interrupts (bit 1). */
  PVI: 1 << 1,
  /** Time Stamp Disable (bit 2). */
  TSD: 1 << 2,
  /** Debugging Extensions (bit 3). */
  DE: 1 << 3,
  /** Page Size Extensions (bit 4): 4-MByte pages with 32-bit paging. */
  PSE: 1 << 4,
  /** Physical Address Extension (bit 5). */
  PAE: 1 << 5,
  /** Machine-Check Enable (bit 6). */
  MCE: 1 << 6,
  /** Page Global Enable (bit 7). */
  PGE: 1 << 7,
  /** Performance-Monitoring Counter Enable (bit 8). */
  PCE: 1 << 8,
  /** OS support for FXSAVE and FXRSTOR (bit 9). */
  OSFXSR: 1 << 9,
  /** OS support for unmasked SIMD floating-point exceptions (bit 10). */
  OSXMMEXCPT: 1 << 10,
  /** User-Mode Instruction Prevention (bit 11). */
  UMIP: 1 << 11,
  /** 57-bit linear addresses, i.e. 5-level paging (bit 12). */
  LA57: 1 << 12,
  /** VMX-Enable (bit 13). */
  VMXE: 1 << 13,
  /** SMX-Enable (bit 14). */
  SMXE: 1 << 14,
  /** FSGSBASE-Enable (bit 16). */
  FSGSBASE: 1 << 16,
  /** PCID-Enable (bit 17). */
  PCIDE: 1 << 17,
  /** XSAVE and Processor Extended States-Enable (bit 18). */
  OSXSAVE: 1 << 18,
  /** Key-Locker-Enable (bit 19). */
  KL: 1 << 19,
  /** Supervisor Mode Execution Prevention (bit 20). */
  SMEP: 1 << 20,
  /** Supervisor Mode Access Prevention (bit 21). */
  SMAP: 1 << 21,
  /** Protection Keys for user-mode pages (bit 22). */
  PKE: 1 << 22,
  /** Control-flow Enforcement Technology (bit 23). */
  CET: 1 << 23,
  /** Protection Keys for supervisor-mode pages (bit 24). */
  PKS: 1 << 24,
  /** User Interrupts Enable (bit 25). */
  UINTR: 1 << 25,
} as const;

/** IA32_EFER flags (SDM Vol. 3A §2.2.1, Table 2-1). Masks. */
export const EFER = {
  /** SYSCALL Enable (bit 0). */
  SCE: 1 << 0,
  /** IA-32e Mode Enable (bit 8). */
  LME: 1 << 8,
  /** IA-32e Mode Active (bit 10). */
  LMA: 1 << 10,
  /** Execute Disable Bit Enable (bit 11): the XD bit of PAE and IA-32e paging entries. */
  NXE: 1 << 11,
} as const;
