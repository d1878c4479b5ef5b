export {
  BOOT_REGISTERS,
  type BootSetup,
  bootLayout,
  enterLongMode,
  writeBootStructures,
} from './boot.js';
export { guestControls, withInterruptWindow } from './controls.js';
export { vmkitCpuid } from './cpuid.js';
export { DebugExit } from './debug-exit.js';
export { VmmError, type VmmErrorCode } from './errors.js';
export { ExitLog, exitKindOf, type RipExits, TOP_RIPS } from './exit-log.js';
export { HostMemory } from './host-memory.js';
export {
  HYPERCALL_FAULT,
  HYPERCALL_INVALID,
  HYPERCALL_UNKNOWN,
  type HypercallContext,
  type HypercallHandler,
  type HypercallOutcome,
  HypercallTable,
  MAX_PRINT,
} from './hypercalls.js';
export { checkImage, loadImage } from './loader.js';
export type { MmioWindow } from './mmio-window.js';
export { PioBus, type PioDevice, type PortSize } from './pio-bus.js';
export { fastStringCycles, INSTRUCTION_PRICE, instructionCycles, priceVcpu } from './pricing.js';
export type { ShadowPort, ShadowWindow } from './shadow-memory.js';
export {
  type MemoryStrategy,
  MMU_STRATEGIES,
  type MmuStrategy,
  memoryStrategy,
  type TlbCounters,
  type VcpuTranslation,
} from './strategy.js';
export {
  emulateStringIo,
  STRING_IO_CHUNK,
  type StringIoResult,
  type StringIoServices,
} from './string-io.js';
export { Uart16550 } from './uart16550.js';
export { Vcpu, type VcpuSetup } from './vcpu.js';
export { Vm } from './vm.js';
export {
  type ExitCounters,
  PROGRESS_INTERVAL,
  type VcpuRunResult,
  type VmConfig,
  type VmEnd,
  type VmRunOptions,
  type VmRunResult,
} from './vm-config.js';
export { X2APIC_MSR, X2APIC_MSR_FIRST, X2APIC_MSR_LAST, X2Apic } from './x2apic.js';
