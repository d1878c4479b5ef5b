import { Ept, EptBuilder } from '@vmkit/ept';
import { GuestPhysicalMemory } from '@vmkit/memory';
import { emit, opsPerSecond } from '@vmkit/test-kit';

const host = new GuestPhysicalMemory({ ram: [{ base: 0, size: 0x100_0000 }] });
const b = new EptBuilder(host, { tableBase: 0x1000, tableLimit: 0x10_0000 });
b.map(0, 0x80_0000, 0x40_0000);
const ept = new Ept(host, { eptp: b.eptp() });
let sink = 0;
emit({
  metric: 'ept.walk.cold.4-level',
  value: opsPerSecond(() => {
    for (let i = 0; i < 1000; i++) sink += ept.translate((i * 4096) % 0x40_0000, 1, 0, 0);
  }, 1000),
  unit: 'walks/s',
});
if (sink < 0) console.log(sink);
