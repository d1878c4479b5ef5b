import { emit, opsPerSecond } from '@vmkit/test-kit';
import { vmxVersion } from '@vmkit/vmx';

let sink = 0;
emit({
  metric: 'vmx.example',
  value: opsPerSecond(() => {
    sink += vmxVersion.length;
  }, 1),
  unit: 'ops/s',
});
if (sink < 0) console.log(sink);
