// The public surface, listed so that any change to it shows in review.
import { expect, it } from 'vitest';
import * as x86 from '../src/index.js';

it('exports exactly this API', () => {
  expect(Object.keys(x86).sort()).toMatchInlineSnapshot(`
    [
      "CPUID_FEATURE",
      "CPUID_LEAF_ADDRESS_SIZES",
      "CR0",
      "CR3",
      "CR4",
      "EFER",
      "MAXPHYADDR_DEFAULT",
      "MAXPHYADDR_LIMIT",
      "MSR",
      "PDE_2MB",
      "PDE_4MB",
      "PDPTE_1GB",
      "PDPTE_PAE",
      "PFEC",
      "PTE",
      "PTE_HI",
      "PagingLevel",
      "RFLAGS",
      "Vector",
      "decodeAddressSizes",
      "exceptionHasErrorCode",
      "linearAddressBits",
      "pagingMode",
      "physicalAddressHighMask",
    ]
  `);
});
