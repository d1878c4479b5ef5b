import { guestVersion } from '@vmkit/guest';
import { emit, opsPerSecond } from '@vmkit/test-kit';

let sink = 0;
emit({
  metric: 'guest.example',
  value: opsPerSecond(() => {
    sink += guestVersion.length;
  }, 1),
  unit: 'ops/s',
});
if (sink < 0) console.log(sink);
