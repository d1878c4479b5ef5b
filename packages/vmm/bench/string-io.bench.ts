// Wall-clock speed of string I/O under each strategy, side by side in one run: a guest moves
// 256 KiB to a port with `rep outsb` and back with `rep insb` (the VMM emulates up to 1024
// elements per exit under spt/ept/ept-lp; native stops the CPU once per element), against the
// same bytes sent with a `lodsb; out dx, al` loop (one exit per byte). Figures: elements per
// second of wall clock (best of three, boot included) and the I/O exits of each run.
import { emit } from '@vmkit/test-kit';
import { MMU_STRATEGIES, type MmuStrategy, Vm } from '@vmkit/vmm';
import { elf } from '../test/support/elf.js';

const N = 256 * 1024;
const imm32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const setup = [
  ...[0xbe, ...imm32(0x20_0000)], // mov esi, 0x200000
  ...[0xb9, ...imm32(N)], // mov ecx, N
  ...[0xba, ...imm32(0x600)], // mov edx, 0x600
];
const end = [0x31, 0xc0, 0xe6, 0xf4]; // xor eax, eax; out 0xf4, al
const programs = {
  // rep outsb; mov edi, 0x200000; mov ecx, N; rep insb
  rep: [...setup, 0xf3, 0x6e, 0xbf, ...imm32(0x20_0000), 0xb9, ...imm32(N), 0xf3, 0x6c, ...end],
  // l: lodsb; out dx, al; dec ecx; jnz l
  loop: [...setup, 0xac, 0xee, 0xff, 0xc9, 0x75, 0xfa, ...end],
};

function measure(kind: keyof typeof programs, mmu: MmuStrategy): void {
  const image = elf(Uint8Array.from(programs[kind]));
  let best = 0;
  let exits = 0;
  for (let round = 0; round < 3; round++) {
    const t0 = process.hrtime.bigint();
    const vm = new Vm({ image, memoryMiB: 4, mmu, vcpuQuantum: 1_000_000 });
    vm.pio.register(0x600, 1, { read: () => 0x5a, write: () => {} });
    const r = vm.run({ maxInstructions: 10_000_000 });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.end !== 'exit') throw new Error(`${kind} under ${mmu} ended ${r.end}`);
    const elements = kind === 'rep' ? 2 * N : N;
    best = Math.max(best, elements / s);
    exits = r.exitsByReason['I/O instruction'] ?? 0;
  }
  emit({ metric: `vmm.string-io.${kind}.${mmu}.elements-per-s`, value: best, unit: 'elements/s' });
  emit({ metric: `vmm.string-io.${kind}.${mmu}.io-exits`, value: exits, unit: 'exits' });
}

for (const kind of ['rep', 'loop'] as const) for (const mmu of MMU_STRATEGIES) measure(kind, mmu);
