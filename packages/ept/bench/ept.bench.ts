import { eptVersion } from '@vmkit/ept';
import { emit, opsPerSecond } from '@vmkit/test-kit';

let sink = 0;
emit({
  metric: 'ept.example',
  value: opsPerSecond(() => {
    sink += eptVersion.length;
  }, 1),
  unit: 'ops/s',
});
if (sink < 0) console.log(sink);
