/** How the last EPT translation ended. */
export const EptOutcome = {
  /** Translated: see {@link EptExit} fields `hostPhysical`, `pageSize`, `memoryType`. */
  OK: 0,
  /** EPT violation (basic exit reason 48): `qualification`, `guestPhysical`, `linear*`. */
  VIOLATION: 1,
  /** EPT misconfiguration (basic exit reason 49): `guestPhysical`, `level`, `entryLo/Hi`. */
  MISCONFIGURATION: 2,
} as const;

/**
 * Why an EPT paging-structure entry is a misconfiguration (SDM Vol. 3C §29.3.3.1).
 *
 * - `WRITE_WITHOUT_READ`: bit 0 clear and bit 1 set (write-only or write+execute).
 * - `EXECUTE_ONLY`: bits 1:0 clear with execute access, on a processor without execute-only
 *   translations.
 * - `RESERVED`: a reserved bit is set: 7:3 in a non-leaf entry, 51:MAXPHYADDR, 29:12 of a
 *   1-GByte or 20:12 of a 2-MByte leaf (a misaligned large page), or bit 7 where large pages
 *   are not supported.
 * - `MEMORY_TYPE`: a leaf's memory type is 2, 3 or 7.
 */
export type EptMisconfigurationCause =
  | 'WRITE_WITHOUT_READ'
  | 'EXECUTE_ONLY'
  | 'RESERVED'
  | 'MEMORY_TYPE';

/**
 * The details of the last EPT translation: on success the host-physical address and the
 * leaf's attributes, on an EPT-induced VM exit the fields the VMCS would hold (SDM Vol. 3C
 * §28.2.1: exit qualification, guest-physical address, guest-linear address). One object is
 * reused by each {@link Ept}; read what you need before the next translation.
 */
export class EptExit {
  /** An {@link EptOutcome} value. */
  outcome = 0;
  /** Exit qualification of an EPT violation (Table 28-7); 0 for a misconfiguration. */
  qualification = 0;
  /** The guest-physical address of the access (VMCS guest-physical address field). */
  guestPhysical = 0;
  /** Bits 63:32 of the guest-linear address (valid when qualification bit 7 is set). */
  linearHi = 0;
  /** Bits 31:0 of the guest-linear address. */
  linearLo = 0;
  /** EPT level of the entry that stopped the walk (1 = PTE .. 5 = PML5E), or of the leaf. */
  level = 0;
  /** Low half of that entry. */
  entryLo = 0;
  /** High half of that entry. */
  entryHi = 0;
  /** Why the entry is a misconfiguration (only for `MISCONFIGURATION`). */
  cause: EptMisconfigurationCause | undefined = undefined;
  /**
   * Whether the violation is delivered as a virtualization exception (#VE) instead of a VM
   * exit: "EPT-violation #VE" is on and the entry's suppress-#VE bit (63) is 0 (SDM Vol. 3C
   * §26.5.7.1). Always false without that control.
   */
  convertToVe = false;
  /** Host-physical address of a successful translation. */
  hostPhysical = 0;
  /** Size of the EPT page that mapped it: 4 KiB, 2 MiB or 1 GiB. */
  pageSize = 0;
  /** The leaf's EPT memory type (bits 5:3). */
  memoryType = 0;
  /** The leaf's ignore-PAT flag (bit 6). */
  ignorePat = false;
  /** AND of bits 2:0 and 10 (R, W, X, XU) of the entries used. */
  permissions = 0;

  /** The guest-linear address as a bigint. @returns the address */
  get linear(): bigint {
    return (BigInt(this.linearHi) << 32n) | BigInt(this.linearLo);
  }

  /** Whether the guest-linear address field is valid (qualification bit 7). @returns the flag */
  get linearValid(): boolean {
    return (this.qualification & 0x80) !== 0;
  }
}
