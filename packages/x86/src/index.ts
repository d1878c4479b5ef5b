export { CR0, CR3, CR4, EFER } from './control-registers.js';
export {
  type AddressSizes,
  CPUID_FEATURE,
  CPUID_LEAF_ADDRESS_SIZES,
  type CpuidBit,
  type CpuidFeatureName,
  decodeAddressSizes,
  MAXPHYADDR_DEFAULT,
  MAXPHYADDR_LIMIT,
  physicalAddressHighMask,
} from './cpuid.js';
export { exceptionHasErrorCode, PFEC, Vector } from './exceptions.js';
export { MSR } from './msr.js';
export {
  linearAddressBits,
  PagingLevel,
  type PagingModeName,
  PDE_2MB,
  PDE_4MB,
  PDPTE_1GB,
  PDPTE_PAE,
  PTE,
  PTE_HI,
  pagingMode,
} from './paging-entries.js';
export { RFLAGS } from './rflags.js';
