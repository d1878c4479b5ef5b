export {
  type BootInfo,
  bootProtocol,
  type DeviceEntry,
  DeviceType,
  decodeBootInfo,
  encodeBootInfo,
  encodeDeviceList,
  encodeMemoryMap,
  type MemoryMapEntry,
  MemoryType,
} from './boot-protocol.js';
export { type ElfImage, type LoadSegment, parseElfImage } from './elf.js';
export { GuestError, type GuestErrorCode } from './errors.js';
export {
  type KvmRunOptions,
  type KvmRunResult,
  type KvmUsability,
  kvmUsability,
  runOnKvm,
} from './kvm.js';
export {
  type GuestImage,
  type GuestProgram,
  guestImagePath,
  guestImages,
  guestPrograms,
  kvmRunnerPath,
  type ProgramParameter,
} from './manifest.js';
export { type GuestResult, parseResults } from './results.js';
