export { type BackendThreading, type BackendWorker, BackendWorkers } from './backend-workers.js';
export { type BlockStore, MemoryBlockStore, SECTOR_SIZE } from './blk/block-store.js';
export {
  BLK_ID_BYTES,
  BlkConfig,
  BlkFeature,
  BlkRequestType,
  BlkStatus,
  VirtioBlk,
  type VirtioBlkOptions,
} from './blk/virtio-blk.js';
export {
  ChainReader,
  ChainWriter,
  type Descriptor,
  DescriptorChain,
  type FaultSink,
} from './chain.js';
export { ConfigSpace } from './config-space.js';
export {
  DeviceId,
  DeviceStatus,
  FeatureBit,
  featureMask,
  hasFeature,
  MAX_QUEUE_SIZE,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_USED_F_NO_NOTIFY,
} from './constants.js';
export {
  type InterruptReason,
  ISR_CONFIG,
  ISR_USED,
  type QueueArea,
  type QueueState,
  VirtioDevice,
  type VirtioDeviceOptions,
  type VirtioDeviceState,
} from './device.js';
export type { DeviceContext, VirtioDeviceModel } from './device-model.js';
export { VirtioError, type VirtioErrorCode } from './errors.js';
export { needEvent } from './event-idx.js';
export {
  MMIO_CONFIG_OFFSET,
  MMIO_MAGIC,
  MMIO_VERSION,
  MmioRegister,
  type MmioTransportState,
  type VirtioMmioOptions,
  VirtioMmioTransport,
} from './mmio-transport.js';
export {
  completeChecksum,
  decodeNetHeader,
  encodeNetHeader,
  NET_HDR_SIZE,
  NetGsoType,
  NetHdrFlags,
  type NetHeader,
  PLAIN_NET_HEADER,
} from './net/net-header.js';
export {
  HostEndpoint,
  type LinkDirectionStats,
  type LinkStats,
  type NetBackend,
  type NetEndpoint,
  type NetFrame,
  NetLink,
} from './net/net-link.js';
export {
  NetConfig,
  NetFeature,
  type NetStats,
  type SavedFrame,
  VIRTIO_NET_CTRL_MQ,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
  VIRTIO_NET_ERR,
  VIRTIO_NET_OK,
  VIRTIO_NET_S_LINK_UP,
  VirtioNet,
  type VirtioNetOptions,
  type VirtioNetState,
} from './net/virtio-net.js';
export {
  isValidPackedQueueSize,
  PACKED_ALIGNMENT,
  type PackedQueueLayout,
  packedOffsets,
  RING_EVENT_FLAGS_DESC,
  RING_EVENT_FLAGS_DISABLE,
  RING_EVENT_FLAGS_ENABLE,
  VIRTQ_DESC_F_AVAIL,
  VIRTQ_DESC_F_USED,
} from './packed-layout.js';
export { PackedVirtqueue } from './packed-queue.js';
export {
  CommonCfg,
  PCI_CAP_ID_VNDR,
  type PciTransportState,
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_PCI_DEVICE_ID_BASE,
  VIRTIO_PCI_VENDOR_ID,
  VirtioPciCapType,
  VirtioPciLayout,
  type VirtioPciOptions,
  VirtioPciTransport,
} from './pci-transport.js';
export type {
  FaultState,
  PackedQueueState,
  QueueFeatureState,
  SplitQueueState,
  VirtqueueState,
} from './queue-state.js';
export {
  DESCRIPTOR_SIZE,
  isValidSplitQueueSize,
  SPLIT_ALIGNMENT,
  type SplitQueueLayout,
  type SplitQueueSizes,
  splitOffsets,
  splitQueueSizes,
  USED_ELEM_SIZE,
} from './split-layout.js';
export { type QueueFeatures, type QueueOptions, SplitVirtqueue } from './split-queue.js';
export type { Virtqueue } from './virtqueue.js';
export { CountingWorkMeter, NO_METER, type WorkMeter } from './work-meter.js';
