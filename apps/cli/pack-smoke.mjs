// Run by scripts/pack-install-test.mjs in an empty project where only the packed tarballs are
// installed: the `vmkit` binary must be linked and run the demo.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

const out = execFileSync(
  'npx',
  ['--no-install', 'vmkit', 'demo', 'memory', '--size', '1G', '--epochs', '2', '--json'],
  {
    encoding: 'utf8',
  },
);
const lines = out
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));
assert.equal(lines.at(-1).kind, 'summary');
