// The public surface, listed so that any change to it shows in review.
import { expect, it } from 'vitest';
import * as paging from '../src/index.js';

it('exports exactly this API', () => {
  expect(Object.keys(paging).sort()).toMatchInlineSnapshot(`
    [
      "ACCESS_FETCH",
      "ACCESS_IMPLICIT",
      "ACCESS_STACK",
      "ACCESS_USER",
      "ACCESS_WRITE",
      "MAX_REFERENCES",
      "Mmu",
      "PageWalker",
      "PagingError",
      "PagingMode",
      "PagingState",
      "PagingStructureCaches",
      "REFERENCE_WRITE",
      "RIGHT_USER",
      "RIGHT_WRITABLE",
      "RIGHT_XD",
      "SECOND_STAGE_FETCH",
      "SECOND_STAGE_GUEST_EXECUTE_DISABLE",
      "SECOND_STAGE_GUEST_USER_PAGE",
      "SECOND_STAGE_GUEST_WRITABLE",
      "SECOND_STAGE_PAGING_STRUCTURE",
      "SECOND_STAGE_READ",
      "SECOND_STAGE_USER",
      "SECOND_STAGE_WRITE",
      "TLB_ATTR",
      "Tlb",
      "TranslationCache",
      "TranslationStats",
      "WalkOutcome",
      "WalkResult",
      "loadPdptes",
      "makeAccess",
      "splitLinear",
    ]
  `);
});
