import { GuestPhysicalMemory } from '@vmkit/memory';
import { Mmu } from '@vmkit/paging';
import { emit, opsPerSecond } from '@vmkit/test-kit';

const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 2 ** 26 }] });
const root = 0x10_0000;
const HI = Number(process.env.HI ?? '0');
const pml4i = (HI >>> 7) & 0x1ff;
mem.write32(root + pml4i * 8, 0x10_1000 | 7);
mem.write32(0x10_1000, 0x10_2000 | 7);
mem.write32(0x10_2000, 0x10_3000 | 7);
for (let i = 0; i < 256; i++) mem.write32(0x10_3000 + i * 8, (0x20_0000 + i * 4096) | 0x67);
const mmu = new Mmu(mem, { registers: { cr0: 0x8001_0001, cr4: 1 << 5, efer: 0xd00 } });
mmu.movToCr3(BigInt(root));
let sink = 0;
const los = Uint32Array.from({ length: 256 }, (_, i) => i * 4096 + 16);
const his = Uint32Array.from({ length: 256 }, () => HI);
for (let i = 0; i < 256; i++) if (mmu.translate(his[i]!, los[i]!, 0) !== 0) throw new Error('x');
emit({
  metric: `tlb.hit hi=${HI}`,
  value: opsPerSecond(() => {
    for (let i = 0; i < 256; i++) sink ^= mmu.translate(his[i]!, los[i]!, 0);
  }, 256),
  unit: 'ops/s',
  hits: mmu.stats.hits,
});
if (sink === 0.5) console.log(sink);
