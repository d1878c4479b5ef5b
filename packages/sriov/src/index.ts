export { SriovError, type SriovErrorCode } from './errors.js';
export { type MmioWindow, SriovPfDriver } from './pf-driver.js';
export {
  SRIOV_CAPABILITY_LENGTH,
  SriovCapabilityBits,
  SriovControl,
  SriovReg,
} from './registers.js';
export {
  type SriovOptions,
  SriovPhysicalFunction,
  type VfBarDefinition,
  type VfRouting,
} from './sriov-pf.js';
export { createVirtualFunction, EMPTY_BAR, type VfTemplate } from './virtual-function.js';
