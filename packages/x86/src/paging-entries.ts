import { CR0, CR4, EFER } from './control-registers.js';

// Paging-structure entry formats, SDM Vol. 3A §4.3 (32-bit paging, Tables 4-4..4-6),
// §4.4 (PAE paging, Tables 4-8..4-11) and §4.5 (4-level and 5-level paging,
// Tables 4-14..4-20). Entries of PAE and IA-32e paging are 64 bits wide; vmkit reads them as
// two 32-bit halves, so the flags below are masks of the low half (`PTE`) or of the high half
// (`PTE_HI`).

/**
 * Flags in the low 32 bits of a paging-structure entry, with the same position in every
 * paging mode (SDM Vol. 3A §4.3-§4.5; summary in §4.5 Table 4-20 "Format of a 4-Level PTE").
 * Not every flag exists in every entry: PS only in PDEs and PDPTEs (and is reserved in PML4Es
 * and PML5Es), D and G only in entries that map a page, PAT at bit 7 in PTEs and at bit 12 in
 * entries that map a 2-MByte, 4-MByte or 1-GByte page.
 */
export const PTE = {
  /** Present (bit 0). */
  P: 1 << 0,
  /** Read/write (bit 1): 0 = writes may not be allowed. */
  RW: 1 << 1,
  /** User/supervisor (bit 2): 0 = user-mode accesses are not allowed. */
  US: 1 << 2,
  /** Page-level write-through (bit 3). */
  PWT: 1 << 3,
  /** Page-level cache disable (bit 4). */
  PCD: 1 << 4,
  /** Accessed (bit 5). */
  A: 1 << 5,
  /** Dirty (bit 6), in entries that map a page. */
  D: 1 << 6,
  /** Page size (bit 7) in PDEs and PDPTEs: 1 = the entry maps a page. */
  PS: 1 << 7,
  /** PAT (bit 7) in a PTE that maps a 4-KByte page. */
  PAT: 1 << 7,
  /** Global (bit 8), in entries that map a page, when CR4.PGE = 1. */
  G: 1 << 8,
  /** PAT (bit 12) in an entry that maps a 2-MByte, 4-MByte or 1-GByte page. */
  PAT_LARGE: 1 << 12,
} as const;

/**
 * Fields in the high 32 bits of a 64-bit paging-structure entry (SDM Vol. 3A §4.4, §4.5;
 * protection keys §4.6.2).
 */
export const PTE_HI = {
  /** XD, execute-disable (bit 63), when IA32_EFER.NXE = 1; reserved otherwise. */
  XD: 0x8000_0000,
  /** Protection key (bits 62:59) of an entry that maps a page, 4-/5-level paging only. */
  PK_MASK: 0x7800_0000,
  /** Shift that moves the protection key of the high half to bits 3:0. */
  PK_SHIFT: 27,
} as const;

/**
 * 32-bit paging: a PDE that maps a 4-MByte page (CR4.PSE = 1, PS = 1), SDM Vol. 3A §4.3
 * Table 4-4. Bits 20:13 hold physical-address bits (M-1):32 with the PSE-36 mechanism
 * (M = min(MAXPHYADDR, 40)), bit 21 is reserved, bits 31:22 hold address bits 31:22.
 */
export const PDE_4MB = {
  /** Bits 20:13: physical-address bits 39:32 (PSE-36). */
  ADDRESS_HIGH_MASK: 0x1f_e000,
  /** Shift of the PSE-36 field. */
  ADDRESS_HIGH_SHIFT: 13,
  /** Bit 21: reserved (must be 0). */
  RESERVED_BIT21: 1 << 21,
  /** Bits 31:22: physical-address bits 31:22 of the 4-MByte page. */
  ADDRESS_MASK: 0xffc0_0000,
  /** The widest physical address a 4-MByte PDE can express (SDM Vol. 3A §4.3). */
  MAX_ADDRESS_BITS: 40,
} as const;

/** PAE paging: a PDPTE, loaded into a PDPTE register (SDM Vol. 3A §4.4.1, Table 4-8). */
export const PDPTE_PAE = {
  /** Bits 2:1 and 8:5: reserved (must be 0); bits 63:MAXPHYADDR are reserved too. */
  RESERVED_LO: 0x1e6,
} as const;

/**
 * A PDE that maps a 2-MByte page, PAE paging (Table 4-9) and 4-/5-level paging (Table 4-18).
 */
export const PDE_2MB = {
  /** Bits 20:13: reserved (must be 0). */
  RESERVED_LO: 0x1f_e000,
  /** Bits 31:21: physical-address bits 31:21 of the page. */
  ADDRESS_LO: 0xffe0_0000,
} as const;

/** A PDPTE that maps a 1-GByte page, 4-/5-level paging (SDM Vol. 3A Table 4-16). */
export const PDPTE_1GB = {
  /** Bits 29:13: reserved (must be 0). */
  RESERVED_LO: 0x3fff_e000,
  /** Bits 31:30: physical-address bits 31:30 of the page. */
  ADDRESS_LO: 0xc000_0000,
} as const;

/**
 * The paging-structure levels, numbered as vmkit counts them: 1 is the level whose entries
 * map 4-KByte pages (PTE), 5 is the PML5 table (SDM Vol. 3A §4.5, Figure 4-8 and Figure 4-9).
 */
export const PagingLevel = {
  /** Page-table entry (maps a 4-KByte page). */
  PTE: 1,
  /** Page-directory entry (maps a 2-/4-MByte page or references a page table). */
  PDE: 2,
  /** Page-directory-pointer-table entry (maps a 1-GByte page or references a page directory). */
  PDPTE: 3,
  /** PML4 entry. */
  PML4E: 4,
  /** PML5 entry. */
  PML5E: 5,
} as const;

/** The four paging modes of SDM Vol. 3A §4.1.1 (Table 4-1), plus no paging. */
export type PagingModeName = 'none' | '32-bit' | 'pae' | '4-level' | '5-level';

/**
 * The paging mode selected by CR0.PG, CR4.PAE, IA32_EFER.LME and CR4.LA57
 * (SDM Vol. 3A §4.1.1, Table 4-1). LME stands in for LMA, which the processor sets from LME
 * when CR0.PG becomes 1.
 *
 * @param cr0 - CR0 (low 32 bits)
 * @param cr4 - CR4 (low 32 bits)
 * @param efer - IA32_EFER (low 32 bits)
 * @returns the paging mode
 * @example
 * ```ts
 * pagingMode(CR0.PG | CR0.PE, CR4.PAE, EFER.LME); // '4-level'
 * ```
 */
export function pagingMode(cr0: number, cr4: number, efer: number): PagingModeName {
  if ((cr0 & CR0.PG) === 0) return 'none';
  if ((cr4 & CR4.PAE) === 0) return '32-bit';
  if ((efer & EFER.LME) === 0) return 'pae';
  return (cr4 & CR4.LA57) === 0 ? '4-level' : '5-level';
}

/**
 * Number of linear-address bits translated by a paging mode (SDM Vol. 3A §4.1.1, Table 4-1):
 * 32 for 32-bit and PAE paging, 48 for 4-level, 57 for 5-level paging.
 *
 * @param mode - a paging mode other than `none`
 * @returns the linear-address width in bits
 */
export function linearAddressBits(mode: Exclude<PagingModeName, 'none'>): number {
  return mode === '5-level' ? 57 : mode === '4-level' ? 48 : 32;
}
