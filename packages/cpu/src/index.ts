export { type Block, buildBlock, compileBlock, MAX_BLOCK_INSTRUCTIONS } from './block.js';
export {
  BranchPredictor,
  DEFAULT_PREDICTOR_ENTRIES,
  MAX_PREDICTOR_ENTRIES,
} from './branch-predictor.js';
export {
  CodeCache,
  type CodeCacheStats,
  type CodePage,
  type CodeWatch,
} from './code-cache.js';
export {
  Cpu,
  type CpuidFunction,
  type CpuOptions,
  type ExceptionInterceptor,
  GPR_NAMES,
  type GprName,
  type StopReason,
  type TableRegister,
  type TaskRegister,
} from './cpu.js';
export { decode, type FetchByte, MAX_INSTRUCTION_LENGTH } from './decoder/decode.js';
export { type Handler, type Instr, type OperandSpec, Rep, RIP_BASE, Seg } from './decoder/instr.js';
export { CpuError, type CpuErrorCode } from './errors.js';
export { defaultCpuid } from './exec/cpuid.js';
export type { PendingIns } from './exec/io.js';
export type { FastStringCounts } from './fast-strings.js';
export { CpuFault } from './fault.js';
export { instructionClass, RETIRED_CLASSES, type RetiredClass } from './instruction-class.js';
export { type CpuMemory, FlatMemory, type Privilege } from './memory.js';
export { MmuMemory, type MmuMemoryOptions } from './mmu-memory.js';
export type { SecondStageExitRecord, TranslationResult, Translator } from './translator.js';
export type { EntryInjection, VmxControls } from './vmx/controls.js';
export { NonRootState } from './vmx/non-root.js';
export { VmExit } from './vmx/vm-exit.js';
