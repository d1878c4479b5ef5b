import { pagingVersion } from '@vmkit/paging';
import { emit, opsPerSecond } from '@vmkit/test-kit';

let sink = 0;
emit({
  metric: 'paging.example',
  value: opsPerSecond(() => {
    sink += pagingVersion.length;
  }, 1),
  unit: 'ops/s',
});
if (sink < 0) console.log(sink);
