import { shadowPagingVersion } from '@vmkit/shadow-paging';
import { emit, opsPerSecond } from '@vmkit/test-kit';

let sink = 0;
emit({
  metric: 'shadow-paging.example',
  value: opsPerSecond(() => {
    sink += shadowPagingVersion.length;
  }, 1),
  unit: 'ops/s',
});
if (sink < 0) console.log(sink);
