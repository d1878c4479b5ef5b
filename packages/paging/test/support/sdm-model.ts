// An expected-result model of IA-32e (4-level and 5-level) paging written from the text of
// SDM Vol. 3A §4.5 (walk and reserved bits), §4.6 (access rights, protection keys), §4.7
// (page-fault error code) and §4.8 (accessed and dirty flags). It shares no code with the
// walker in src/: it works on decoded flags (booleans), not on entry bit patterns, and states
// each rule the way the SDM's prose does.

/** The flags of one paging-structure entry, as a test scenario sets them. */
export interface EntryFlags {
  present: boolean;
  writable: boolean;
  user: boolean;
  accessed: boolean;
  /** Only meaningful for the entry that maps the page. */
  dirty: boolean;
  executeDisable: boolean;
  /** Some bit in 51:MAXPHYADDR is set. */
  reservedAddressBit: boolean;
  /** PS = 1 in a PML4E or PML5E (where bit 7 is reserved). */
  reservedPageSize: boolean;
  /** Protection key (bits 62:59) of the entry that maps the page. */
  protectionKey: number;
}

/** Processor state the model depends on. */
export interface ModelCpu {
  wp: boolean;
  smep: boolean;
  smap: boolean;
  ac: boolean;
  nxe: boolean;
  pke: boolean;
  pks: boolean;
  pkru: number;
  pkrs: number;
}

/** The access. */
export interface ModelAccess {
  kind: 'read' | 'write' | 'fetch';
  /** CPL = 3 and not an implicit access. */
  userMode: boolean;
  /** An implicit supervisor-mode access. */
  implicit: boolean;
}

/** The expected outcome. */
export type Expected =
  | { fault: true; errorCode: number }
  | { fault: false; accessed: boolean[]; dirty: boolean };

/**
 * @param path - the entries used, from the top level (PML5E or PML4E) to the one mapping the page
 */
export function expectedTranslation(
  path: readonly EntryFlags[],
  cpu: ModelCpu,
  access: ModelAccess,
): Expected {
  const isWrite = access.kind === 'write';
  const isFetch = access.kind === 'fetch';
  // §4.7: W/R is 1 for a write; U/S is 1 for a user-mode access; I/D is 1 for an instruction
  // fetch if CR4.SMEP = 1 or (CR4.PAE = 1, which holds in IA-32e paging, and IA32_EFER.NXE = 1).
  const accessBits =
    (isWrite ? 2 : 0) | (access.userMode ? 4 : 0) | (isFetch && (cpu.smep || cpu.nxe) ? 16 : 0);

  // §4.5.4: the walk stops at the first entry that is not present (P = 0: a page fault with
  // P = 0 in the error code) or that sets a reserved bit (P = 1 and RSVD = 1). Bit 63 (XD) is
  // reserved when IA32_EFER.NXE = 0.
  for (const entry of path) {
    if (!entry.present) return { fault: true, errorCode: accessBits };
    const reserved =
      entry.reservedAddressBit || entry.reservedPageSize || (entry.executeDisable && !cpu.nxe);
    if (reserved) return { fault: true, errorCode: 1 | 8 | accessBits };
  }

  // §4.6.1: a user-mode address is one with U/S = 1 in every entry; R/W = 1 in every entry
  // allows writes; with NXE = 1, XD = 1 in any entry disallows instruction fetches.
  const userAddress = path.every((e) => e.user);
  const allWritable = path.every((e) => e.writable);
  const executeDisabled = cpu.nxe && path.some((e) => e.executeDisable);

  let allowed: boolean;
  if (access.userMode) {
    // User-mode accesses: only user-mode addresses.
    if (!userAddress) allowed = false;
    else if (isFetch) allowed = !executeDisabled;
    else if (isWrite) allowed = allWritable;
    else allowed = true;
  } else if (isFetch) {
    // Supervisor-mode fetches: from user-mode addresses only without SMEP; XD always applies.
    allowed = !(userAddress && cpu.smep) && !executeDisabled;
  } else {
    // Supervisor-mode data accesses to user-mode addresses with SMAP: only explicit accesses
    // with EFLAGS.AC = 1. Writes with CR0.WP = 1 need R/W = 1 at every level.
    const smapBlocks = userAddress && cpu.smap && (access.implicit || !cpu.ac);
    const wpBlocks = isWrite && cpu.wp && !allWritable;
    allowed = !smapBlocks && !wpBlocks;
  }

  // §4.6.2: protection keys, for data accesses only. PKRU (CR4.PKE) for user-mode addresses,
  // IA32_PKRS (CR4.PKS) for supervisor-mode addresses. Access-disable blocks every data access;
  // write-disable blocks user-mode writes, and supervisor-mode writes only when CR0.WP = 1.
  // §4.7: the PK bit is set when these conditions hold.
  let keyViolation = false;
  if (!isFetch) {
    const key = path[path.length - 1]!.protectionKey;
    const register = userAddress ? (cpu.pke ? cpu.pkru : 0) : cpu.pks ? cpu.pkrs : 0;
    const accessDisable = ((register >>> (2 * key)) & 1) === 1;
    const writeDisable = ((register >>> (2 * key + 1)) & 1) === 1;
    keyViolation = accessDisable || (writeDisable && isWrite && (access.userMode || cpu.wp));
  }

  if (!allowed || keyViolation) {
    return { fault: true, errorCode: 1 | accessBits | (keyViolation ? 32 : 0) };
  }
  // §4.8: on success, A in every entry used; D in the entry mapping the page for writes.
  return {
    fault: false,
    accessed: path.map(() => true),
    dirty: path[path.length - 1]!.dirty || isWrite,
  };
}
