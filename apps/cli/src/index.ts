export { compareChartSvg, escapeXml } from './chart.js';
export { runCli } from './cli.js';
export {
  type CompareOptions,
  type CompareRatios,
  type CompareReport,
  type CompareRow,
  configName,
  printCompare,
  runCompare,
} from './commands/compare.js';
export {
  buildLocalityGuest,
  type EptDemoOptions,
  type EptDemoReport,
  type EptLocalityRow,
  type EptPageSize,
  printEptDemo,
  runEptDemo,
  runLocality,
  uncachedWalk,
  type Walk2dRow,
} from './commands/ept-demo.js';
export {
  buildLogDirtyGuest,
  LOG_DIRTY_PAGES,
  type LogDirtyDemoOptions,
  type LogDirtyDemoReport,
  type LogDirtyRow,
  logDirtyWorkload,
  printLogDirtyDemo,
  runLogDirtyDemo,
  runStrategy,
} from './commands/log-dirty-demo.js';
export {
  type EpochReport,
  type MemoryDemoOptions,
  type MemoryDemoReport,
  printMemoryDemo,
  runMemoryDemo,
} from './commands/memory-demo.js';
export { printRun, type RunOptions, type RunReport, runWorkload } from './commands/run.js';
export {
  levelEoiScenario,
  MAX_PCPUS,
  printVectorsDemo,
  runVectorsDemo,
  VECTORS_PER_VF,
  type VectorsDemoOptions,
  type VectorsDemoReport,
  type VectorsRow,
  vfLimit,
} from './commands/vectors-demo.js';
export { parseCount, parseSize, UsageError } from './errors.js';
export { count, ratio, seconds, table } from './format.js';
export { type Output, processOutput } from './output.js';
export { delayedProgress, PROGRESS_DELAY_MS } from './progress.js';
export { programNames, type Workload, workload } from './workload.js';
