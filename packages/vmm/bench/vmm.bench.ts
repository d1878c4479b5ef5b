import { emit, opsPerSecond } from '@vmkit/test-kit';
import { vmmVersion } from '@vmkit/vmm';

let sink = 0;
emit({
  metric: 'vmm.example',
  value: opsPerSecond(() => {
    sink += vmmVersion.length;
  }, 1),
  unit: 'ops/s',
});
if (sink < 0) console.log(sink);
