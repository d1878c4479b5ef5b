export { seed003ChartSvg } from './chart.js';
export {
  PAPER_EXPERIMENT,
  runSeed003,
  type Seed003Options,
  type Seed003Results,
  type Seed003Skipped,
  type Seed003Workload,
} from './experiment.js';
export { type Finding, findings, PAGE_TABLE_WRITE, pageTableWriteExits } from './findings.js';
export { findingsTable, resultsTable } from './report.js';
export { type Reproduction, reproduce } from './reproduce.js';
