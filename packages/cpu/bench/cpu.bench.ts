import { cpuVersion } from '@vmkit/cpu';
import { emit, opsPerSecond } from '@vmkit/test-kit';

let sink = 0;
emit({
  metric: 'cpu.example',
  value: opsPerSecond(() => {
    sink += cpuVersion.length;
  }, 1),
  unit: 'ops/s',
});
if (sink < 0) console.log(sink);
