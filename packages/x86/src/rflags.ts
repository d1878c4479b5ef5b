// RFLAGS / EFLAGS, SDM Vol. 1 §3.4.3 (Figure 3-8) and Vol. 3A §2.3 (Figure 2-5).

/** EFLAGS/RFLAGS flags (SDM Vol. 1 §3.4.3, Figure 3-8). Masks; IOPL is a two-bit field. */
export const RFLAGS = {
  /** Carry Flag (bit 0). */
  CF: 1 << 0,
  /** Bit 1, reserved, always reads as 1. */
  FIXED1: 1 << 1,
  /** Parity Flag (bit 2). */
  PF: 1 << 2,
  /** Auxiliary Carry Flag (bit 4). */
  AF: 1 << 4,
  /** Zero Flag (bit 6). */
  ZF: 1 << 6,
  /** Sign Flag (bit 7). */
  SF: 1 << 7,
  /** Trap Flag (bit 8). */
  TF: 1 << 8,
  /** Interrupt Enable Flag (bit 9). */
  IF: 1 << 9,
  /** Direction Flag (bit 10). */
  DF: 1 << 10,
  /** Overflow Flag (bit 11). */
  OF: 1 << 11,
  /** I/O Privilege Level (bits 13:12). */
  IOPL: 3 << 12,
  /** Nested Task (bit 14). */
  NT: 1 << 14,
  /** Resume Flag (bit 16). */
  RF: 1 << 16,
  /** Virtual-8086 Mode (bit 17). */
  VM: 1 << 17,
  /** Alignment Check / Access Control (bit 18): lifts SMAP for explicit accesses. */
  AC: 1 << 18,
  /** Virtual Interrupt Flag (bit 19). */
  VIF: 1 << 19,
  /** Virtual Interrupt Pending (bit 20). */
  VIP: 1 << 20,
  /** ID Flag (bit 21). */
  ID: 1 << 21,
} as const;
