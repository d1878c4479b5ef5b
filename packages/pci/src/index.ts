export { ARI_CAPABILITY_LENGTH, AriCapability, type AriOptions } from './ari.js';
export { Bar, type BarDefinition, BarFlags, type BarKind, decodeBarSize } from './bar.js';
export { type BarConflict, type BarMapping, type MmioSpace, mapBars } from './bar-mapper.js';
export {
  type CapabilityEntry,
  type ConfigReader,
  listCapabilities,
  listExtendedCapabilities,
} from './capability-list.js';
export { CONFIG_ADDRESS_PORT, CONFIG_DATA_PORT, ConfigPorts } from './config-ports.js';
export {
  type ConfigAccessSize,
  ConfigSpace,
  type ConfigWriteHook,
  type RegisterSpec,
} from './config-space.js';
export { Ecam, type EcamOptions } from './ecam.js';
export { PciError, type PciErrorCode } from './errors.js';
export {
  CapabilityId,
  COMMAND_WRITABLE,
  Command,
  ExtendedCapabilityId,
  HEADER_TYPE_MULTI_FUNCTION,
  STATUS_WRITE_ONE_TO_CLEAR,
  Status,
  Type0,
} from './header.js';
export {
  type InterruptSink,
  type MessageSender,
  type MsiMessage,
  NO_INTERRUPTS,
} from './interrupt-sink.js';
export {
  type MsiAddressData,
  MsiCapability,
  MsiControl,
  type MsiOptions,
  msiCapabilityLength,
} from './msi.js';
export {
  MSIX_CAPABILITY_LENGTH,
  MSIX_ENTRY_SIZE,
  MSIX_VECTOR_MASKED,
  MsixCapability,
  MsixControl,
  type MsixEntry,
  type MsixOptions,
} from './msix.js';
export {
  DeviceControl,
  DevicePortType,
  PCIE_CAPABILITY_LENGTH,
  PciExpressCapability,
  type PciExpressOptions,
  PcieCap,
} from './pci-express.js';
export { type DecodedBar, PciFunction, type PciFunctionOptions } from './pci-function.js';
export { ariRoutingId, checkRoutingId, formatRoutingId, routingId } from './routing-id.js';
export { type BusMode, PciSegment, type TopologyEvent } from './segment.js';
