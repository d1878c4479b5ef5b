import { emit, opsPerSecond } from '@vmkit/test-kit';
import { virtioVersion } from '@vmkit/virtio';

let sink = 0;
emit({
  metric: 'virtio.example',
  value: opsPerSecond(() => {
    sink += virtioVersion.length;
  }, 1),
  unit: 'ops/s',
});
if (sink < 0) console.log(sink);
