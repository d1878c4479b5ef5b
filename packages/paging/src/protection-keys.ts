import { CR0, CR4 } from '@vmkit/x86';
import { ACCESS_FETCH, ACCESS_USER, ACCESS_WRITE } from './access.js';
import { type PagingState, RIGHT_USER } from './state.js';

/**
 * SDM Vol. 3A §4.6.2: protection keys apply to data accesses with 4-level and 5-level paging.
 * PKRU governs user-mode addresses when CR4.PKE = 1, IA32_PKRS supervisor-mode addresses when
 * CR4.PKS = 1. Access-disable (AD, bit 2i) blocks every data access; write-disable (WD, bit
 * 2i+1) blocks user-mode writes, and supervisor-mode writes only when CR0.WP = 1. The caller
 * checks that the paging mode has protection keys.
 *
 * @param state - the processor state
 * @param rights - combined rights of the translation (RIGHT_USER tells user-mode addresses)
 * @param key - the protection key of the leaf entry
 * @param access - the `ACCESS_*` flags
 * @returns whether the access violates the key's rights (error-code bit PK, §4.7)
 */
export function protectionKeyFault(
  state: PagingState,
  rights: number,
  key: number,
  access: number,
): boolean {
  if ((access & ACCESS_FETCH) !== 0) return false;
  let pk = 0;
  if ((rights & RIGHT_USER) !== 0) {
    if ((state.cr4 & CR4.PKE) !== 0) pk = (state.pkru >>> (key * 2)) & 3;
  } else if ((state.cr4 & CR4.PKS) !== 0) {
    pk = (state.pkrs >>> (key * 2)) & 3;
  }
  return (
    (pk & 1) !== 0 ||
    ((pk & 2) !== 0 &&
      (access & ACCESS_WRITE) !== 0 &&
      ((access & ACCESS_USER) !== 0 || (state.cr0 & CR0.WP) !== 0))
  );
}
