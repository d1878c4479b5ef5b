import { interruptsVersion } from '@vmkit/interrupts';
import { emit, opsPerSecond } from '@vmkit/test-kit';

let sink = 0;
emit({
  metric: 'interrupts.example',
  value: opsPerSecond(() => {
    sink += interruptsVersion.length;
  }, 1),
  unit: 'ops/s',
});
if (sink < 0) console.log(sink);
