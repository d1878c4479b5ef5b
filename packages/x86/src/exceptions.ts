// Exception vectors, SDM Vol. 3A §6.3.1 Table 6-1 ("Protected-Mode Exceptions and
// Interrupts"); page-fault error code, SDM Vol. 3A §4.7 Figure 4-12.

/** Exception vectors (SDM Vol. 3A §6.3.1, Table 6-1), by mnemonic. */
export const Vector = {
  /** #DE divide error. */
  DE: 0,
  /** #DB debug exception. */
  DB: 1,
  /** NMI interrupt. */
  NMI: 2,
  /** #BP breakpoint. */
  BP: 3,
  /** #OF overflow. */
  OF: 4,
  /** #BR BOUND range exceeded. */
  BR: 5,
  /** #UD invalid opcode. */
  UD: 6,
  /** #NM device not available. */
  NM: 7,
  /** #DF double fault. */
  DF: 8,
  /** #TS invalid TSS. */
  TS: 10,
  /** #NP segment not present. */
  NP: 11,
  /** #SS stack-segment fault. */
  SS: 12,
  /** #GP general protection. */
  GP: 13,
  /** #PF page fault. */
  PF: 14,
  /** #MF x87 FPU floating-point error. */
  MF: 16,
  /** #AC alignment check. */
  AC: 17,
  /** #MC machine check. */
  MC: 18,
  /** #XM SIMD floating-point exception. */
  XM: 19,
  /** #VE virtualization exception. */
  VE: 20,
  /** #CP control protection exception. */
  CP: 21,
} as const;

/**
 * Whether the exception with this vector pushes an error code (SDM Vol. 3A §6.3.1,
 * Table 6-1, column "Error Code").
 *
 * @param vector - an exception vector 0..31
 * @returns true for #DF, #TS, #NP, #SS, #GP, #PF, #AC and #CP
 * @example
 * ```ts
 * exceptionHasErrorCode(Vector.PF); // true
 * ```
 */
export function exceptionHasErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17 || vector === 21;
}

/** Page-fault error code flags (SDM Vol. 3A §4.7, Figure 4-12). Masks. */
export const PFEC = {
  /** P (bit 0): 0 = non-present page; 1 = page-level protection violation. */
  P: 1 << 0,
  /** W/R (bit 1): 0 = read; 1 = write. */
  WR: 1 << 1,
  /** U/S (bit 2): 0 = supervisor-mode access; 1 = user-mode access. */
  US: 1 << 2,
  /** RSVD (bit 3): a reserved bit was set in some paging-structure entry. */
  RSVD: 1 << 3,
  /** I/D (bit 4): instruction fetch (only reported with SMEP, or with PAE and NXE). */
  ID: 1 << 4,
  /** PK (bit 5): protection-key violation. */
  PK: 1 << 5,
  /** SS (bit 6): shadow-stack access. */
  SS: 1 << 6,
  /** HLAT (bit 7): fault during HLAT paging. */
  HLAT: 1 << 7,
  /** SGX (bit 15): violation of SGX-specific access-control requirements. */
  SGX: 1 << 15,
} as const;
