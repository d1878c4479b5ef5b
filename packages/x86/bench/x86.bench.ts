import { emit, opsPerSecond } from '@vmkit/test-kit';
import { CR0, CR4, EFER, pagingMode } from '@vmkit/x86';

const cr4s = [0, CR4.PAE, CR4.PAE | CR4.LA57, CR4.PSE];
let sink = 0;
emit({
  metric: 'x86.pagingMode',
  value: opsPerSecond(() => {
    for (let i = 0; i < 1024; i++) sink += pagingMode(CR0.PG, cr4s[i & 3]!, EFER.LME).length;
  }, 1024),
  unit: 'ops/s',
});
if (sink < 0) console.log(sink);
