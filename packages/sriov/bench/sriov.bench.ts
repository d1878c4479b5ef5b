import { sriovVersion } from '@vmkit/sriov';
import { emit, opsPerSecond } from '@vmkit/test-kit';

let sink = 0;
emit({
  metric: 'sriov.example',
  value: opsPerSecond(() => {
    sink += sriovVersion.length;
  }, 1),
  unit: 'ops/s',
});
if (sink < 0) console.log(sink);
