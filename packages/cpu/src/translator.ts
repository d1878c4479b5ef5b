// The address-translation seam under MmuMemory: what a one- or two-stage MMU must offer the
// CPU. `@vmkit/paging`'s `Mmu` (with or without an EPT second stage) and `@vmkit/ept`'s
// `NestedMmu` both satisfy it structurally.

/** The fields of a translation's result the CPU reads (paging's `WalkResult` has them). */
export interface TranslationResult {
  /** The translated (guest-)physical address. */
  readonly physical: number;
  /** The address after the second stage, equal to `physical` without one: what is accessed. */
  readonly hostPhysical: number;
  /** The #PF error code of a `PAGE_FAULT` outcome (SDM Vol. 3A §4.7). */
  readonly errorCode: number;
}

/**
 * What a second stage (EPT) records about the access it refused, as the VM-exit information
 * fields of SDM Vol. 3C §28.2.1 need it. `@vmkit/ept`'s `EptExit` has these fields.
 */
export interface SecondStageExitRecord {
  /** 1: EPT violation (basic exit reason 48); 2: EPT misconfiguration (49). */
  readonly outcome: number;
  /** The exit qualification of an EPT violation (SDM Vol. 3C Table 28-7). */
  readonly qualification: number;
  /** The guest-physical address of the access. */
  readonly guestPhysical: number;
  /** Bits 63:32 of the guest-linear address (valid when qualification bit 7 is 1). */
  readonly linearHi: number;
  /** Bits 31:0 of the guest-linear address. */
  readonly linearLo: number;
}

/**
 * A linear-address translator for {@link MmuMemory}: translation with paging's access flags
 * and outcomes, the paging-register writes and TLB invalidations the CPU forwards, and, for a
 * two-stage MMU, the record of the last second-stage refusal.
 */
export interface Translator {
  /** The result of the last `translate` (read right after it). */
  readonly result: TranslationResult;
  /**
   * Translates a linear address.
   *
   * @param linearHi - bits 63:32
   * @param linearLo - bits 31:0
   * @param access - paging's `ACCESS_*` flags
   * @returns a paging `WalkOutcome`; `SECOND_STAGE_FAULT` is an EPT exit
   */
  translate(linearHi: number, linearLo: number, access: number): number;
  /** MOV to CR0. @param value - CR0 @returns a `WalkOutcome` */
  movToCr0(value: number): number;
  /** MOV to CR3. @param value - the source operand @returns a `WalkOutcome` */
  movToCr3(value: bigint): number;
  /** MOV to CR4. @param value - CR4 @returns a `WalkOutcome` */
  movToCr4(value: number): number;
  /** WRMSR to IA32_EFER. @param value - EFER */
  writeEfer(value: number): void;
  /** RFLAGS changed (AC for SMAP). @param value - RFLAGS */
  setRflags(value: number): void;
  /** INVLPG. @param linearHi - bits 63:32 @param linearLo - bits 31:0 */
  invlpg(linearHi: number, linearLo: number): void;
  /**
   * INVPCID.
   *
   * @param type - 0..3
   * @param pcid - the PCID
   * @param linearHi - bits 63:32 of the address (type 0)
   * @param linearLo - bits 31:0 of the address (type 0)
   * @returns a `WalkOutcome`
   */
  invpcid(type: number, pcid: number, linearHi: number, linearLo: number): number;
  /** For a two-stage translator: the record of the last second-stage refusal. */
  readonly secondStageExit?: SecondStageExitRecord;
}
