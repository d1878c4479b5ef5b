// Exit-decision throughput: what the CPU pays per I/O instruction, RDMSR/WRMSR, exception and
// PAUSE when it asks @vmkit/vmx whether to exit. One JSON line per figure.
import { emit, opsPerSecond } from '@vmkit/test-kit';
import {
  exceptionCausesExit,
  IoBitmaps,
  ioInstructionCausesExit,
  MsrBitmap,
  msrAccessCausesExit,
  PauseLoopDetector,
  PLE_INITIAL_STATE,
  pleStep,
} from '@vmkit/vmx';

const N = 4096;
let seed = 0x1234_5678;
function next(): number {
  seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
  return seed;
}

// I/O: a VMM that traps the legacy devices; random ports and sizes.
const io = new IoBitmaps();
io.trap(0x20, 2);
io.trap(0x40, 4);
io.trap(0x60, 5);
io.trap(0x3f8, 8);
io.trap(0xcf8, 8);
const ports = Uint16Array.from({ length: N }, () => next() & 0xffff);
const sizes = Uint8Array.from({ length: N }, () => [1, 2, 4][next() % 3] ?? 1);

// MSRs: a few intercepted, random indices mostly inside the two ranges.
const msrs = new MsrBitmap();
for (const m of [0x10, 0x1b, 0x3a, 0x6e0, 0xc000_0080, 0xc000_0100]) msrs.intercept(m, 'write');
const msrIndex = Uint32Array.from({ length: N }, () => {
  const r = next();
  return r & 1 ? r & 0x1fff : 0xc000_0000 + (r & 0x1fff);
});

// Exceptions: #PF exits only for write faults to present pages (mask = match = P | W/R).
const vectors = Uint8Array.from({ length: N }, () => (next() & 1 ? 14 : next() & 31));
const pfecs = Uint8Array.from({ length: N }, () => next() & 0x1f);

// PAUSE: a spin loop with PAUSEs every 40 TSC cycles and a new loop every so often.
const tscs = new Float64Array(N);
for (let i = 1; i < N; i++) tscs[i] = (tscs[i - 1] ?? 0) + (next() % 64 === 0 ? 500 : 40);

let sink = 0;
emit({
  metric: 'vmx.io_bitmap_decision',
  value: opsPerSecond(() => {
    for (let i = 0; i < N; i++) {
      if (ioInstructionCausesExit(io.a, io.b, ports[i] ?? 0, sizes[i] ?? 1, true, false)) sink++;
    }
  }, N),
  unit: 'lookups/s',
});
emit({
  metric: 'vmx.msr_bitmap_decision',
  value: opsPerSecond(() => {
    for (let i = 0; i < N; i++) {
      if (msrAccessCausesExit(msrs.page, msrIndex[i] ?? 0, (i & 1) === 1, true)) sink++;
    }
  }, N),
  unit: 'lookups/s',
});
emit({
  metric: 'vmx.exception_bitmap_pfec_decision',
  value: opsPerSecond(() => {
    for (let i = 0; i < N; i++) {
      if (exceptionCausesExit((1 << 14) | (1 << 6), vectors[i] ?? 0, pfecs[i] ?? 0, 3, 3)) sink++;
    }
  }, N),
  unit: 'lookups/s',
});
const ple = new PauseLoopDetector(128, 4096);
emit({
  metric: 'vmx.ple_decision_detector',
  value: opsPerSecond(() => {
    ple.vmEntry();
    for (let i = 0; i < N; i++) if (ple.pause(tscs[i] ?? 0)) sink++;
  }, N),
  unit: 'decisions/s',
});
emit({
  metric: 'vmx.ple_decision_pure',
  value: opsPerSecond(() => {
    let state = PLE_INITIAL_STATE;
    for (let i = 0; i < N; i++) {
      const step = pleStep(state, tscs[i] ?? 0, 128, 4096);
      if (step.exit) sink++;
      state = step.state;
    }
  }, N),
  unit: 'decisions/s',
});
if (sink < 0) console.log(sink);
