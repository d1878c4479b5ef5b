export { type BenchResult, emit, opsPerSecond } from './bench.js';
export { extractExamples, runReadmeExamples } from './readme-example.js';
