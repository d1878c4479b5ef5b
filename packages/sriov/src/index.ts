export { SriovError, type SriovErrorCode } from './errors.js';
export {
  buildFrame,
  ETH_HEADER,
  ETH_MAX_FRAME,
  ETH_MIN_FRAME,
  formatMac,
  isGroupAddress,
  parseMac,
  sameMac,
  TPID_8021Q,
  tagFrame,
  untagFrame,
  vlanOf,
} from './nic/ethernet.js';
export { L2Switch, type SwitchPort, type SwitchStats } from './nic/l2-switch.js';
export { SriovNic, type SriovNicOptions } from './nic/sriov-nic.js';
export { VfDevice, type VfStats } from './nic/vf-device.js';
export { type ConfigAccess, VfDriver, type VfDriverOptions } from './nic/vf-driver.js';
export {
  CTRL_RESET,
  DESCRIPTOR_SIZE,
  DescStatus,
  QUEUE_ENABLE,
  TxCmd,
  VfCause,
  VfReg,
} from './nic/vf-registers.js';
export { WIRE_OVERHEAD_BYTES, Wire } from './nic/wire.js';
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
