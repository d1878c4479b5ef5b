export {
  type BufferSpec,
  type RawDescriptor,
  SplitQueueDriver,
  type UsedBuffer,
  writeRaw,
} from './split-driver.js';
