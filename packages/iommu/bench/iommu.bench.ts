import { iommuVersion } from '@vmkit/iommu';
import { emit, opsPerSecond } from '@vmkit/test-kit';

let sink = 0;
emit({
  metric: 'iommu.example',
  value: opsPerSecond(() => {
    sink += iommuVersion.length;
  }, 1),
  unit: 'ops/s',
});
if (sink < 0) console.log(sink);
