// Run by scripts/pack-install-test.mjs in an empty project where only the packed tarballs are
// installed: the `vmkit` binary must be linked and run the demos (which need the packed
// @vmkit/memory, @vmkit/ept, @vmkit/interrupts and @vmkit/shadow-paging) and boot the guest
// kernel (the packed @vmkit/vmm and @vmkit/guest with its image).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

const vmkit = (...args) =>
  execFileSync('npx', ['--no-install', 'vmkit', ...args, '--json'], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

assert.equal(vmkit('demo', 'memory', '--size', '1G', '--epochs', '2').at(-1).kind, 'summary');
assert.deepEqual(
  vmkit('demo', 'vectors', '--pcpus', '2').map((r) => r.vfLimit),
  [66, 132, 132],
);
assert.equal(vmkit('demo', 'ept', '--accesses', '200').at(-1).references, 35);
assert.equal(vmkit('demo', 'log-dirty', '--epochs', '2').at(-1).harvestsEqual, true);
const run = vmkit('run', '--workload', 'hello', '--mmu', 'ept');
assert.equal(run.length, 1);
assert.deepEqual([run[0].end, run[0].status, run[0].result], ['exit', 0, { pid: '1' }]);
const compare = vmkit('compare', '--workload', 'hello', '--mmu', 'ept,ept-lp');
assert.deepEqual(
  compare[0].rows.map((r) => r.mmu),
  ['ept', 'ept-lp'],
);
