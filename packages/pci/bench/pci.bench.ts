import { pciVersion } from '@vmkit/pci';
import { emit, opsPerSecond } from '@vmkit/test-kit';

let sink = 0;
emit({
  metric: 'pci.example',
  value: opsPerSecond(() => {
    sink += pciVersion.length;
  }, 1),
  unit: 'ops/s',
});
if (sink < 0) console.log(sink);
