// Register encodings shared by exit qualifications and the VM-exit instruction-information
// field: SDM Vol. 3C §28.2.1 Table 28-3 (bits 11:8, "general-purpose register") and §28.2.5
// (the "Reg1"/"Reg2"/"IndexReg"/"BaseReg" and "Segment register" fields).

/**
 * General-purpose register numbers as VMX exit information encodes them (SDM Vol. 3C §28.2.1,
 * Table 28-3 bits 11:8; the same numbering in every instruction-information register field).
 */
export const Gpr = {
  /** 0: RAX. */
  RAX: 0,
  /** 1: RCX. */
  RCX: 1,
  /** 2: RDX. */
  RDX: 2,
  /** 3: RBX. */
  RBX: 3,
  /** 4: RSP. */
  RSP: 4,
  /** 5: RBP. */
  RBP: 5,
  /** 6: RSI. */
  RSI: 6,
  /** 7: RDI. */
  RDI: 7,
  /** 8: R8. */
  R8: 8,
  /** 9: R9. */
  R9: 9,
  /** 10: R10. */
  R10: 10,
  /** 11: R11. */
  R11: 11,
  /** 12: R12. */
  R12: 12,
  /** 13: R13. */
  R13: 13,
  /** 14: R14. */
  R14: 14,
  /** 15: R15. */
  R15: 15,
} as const;

/**
 * Segment-register numbers of the instruction-information field (SDM Vol. 3C §28.2.5, bits
 * 17:15 "Segment register"); 6 and 7 are not used.
 */
export const SegmentRegister = {
  /** 0: ES. */
  ES: 0,
  /** 1: CS. */
  CS: 1,
  /** 2: SS. */
  SS: 2,
  /** 3: DS. */
  DS: 3,
  /** 4: FS. */
  FS: 4,
  /** 5: GS. */
  GS: 5,
} as const;
