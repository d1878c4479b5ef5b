export {
  ADDRESS_WIDTHS,
  type AddressWidth,
  type ContextLookup,
  type DecodedContext,
  lookupContext,
  type RemappingCapabilities,
  TranslationType,
} from './context.js';
export { DmaMemory } from './dma-memory.js';
export {
  type ContextInvalidation,
  DmaRemapping,
  type DmaRemappingOptions,
  type TranslateResult,
} from './dma-remapping.js';
export { DmaFaultError, IommuError, type IommuErrorCode } from './errors.js';
export { encodeFaultRecord, FaultLog, type FaultRecord, FaultStatus } from './fault-log.js';
export { FaultReason, isInterruptFault } from './fault-reasons.js';
export {
  decodeCompatibility,
  encodeIrte,
  type InterruptMessage,
  InterruptRemapping,
  type IrtaOptions,
  type IrteFields,
  type RemappedInterrupt,
  type RemappedInterruptSink,
  type RemapResult,
} from './interrupt-remapping.js';
export { Iommu, type IommuOptions } from './iommu.js';
export { Iotlb, type IotlbEntry, type IotlbInvalidation } from './iotlb.js';
export { type SecondLevelTranslation, type WalkResult, walkSecondLevel } from './second-level.js';
export {
  BumpAllocator,
  type ContextSpec,
  ContextTables,
  InterruptRemappingTable,
  type MappingRights,
  type PageAllocator,
  type RemappableMsi,
  remappableMsi,
  SecondLevelTables,
} from './table-builders.js';
export { GlobalBits, VtdReg, VtdRegisters } from './vtd-registers.js';
