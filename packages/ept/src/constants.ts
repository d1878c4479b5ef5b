// Bit layouts of EPT paging-structure entries, the EPTP and the EPT-violation exit
// qualification (SDM Vol. 3C §25.6.11 Table 25-9, §29.3.2 Tables 29-1..29-6, §28.2.1 Table 28-7).

/**
 * Bits of an EPT paging-structure entry, low half (SDM Vol. 3C §29.3.2, Tables 29-1..29-6).
 *
 * @example
 * ```ts
 * const leaf = EPT.R | EPT.W | EPT.X | (EPT_MEMORY_TYPE.WB << EPT.MEMORY_TYPE_SHIFT);
 * ```
 */
export const EPT = {
  /** Bit 0: read access. */
  R: 1 << 0,
  /** Bit 1: write access. */
  W: 1 << 1,
  /** Bit 2: execute access (supervisor-mode execute with mode-based execute control). */
  X: 1 << 2,
  /** Bits 5:3 of a leaf: the EPT memory type. */
  MEMORY_TYPE_SHIFT: 3,
  /** Bit 6 of a leaf: ignore PAT memory type. */
  IPAT: 1 << 6,
  /** Bit 7 of a PDPTE or PDE: the entry maps a 1-GByte or 2-MByte page. */
  PS: 1 << 7,
  /** Bit 8: accessed (when EPTP bit 6 enables accessed and dirty flags). */
  A: 1 << 8,
  /** Bit 9 of a leaf: dirty (when EPTP bit 6 enables accessed and dirty flags). */
  D: 1 << 9,
  /** Bit 10: user-mode execute access (with mode-based execute control; else ignored). */
  XU: 1 << 10,
} as const;

/** Bit 63 of an EPT entry, as bit 31 of the high half: suppress #VE (SDM Vol. 3C §26.5.7.1). */
export const EPT_SUPPRESS_VE_HI = 0x8000_0000;

/** EPT memory types (SDM Vol. 3C §29.3.7; Vol. 3A §12.3 Table 12-2). */
export const EPT_MEMORY_TYPE = {
  /** Uncacheable. */
  UC: 0,
  /** Write combining. */
  WC: 1,
  /** Write through. */
  WT: 4,
  /** Write protected. */
  WP: 5,
  /** Write back. */
  WB: 6,
} as const;

/** Fields of the EPTP (SDM Vol. 3C §25.6.11, Table 25-9), as masks of bits 11:0. */
export const EPTP = {
  /** Bits 2:0: memory type of the EPT paging structures (0 = UC, 6 = WB). */
  MEMORY_TYPE_MASK: 0x7,
  /** Bits 5:3: EPT page-walk length minus 1. */
  WALK_LENGTH_SHIFT: 3,
  /** Bit 6: enable accessed and dirty flags for EPT. */
  AD: 1 << 6,
  /** Bit 7: enable supervisor shadow-stack access rights. */
  SSS: 1 << 7,
  /** Bits 11:8: reserved. */
  RESERVED_LO: 0xf00,
} as const;

/**
 * Bits of the exit qualification of an EPT violation (SDM Vol. 3C §28.2.1, Table 28-7).
 *
 * @example
 * ```ts
 * if (exit.qualification & EPT_QUALIFICATION.WRITE) console.log('data write');
 * ```
 */
export const EPT_QUALIFICATION = {
  /** Bit 0: the access was a data read. */
  READ: 1 << 0,
  /** Bit 1: the access was a data write. */
  WRITE: 1 << 1,
  /** Bit 2: the access was an instruction fetch. */
  FETCH: 1 << 2,
  /** Bit 3: the guest-physical address was readable (AND of bit 0 over the entries used). */
  READABLE: 1 << 3,
  /** Bit 4: it was writable (AND of bit 1). */
  WRITABLE: 1 << 4,
  /** Bit 5: it was executable (AND of bit 2; supervisor-mode executable with MBEC). */
  EXECUTABLE: 1 << 5,
  /** Bit 6: with mode-based execute control, it was user-mode executable (AND of bit 10). */
  USER_EXECUTABLE: 1 << 6,
  /** Bit 7: the guest-linear address field is valid. */
  LINEAR_VALID: 1 << 7,
  /** Bit 8: the access was to the translation of a linear address (not a paging structure). */
  TRANSLATED: 1 << 8,
  /** Bit 9 (advanced exit information): the linear address is a user-mode address. */
  USER_LINEAR: 1 << 9,
  /** Bit 10 (advanced exit information): the guest translation is writable. */
  GUEST_WRITABLE: 1 << 10,
  /** Bit 11 (advanced exit information): the guest translation is execute-disabled. */
  GUEST_EXECUTE_DISABLE: 1 << 11,
} as const;

/** VM-exit basic reasons of the EPT-induced VM exits (SDM Vol. 3C Appendix C). */
export const EPT_EXIT_REASON = {
  /** EPT violation. */
  VIOLATION: 48,
  /** EPT misconfiguration. */
  MISCONFIGURATION: 49,
} as const;
