// Guest boot and workload cost under KVM (wall-clock of whole runs, through the runner), and
// the TypeScript-side helpers. Compare runs A/B; absolute numbers depend on the host backend.
import { readFileSync } from 'node:fs';
import { guestImagePath, kvmUsability, parseElfImage, runOnKvm } from '@vmkit/guest';
import { emit, opsPerSecond } from '@vmkit/test-kit';

const image = new Uint8Array(readFileSync(guestImagePath));
let sink = 0;
emit({
  metric: 'guest.parseElfImage',
  value: opsPerSecond(() => {
    sink += parseElfImage(image).segments.length;
  }, 1),
  unit: 'ops/s',
});

const kvm = kvmUsability();
if (!kvm.usable) {
  console.log(`skipping KVM benchmarks: ${kvm.reason}`);
} else {
  for (const [metric, command, cpus] of [
    ['guest.kvm.hello', 'hello', 1],
    ['guest.kvm.compute', 'compute n=200000 iters=2', 1],
    ['guest.kvm.kbuild', 'kbuild tasks=8 jobs=4 pages=8', 2],
  ] as const) {
    const t0 = performance.now();
    const r = await runOnKvm({ command, cpus });
    if (r.status !== 0) throw new Error(`${command} failed: ${r.stderr}`);
    emit({ metric, value: Math.round(performance.now() - t0), unit: 'ms' });
  }
}
if (sink < 0) console.log(sink);
