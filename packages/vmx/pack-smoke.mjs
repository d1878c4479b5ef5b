// Run by scripts/pack-install-test.mjs in an empty project where only the packed
// tarballs are installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import {
  BasicExitReason,
  basicExitReasonName,
  decodeIoQualification,
  encodeIoQualification,
  IoBitmaps,
  PauseLoopDetector,
} from '@vmkit/vmx';

assert.equal(basicExitReasonName(BasicExitReason.IO_INSTRUCTION), 'I/O instruction');
const q = { size: 1, in: true, string: false, rep: false, immediate: true, port: 0x60 };
assert.deepEqual(decodeIoQualification(encodeIoQualification(q)), q);
const io = new IoBitmaps();
io.trap(0x60);
assert.equal(io.causesExit(0x60, 1), true);
const ple = new PauseLoopDetector(10, 100);
ple.vmEntry();
let tsc = 0;
while (!ple.pause(tsc)) tsc += 5;
assert.equal(tsc, 105);
