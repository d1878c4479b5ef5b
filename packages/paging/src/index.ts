export {
  ACCESS_FETCH,
  ACCESS_IMPLICIT,
  ACCESS_STACK,
  ACCESS_USER,
  ACCESS_WRITE,
  type AccessKind,
  type AccessSpec,
  makeAccess,
} from './access.js';
export { PagingError, type PagingErrorCode } from './errors.js';
export { Mmu, type MmuOptions } from './mmu.js';
export type { PageTableMemory } from './page-table-memory.js';
export { loadPdptes } from './pdpte.js';
export { PagingStructureCaches, type PscConfig } from './psc.js';
export { MAX_REFERENCES, REFERENCE_WRITE, WalkOutcome, WalkResult } from './result.js';
export {
  SECOND_STAGE_FETCH,
  SECOND_STAGE_GUEST_EXECUTE_DISABLE,
  SECOND_STAGE_GUEST_USER_PAGE,
  SECOND_STAGE_GUEST_WRITABLE,
  SECOND_STAGE_PAGING_STRUCTURE,
  SECOND_STAGE_READ,
  SECOND_STAGE_USER,
  SECOND_STAGE_WRITE,
  type SecondStage,
} from './second-stage.js';
export {
  type PagingFeatures,
  PagingMode,
  PagingState,
  type PagingStateInit,
  RIGHT_USER,
  RIGHT_WRITABLE,
  RIGHT_XD,
} from './state.js';
export { TranslationStats } from './stats.js';
export { TLB_ATTR, Tlb, type TlbConfig } from './tlb.js';
export { type CacheGeometry, type Replacement, TranslationCache } from './translation-cache.js';
export type { WalkObserver } from './walk-observer.js';
export { PageWalker, splitLinear } from './walker.js';
