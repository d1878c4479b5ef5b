// The virtual-processor identifier, SDM Vol. 3C §25.6.12 ("Virtual-Processor Identifier
// (VPID)"), 16 bits; VPID 0000H is the host's (§29.1, "Virtual Processor Identifiers"), so VM
// entry with "enable VPID" = 1 requires a non-zero VPID (§27.2.1.1). The EPTP field is defined
// and checked by `@vmkit/ept` (`EPTP`, `decodeEptp`, `checkEptp`, `makeEptp`).

/** The VPID of VMX root operation and of guests without "enable VPID" (SDM Vol. 3C §29.1). */
export const VPID_HOST = 0;

/** The largest VPID: the field is 16 bits (SDM Vol. 3C §25.6.12). */
export const VPID_MAX = 0xffff;

/**
 * Why a VPID fails the VM-entry check (SDM Vol. 3C §27.2.1.1): `ZERO` when "enable VPID" is 1
 * and the VPID is 0000H; `RANGE` when the value cannot be held by the 16-bit field.
 */
export type VpidViolation = 'ZERO' | 'RANGE';

/**
 * Applies the VM-entry check on the VPID field.
 *
 * @param enableVpid - the secondary control "enable VPID"
 * @param vpid - the VPID field
 * @returns the violation, or `undefined`
 * @example
 * ```ts
 * checkVpid(true, 0); // 'ZERO'
 * checkVpid(true, 1); // undefined
 * ```
 */
export function checkVpid(enableVpid: boolean, vpid: number): VpidViolation | undefined {
  if (!Number.isInteger(vpid) || vpid < 0 || vpid > VPID_MAX) return 'RANGE';
  return enableVpid && vpid === VPID_HOST ? 'ZERO' : undefined;
}

/**
 * The VPID that tags a guest's linear and combined mappings: the VPID field when "enable VPID"
 * is 1, else 0000H (SDM Vol. 3C §29.1).
 *
 * @param enableVpid - the secondary control "enable VPID"
 * @param vpid - the VPID field
 * @returns the effective VPID
 * @example
 * ```ts
 * effectiveVpid(false, 7); // 0
 * ```
 */
export function effectiveVpid(enableVpid: boolean, vpid: number): number {
  return enableVpid ? vpid : VPID_HOST;
}
