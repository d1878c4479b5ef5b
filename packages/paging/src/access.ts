import { PagingError } from './errors.js';

// Access kinds of SDM Vol. 3A §4.6 ("Access Rights"). The write, user and fetch flags sit at the
// positions of the W/R, U/S and I/D bits of the page-fault error code (§4.7) so the error code
// is a mask of the access.

/** The access is a write (error-code bit W/R). */
export const ACCESS_WRITE = 1 << 1;
/** The access is a user-mode access: CPL = 3 and not an implicit supervisor-mode access. */
export const ACCESS_USER = 1 << 2;
/** The access is an instruction fetch (error-code bit I/D). */
export const ACCESS_FETCH = 1 << 4;
/**
 * The access is an implicit supervisor-mode access (descriptor tables, TSS, ... read by the
 * processor, at any CPL). SMAP ignores EFLAGS.AC for it (SDM Vol. 3A §4.6.1).
 */
export const ACCESS_IMPLICIT = 1 << 8;
/**
 * The access goes through the SS segment: a non-canonical address raises #SS(0), not #GP(0)
 * (SDM Vol. 3A §6.15, "Interrupt 12" and "Interrupt 13").
 */
export const ACCESS_STACK = 1 << 9;

/** What an access does. */
export type AccessKind = 'read' | 'write' | 'fetch';

/** The description of an access that {@link makeAccess} turns into access flags. */
export interface AccessSpec {
  /** Read, write or instruction fetch. */
  readonly kind: AccessKind;
  /** The current privilege level, 0..3. */
  readonly cpl: number;
  /** An implicit supervisor-mode access (a system-structure reference); default false. */
  readonly implicit?: boolean;
  /** A stack access (SS segment); default false. */
  readonly stack?: boolean;
}

/**
 * Builds the access flags the walker takes. A user-mode access is one made at CPL 3 that is
 * not implicit; every other access is a supervisor-mode access (SDM Vol. 3A §4.6).
 *
 * @param spec - kind, CPL and whether the access is implicit or a stack access
 * @returns the access flags (`ACCESS_*` bits)
 * @example
 * ```ts
 * makeAccess({ kind: 'write', cpl: 3 }); // ACCESS_WRITE | ACCESS_USER
 * makeAccess({ kind: 'read', cpl: 3, implicit: true }); // ACCESS_IMPLICIT (a supervisor access)
 * ```
 */
export function makeAccess(spec: AccessSpec): number {
  const { kind, cpl } = spec;
  if (!Number.isInteger(cpl) || cpl < 0 || cpl > 3) {
    throw new PagingError('INVALID_ACCESS', `CPL ${cpl} is not 0..3`);
  }
  if (spec.implicit === true && kind === 'fetch') {
    throw new PagingError('INVALID_ACCESS', 'an instruction fetch is never an implicit access');
  }
  let flags = kind === 'write' ? ACCESS_WRITE : kind === 'fetch' ? ACCESS_FETCH : 0;
  if (spec.implicit === true) flags |= ACCESS_IMPLICIT;
  else if (cpl === 3) flags |= ACCESS_USER;
  if (spec.stack === true) flags |= ACCESS_STACK;
  return flags;
}
