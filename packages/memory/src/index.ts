export { DirtyBitmap } from './dirty-bitmap.js';
export { GuestMemoryError, type GuestMemoryErrorCode } from './errors.js';
export {
  type AccessSize,
  type DirtyLog,
  type GuestMemory,
  MAX_PHYSICAL_ADDRESS_BITS,
  type MmioHandler,
  PAGE_SIZE,
  type RegionInfo,
  type RegionKind,
} from './guest-memory.js';
export {
  GuestPhysicalMemory,
  type GuestPhysicalMemoryOptions,
  type MmioRegionSpec,
  type RamRegionSpec,
} from './guest-physical-memory.js';
