import { simVersion } from '@vmkit/sim';
import { emit, opsPerSecond } from '@vmkit/test-kit';

let sink = 0;
emit({
  metric: 'sim.example',
  value: opsPerSecond(() => {
    sink += simVersion.length;
  }, 1),
  unit: 'ops/s',
});
if (sink < 0) console.log(sink);
