// The seam through which a second translation stage (EPT, SDM Vol. 3C §29.3; or an IOMMU)
// sees every guest-physical address a walk touches. `@vmkit/ept` implements it.

/** Second-stage access flag: the guest-physical access reads. */
export const SECOND_STAGE_READ = 1 << 0;
/** Second-stage access flag: the guest-physical access writes (incl. A/D updates). */
export const SECOND_STAGE_WRITE = 1 << 1;
/** Second-stage access flag: the guest-physical access is an instruction fetch. */
export const SECOND_STAGE_FETCH = 1 << 2;
/**
 * Second-stage access flag: the access is to a guest paging-structure entry. Clear for the
 * access to the translated address itself (EPT exit qualification bit 8, SDM Vol. 3C §28.2.1).
 */
export const SECOND_STAGE_PAGING_STRUCTURE = 1 << 3;
/** Second-stage access flag: the guest access is a user-mode access. */
export const SECOND_STAGE_USER = 1 << 4;
/**
 * Second-stage access flag, final access only: the guest translation is a user-mode address
 * (U/S = 1 at every level); advanced EPT exit information bit 9.
 */
export const SECOND_STAGE_GUEST_USER_PAGE = 1 << 5;
/** Final access only: the guest translation is writable (R/W = 1 at every level); bit 10. */
export const SECOND_STAGE_GUEST_WRITABLE = 1 << 6;
/** Final access only: the guest translation is execute-disabled (XD = 1 somewhere); bit 11. */
export const SECOND_STAGE_GUEST_EXECUTE_DISABLE = 1 << 7;

/**
 * A second translation stage, consulted for each guest-physical address a walk uses: every
 * paging-structure entry read, every accessed/dirty-flag write, and the final translated
 * address. The walker reads and writes guest memory at the address returned.
 *
 * A second stage that refuses an access returns a negative number; the walk then stops with
 * {@link WalkOutcome}.SECOND_STAGE_FAULT and sets no accessed or dirty flag. The second stage
 * records its own fault details (for EPT: the exit qualification and guest-physical address).
 *
 * @example
 * ```ts
 * // Guest-physical 0..1 GiB lives at 4 GiB in the memory the walker reads.
 * const offset: SecondStage = {
 *   translate: (gpa) => (gpa < 2 ** 30 ? gpa + 2 ** 32 : -1),
 * };
 * ```
 */
export interface SecondStage {
  /**
   * Translates one guest-physical address.
   *
   * @param gpa - the guest-physical address
   * @param access - `SECOND_STAGE_*` flags describing the access
   * @param linearHi - bits 63:32 of the linear address being translated
   * @param linearLo - bits 31:0 of the linear address being translated
   * @returns the address to access in the walker's memory, or a negative number on a fault
   */
  translate(gpa: number, access: number, linearHi: number, linearLo: number): number;
}
