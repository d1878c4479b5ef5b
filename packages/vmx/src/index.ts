// @vmkit/vmx: Intel VMX definitions, exact to the SDM (2023 editions: Vol. 3C chapter 25 VMCS,
// 26 VMX non-root operation, 27 VM entries, 28 VM exits; Vol. 3D appendices A and C).
export {
  adjustControl,
  type CapabilityReader,
  type ControlCapability,
  type ControlField,
  type ControlFields,
  type ControlFieldViolation,
  type ControlViolation,
  capabilityMsrFor,
  checkControl,
  checkControlFields,
  checkTertiaryControl,
  controlCapability,
  decodeVmxBasic,
  decodeVmxMisc,
  IA32_VMX_PROCBASED_CTLS3,
  type VmxBasic,
  type VmxMisc,
} from './capabilities.js';
export {
  DEFAULT1_CONTROLS,
  PinBasedControls,
  PrimaryProcessorControls,
  SecondaryProcessorControls,
  TertiaryProcessorControls,
  VmEntryControls,
  VmExitControls,
} from './controls.js';
export {
  cltsCausesExit,
  controlRegisterAfterWrite,
  guestReadsControlRegister,
  lmswCausesExit,
  movToControlRegisterCausesExit,
  movToCr3CausesExit,
} from './cr-masks.js';
export { VmxError, type VmxErrorCode } from './errors.js';
export { exceptionCausesExit } from './exception-bitmap.js';
export { describeVmExit, type VmExitInformation } from './exit-information.js';
export {
  BasicExitReason,
  type BasicExitReasonNumber,
  basicExitReasonName,
  decodeExitReason,
  EXIT_REASON,
  type ExitReason,
  encodeExitReason,
} from './exit-reason.js';
export {
  ActivityState,
  activityState,
  decodeInterruptibilityState,
  encodeInterruptibilityState,
  type InterruptibilityState,
  interruptWindowCausesExit,
} from './guest-state.js';
export {
  AddressSize,
  type DescriptorTableInfo,
  DescriptorTableInstruction,
  decodeDescriptorTableInfo,
  decodeInvalidationInfo,
  decodeMemoryOperandInfo,
  decodeRandomInfo,
  decodeSegmentTableInfo,
  decodeStringIoInfo,
  decodeVmreadVmwriteInfo,
  encodeDescriptorTableInfo,
  encodeInvalidationInfo,
  encodeMemoryOperandInfo,
  encodeRandomInfo,
  encodeSegmentTableInfo,
  encodeStringIoInfo,
  encodeVmreadVmwriteInfo,
  type InvalidationInfo,
  type MemoryOperandInfo,
  type RandomInfo,
  type SegmentTableInfo,
  SegmentTableInstruction,
  type StringIoInfo,
  type VmreadVmwriteInfo,
} from './instruction-information.js';
export {
  checkEntryInterruption,
  decodeEntryInterruptionInfo,
  decodeExitInterruptionInfo,
  decodeIdtVectoringInfo,
  type EntryInjectionContext,
  type EntryInterruptionInfo,
  type EntryInterruptionViolation,
  type ExitInterruptionInfo,
  encodeEntryInterruptionInfo,
  encodeExitInterruptionInfo,
  encodeIdtVectoringInfo,
  type IdtVectoringInfo,
  InterruptionType,
} from './interruption-information.js';
export { IO_BITMAP_SIZE, IoBitmaps, ioInstructionCausesExit } from './io-bitmap.js';
export { MSR_BITMAP_SIZE, MsrBitmap, MsrBitmapOffset, msrAccessCausesExit } from './msr-bitmap.js';
export {
  type PauseAction,
  PauseLoopDetector,
  PLE_INITIAL_STATE,
  type PleState,
  type PleStep,
  pauseAction,
  pleStep,
} from './ple.js';
export {
  preemptionTimerDeadline,
  preemptionTimerRemaining,
  preemptionTimerTicks,
} from './preemption-timer.js';
export {
  type ApicAccessQualification,
  ApicAccessType,
  decodeApicAccessQualification,
  encodeApicAccessQualification,
} from './qualification/apic-access.js';
export {
  type CrAccessQualification,
  CrAccessType,
  decodeCrAccessQualification,
  encodeCrAccessQualification,
  LmswOperandType,
} from './qualification/cr-access.js';
export {
  type DebugQualification,
  decodeDebugQualification,
  encodeDebugQualification,
} from './qualification/debug.js';
export {
  decodeIoQualification,
  encodeIoQualification,
  type IoQualification,
} from './qualification/io.js';
export {
  decodeMovDrQualification,
  encodeMovDrQualification,
  type MovDrQualification,
} from './qualification/mov-dr.js';
export {
  decodeTaskSwitchQualification,
  encodeTaskSwitchQualification,
  type TaskSwitchQualification,
  TaskSwitchSource,
} from './qualification/task-switch.js';
export { Gpr, SegmentRegister } from './registers.js';
export { checkVpid, effectiveVpid, VPID_HOST, VPID_MAX, type VpidViolation } from './vpid.js';
