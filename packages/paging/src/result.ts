/** How a walk or translation ended. */
export const WalkOutcome = {
  /** Translated: the result holds the physical address and the page's attributes. */
  OK: 0,
  /** #PF: `errorCode` and the faulting linear address (CR2) are in the result. */
  PAGE_FAULT: 1,
  /** #GP(0): a non-canonical linear address (SDM Vol. 3A §3.3.7.1), or a PDPTE load fault. */
  GENERAL_PROTECTION: 2,
  /** #SS(0): a non-canonical linear address of a stack access. */
  STACK_FAULT: 3,
  /** The second stage refused a guest-physical access; see `faultAddress` and `faultLevel`. */
  SECOND_STAGE_FAULT: 4,
  /**
   * A paging-structure entry lies outside guest memory (`faultAddress`): no architectural
   * fault exists for it, so the VMM decides (a machine check, or a guest crash report).
   */
  BAD_PHYSICAL_ADDRESS: 5,
} as const;

/** Maximum number of memory references one walk can make (5 reads + 5 writes). */
export const MAX_REFERENCES = 10;

/**
 * The result of a walk or a cached translation. One object is reused by each walker or MMU,
 * so read what you need before the next call.
 */
export class WalkResult {
  /** A {@link WalkOutcome} value. */
  outcome = 0;
  /** The #PF error code (SDM Vol. 3A §4.7), or 0 for #GP(0)/#SS(0). */
  errorCode = 0;
  /** Bits 63:32 of the linear address translated (CR2 on a page fault). */
  linearHi = 0;
  /** Bits 31:0 of the linear address translated. */
  linearLo = 0;
  /** The translated guest-physical address. */
  physical = 0;
  /** The address after the second stage (equal to `physical` without one). */
  hostPhysical = 0;
  /** Guest-physical base of the page. */
  frame = 0;
  /** Page size in bytes: 4096, 2 MiB, 4 MiB or 1 GiB. */
  pageSize = 0;
  /** Level of the entry that maps the page (1 = PTE, 2 = PDE, 3 = PDPTE). */
  leafLevel = 0;
  /** Combined rights: bit 0 writable at every level, bit 1 user at every level, bit 2 XD. */
  rights = 0;
  /** Whether the leaf is global (G = 1 and CR4.PGE = 1). */
  global = false;
  /** Whether the leaf's dirty flag is set after the walk. */
  dirty = false;
  /** The protection key of the leaf (4-/5-level paging), else 0. */
  protectionKey = 0;
  /** Guest-physical address the second stage refused or that lies outside memory. */
  faultAddress = 0;
  /** Paging-structure level of that address, or 0 for the final address. */
  faultLevel = 0;
  /** Number of memory references in `referenceAddress` / `referenceInfo`. */
  referenceCount = 0;
  /** Guest-physical address of each memory reference, in order. */
  readonly referenceAddress = new Float64Array(MAX_REFERENCES);
  /** Per reference: level in bits 2:0, bit 3 set for a write (an A/D update). */
  readonly referenceInfo = new Uint8Array(MAX_REFERENCES);
  /** Low half of the entry used at each level (index 1..5); valid down to `leafLevel`. */
  readonly entryLo = new Uint32Array(6);
  /** High half of the entry used at each level. */
  readonly entryHi = new Uint32Array(6);
  /** Guest-physical address of the entry used at each level (NaN for PDPTE registers). */
  readonly entryAddress = new Float64Array(6);

  /** The faulting linear address as a bigint (CR2 after a #PF). @returns the address */
  get linear(): bigint {
    return (BigInt(this.linearHi) << 32n) | BigInt(this.linearLo);
  }
}

/** Reference-info flag: the reference was a write. */
export const REFERENCE_WRITE = 8;
