export { ShadowError, type ShadowErrorCode } from './errors.js';
export { GuestView, type P2m } from './guest-view.js';
export type { LogDirtyOptions, LogDirtyStrategy } from './log-dirty.js';
export {
  type ShadowMemoryRange,
  ShadowMmu,
  type ShadowMmuOptions,
  ShadowOutcome,
  ShadowResult,
  ShadowVcpu,
} from './shadow-mmu.js';
export { ShadowFaultKind, ShadowLock, ShadowStats } from './stats.js';
