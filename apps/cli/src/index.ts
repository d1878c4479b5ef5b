export { runCli } from './cli.js';
export {
  type EpochReport,
  type MemoryDemoOptions,
  type MemoryDemoReport,
  printMemoryDemo,
  runMemoryDemo,
} from './commands/memory-demo.js';
export { parseCount, parseSize, UsageError } from './errors.js';
export { type Output, processOutput } from './output.js';
