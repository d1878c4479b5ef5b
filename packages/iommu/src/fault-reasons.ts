/**
 * Non-recoverable fault reasons of VT-d (Intel VT-d Architecture Specification, Appendix A
 * "Non-Recoverable Fault Reason Encodings"): 01h-0Dh for DMA remapping of untranslated requests,
 * 20h-26h for interrupt remapping.
 */
export const FaultReason = {
  /** 01h: the root entry's Present field is Clear. */
  ROOT_NOT_PRESENT: 0x01,
  /** 02h: the context entry's Present field is Clear. */
  CONTEXT_NOT_PRESENT: 0x02,
  /** 03h: invalid programming of a context entry (TT reserved, AW unsupported, DID too wide). */
  CONTEXT_INVALID: 0x03,
  /** 04h: the input address is above 2^X - 1, X = min(MGAW, AGAW of the context). */
  ADDRESS_BEYOND_AGAW: 0x04,
  /** 05h: a write with the W field Clear in a second-level paging entry. */
  WRITE_NOT_PERMITTED: 0x05,
  /** 06h: a read with the R field Clear in a second-level paging entry. */
  READ_NOT_PERMITTED: 0x06,
  /** 07h: error accessing a second-level paging entry. */
  PAGING_ENTRY_ACCESS: 0x07,
  /** 08h: error accessing the root entry. */
  ROOT_ENTRY_ACCESS: 0x08,
  /** 09h: error accessing the context entry. */
  CONTEXT_ENTRY_ACCESS: 0x09,
  /** 0Ah: non-zero reserved field in a present root entry. */
  ROOT_RESERVED: 0x0a,
  /** 0Bh: non-zero reserved field in a present context entry. */
  CONTEXT_RESERVED: 0x0b,
  /** 0Ch: non-zero reserved field in a second-level paging entry with R or W set. */
  PAGING_ENTRY_RESERVED: 0x0c,
  /** 0Dh: translation request or translated request blocked by the context's TT field. */
  TRANSLATION_BLOCKED: 0x0d,
  /** 20h: a remappable-format interrupt request with a reserved field set. */
  IR_REQUEST_RESERVED: 0x20,
  /** 21h: interrupt_index beyond the interrupt remapping table size. */
  IR_INDEX_BEYOND_TABLE: 0x21,
  /** 22h: the IRTE's Present field is Clear. */
  IR_ENTRY_NOT_PRESENT: 0x22,
  /** 23h: error accessing the interrupt remapping table. */
  IR_TABLE_ACCESS: 0x23,
  /** 24h: non-zero reserved field (or invalid SVT/SQ/IM programming) in a present IRTE. */
  IR_ENTRY_RESERVED: 0x24,
  /** 25h: a compatibility-format interrupt blocked (Compatibility Format Interrupts disabled). */
  IR_COMPATIBILITY_BLOCKED: 0x25,
  /** 26h: source-ID verification against the IRTE's SID/SQ/SVT failed. */
  IR_SOURCE_ID_INVALID: 0x26,
} as const;

/** One of the {@link FaultReason} codes. */
export type FaultReason = (typeof FaultReason)[keyof typeof FaultReason];

/** Whether a fault reason belongs to interrupt remapping (20h-2Fh) rather than DMA remapping. */
export function isInterruptFault(reason: FaultReason): boolean {
  return reason >= 0x20 && reason < 0x30;
}
