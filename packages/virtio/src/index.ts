export {
  ChainReader,
  ChainWriter,
  type Descriptor,
  DescriptorChain,
  type FaultSink,
} from './chain.js';
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
export { VirtioError, type VirtioErrorCode } from './errors.js';
export { needEvent } from './event-idx.js';
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
