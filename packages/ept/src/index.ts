export { EptBuilder, type EptMapOptions } from './builder.js';
export {
  type EptFeatures,
  eptFeaturesFromMsr,
  type ResolvedEptFeatures,
  resolveEptFeatures,
} from './capabilities.js';
export {
  EPT,
  EPT_EXIT_REASON,
  EPT_MEMORY_TYPE,
  EPT_QUALIFICATION,
  EPT_SUPPRESS_VE_HI,
  EPTP,
} from './constants.js';
export { Ept, type EptCacheConfig, type EptOptions } from './ept.js';
export { checkEptp, decodeEptp, type EptpFields, type EptpViolation, makeEptp } from './eptp.js';
export { EptError, type EptErrorCode } from './errors.js';
export { EptExit, type EptMisconfigurationCause, EptOutcome } from './exit.js';
export { NestedMmu, type NestedMmuOptions } from './nested-mmu.js';
export { NestedStats } from './nested-stats.js';
export { REF_GUEST, REF_WRITE, ReferenceLog } from './reference-log.js';
export { EptStats } from './stats.js';
