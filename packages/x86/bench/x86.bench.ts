import { emit, opsPerSecond } from '@vmkit/test-kit';
import { x86Version } from '@vmkit/x86';

let sink = 0;
emit({
  metric: 'x86.example',
  value: opsPerSecond(() => {
    sink += x86Version.length;
  }, 1),
  unit: 'ops/s',
});
if (sink < 0) console.log(sink);
