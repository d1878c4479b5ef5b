export {
  CacheHierarchy,
  type CacheHierarchyGeometry,
  CacheLevel,
  type CacheLevelGeometry,
  walkCacheGeometry,
} from './cache.js';
export { CostModel, type EventKind } from './cost-model.js';
export { defaultProfile } from './default-profile.js';
export { diffProfiles, type ProfileDifference, profileFigures } from './diff-profiles.js';
export { SimError, type SimErrorCode } from './errors.js';
export { loadProfile, withFigures } from './load-profile.js';
export { type LockGrant, type LockStats, SimLock } from './lock.js';
export {
  type HistogramBucket,
  type HistogramSnapshot,
  Metrics,
  type MetricsSnapshot,
} from './metrics.js';
export {
  CACHE_LEVELS,
  type CacheLevelName,
  type CacheProfile,
  type CostProfile,
  EXIT_KINDS,
  type ExitKind,
  type Figure,
  type FigureSource,
  type FigureUnit,
  INSTRUCTION_CLASSES,
  type InstructionClass,
  type LinkProfile,
  MEMORY_LEVELS,
  type MemoryLevel,
  SHADOW_KINDS,
  type ShadowKind,
  SOURCE_KINDS,
  type SourceKind,
} from './profile.js';
export {
  CreditScheduler,
  type Dispatch,
  type PcpuStats,
  type RunOutcome,
  type SchedulerOptions,
  type TraceEvent,
  type VcpuOptions,
  type VcpuState,
  type VcpuStats,
} from './scheduler.js';
export { Simulation, type SimulationOptions, type SimulationReport } from './simulation.js';
