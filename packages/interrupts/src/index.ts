export { ApicBus, type ApicBusOptions, type TaggedMsi } from './apic-bus.js';
export { InterruptError, type InterruptErrorCode } from './errors.js';
export {
  type Binding,
  type GuestTarget,
  HostInterruptRouter,
  type RouterStats,
} from './host-router.js';
export { IoApic, type IoApicSink, type IoApicStats, Redirection } from './io-apic.js';
export { LocalApic, type LocalApicBus, type LocalApicStats, X2ApicMsr } from './local-apic.js';
export {
  type ApicInterrupt,
  composeMsi,
  DeliveryMode,
  decodeMsi,
  type MsiAddressData,
} from './msi.js';
export {
  VectorAllocator,
  type VectorAllocatorOptions,
  type VectorHandle,
  type VectoringPolicy,
  type VectorRequest,
} from './vectors.js';
