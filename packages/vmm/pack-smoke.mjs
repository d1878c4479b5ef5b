// Run by scripts/pack-install-test.mjs in an empty project where only the packed
// tarballs are installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import { Vm } from '@vmkit/vmm';

const r = new Vm({ command: 'hello' }).run({ maxInstructions: 10_000_000 });
assert.equal(r.end, 'exit');
assert.equal(r.status, 0);
assert.match(r.console, /RESULT hello pid=1/);

// The same guest under shadow paging in VMX non-root mode: same output, counted exits.
const spt = new Vm({ command: 'hello', mmu: 'spt' }).run({ maxInstructions: 10_000_000 });
assert.equal(spt.console, r.console);
assert.ok(spt.exitsByReason['I/O instruction'] > 0);
assert.ok(spt.shadowFaults['not-present'] > 0);
