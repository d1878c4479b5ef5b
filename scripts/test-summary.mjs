#!/usr/bin/env node
// Sums vitest's per-package "Tests  N passed | M failed | K skipped" lines from a turbo log and
// prints one closing line, "tests: N passed, M failed, K skipped", for the whole run.
import { readFileSync } from 'node:fs';
import { stripVTControlCharacters } from 'node:util';

const log = stripVTControlCharacters(readFileSync(process.argv[2], 'utf8'));
const total = { passed: 0, failed: 0, skipped: 0 };
for (const line of log.split('\n')) {
  const m = /\bTests\s+(.*)\(\d+\)\s*$/.exec(line);
  if (!m) continue;
  for (const part of m[1].split('|')) {
    const [, n, kind] = /(\d+)\s+(passed|failed|skipped)/.exec(part) ?? [];
    if (kind) total[kind] += Number(n);
  }
}
console.log(`tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.passed > 0 && total.failed === 0 ? 0 : 1);
