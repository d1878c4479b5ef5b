export { describeVirtioDevice, type VirtioDeviceFixture } from './conformance.js';
export { MmioDriver, type QueueAreas } from './mmio-driver.js';
export { PackedQueueDriver, type RawPackedDescriptor } from './packed-driver.js';
export { PciDriver } from './pci-driver.js';
export {
  type BufferSpec,
  type RawDescriptor,
  SplitQueueDriver,
  type UsedBuffer,
  writeRaw,
} from './split-driver.js';
export type { TransportDriver } from './transport-driver.js';
