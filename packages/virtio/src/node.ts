export { FileBlockStore } from './blk/file-block-store.js';
