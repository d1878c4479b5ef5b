// Interpreter throughput: MIPS on gcc-compiled freestanding C (the workload of the
// whole-program test) and on a register-only loop, the per-instruction overhead floor.
// Wall-clock and CPU-time figures are both printed: on a shared machine the CPU-time figure
// is the steadier one. "cold" runs start a fresh CPU each round, so they include decoding and
// compiling every block; "warm" rounds rerun the program on the same CPU, whose compiled
// blocks stay cached, as in a long-running guest.

import { Cpu, FlatMemory, MmuMemory } from '@vmkit/cpu';
import { GuestPhysicalMemory } from '@vmkit/memory';
import { Mmu } from '@vmkit/paging';
import { emit } from '@vmkit/test-kit';
import { buildWorkload, LOAD, runToStop } from '../test/support/program.js';

/** Runs `round` (which returns the instructions it retired) and keeps the best rates. */
function measure(
  round: () => number,
  rounds: number,
): { wall: number; cpu: number; instructions: number } {
  let wall = 0;
  let cpu = 0;
  let instructions = 0;
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    const c0 = process.cpuUsage();
    instructions = round();
    const c = process.cpuUsage(c0);
    const ms = performance.now() - t;
    // Best of the rounds: the least disturbed by other work on the machine.
    wall = Math.max(wall, instructions / ms / 1000);
    cpu = Math.max(cpu, instructions / ((c.user + c.system) / 1000) / 1000);
  }
  return { wall, cpu, instructions };
}

/** Runs the interpreter benchmarks. */
export function interpreterBenches(): void {
  const workload = buildWorkload();
  if ('skip' in workload) {
    console.error(`interpreter workload bench skipped: ${workload.skip}`);
  } else {
    const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 4 << 20 }] });
    let cpu = new Cpu({ memory: new FlatMemory(mem) });
    const start = (fresh: boolean): number => {
      if (fresh) cpu = new Cpu({ memory: new FlatMemory(mem) });
      // Reloading the image re-initializes the program's data; its code bytes are unchanged.
      mem.writeBytes(LOAD, workload.image);
      cpu.rip = BigInt(LOAD);
      cpu.setReg('rsp', 0x10_0000n - 16n);
      cpu.setReg('rdi', 30n);
      const before = cpu.instructions;
      const stop = runToStop(cpu, cpu.instructions + 1e9);
      if (stop.kind !== 'hlt') throw new Error(`workload stopped with ${JSON.stringify(stop)}`);
      return cpu.instructions - before;
    };
    const program = 'crc32+quicksort+hash+matrix+muldiv (gcc -O2)';
    for (const mode of ['cold', 'warm'] as const) {
      const m = measure(() => start(mode === 'cold'), 6);
      const extra = { instructions: m.instructions, program };
      emit({ metric: `cpu.workload.${mode}.mips-wall`, value: m.wall, unit: 'MIPS', ...extra });
      emit({ metric: `cpu.workload.${mode}.mips-cpu-time`, value: m.cpu, unit: 'MIPS', ...extra });
    }
    // The same workload through 4-level paging (MmuMemory over @vmkit/paging's Mmu): a 4 KiB
    // identity map of the 4 MiB, warm (blocks cached, TLB filled).
    const paged = new GuestPhysicalMemory({ ram: [{ base: 0, size: 8 << 20 }] });
    const tables = 0x60_0000;
    paged.write32(tables, (tables + 0x1000) | 3);
    paged.write32(tables + 0x1000, (tables + 0x2000) | 3);
    for (let k = 0; k < 2; k++)
      paged.write32(tables + 0x2000 + 8 * k, (tables + 0x3000 + 0x1000 * k) | 3);
    for (let page = 0; page < 1024; page++)
      paged.write32(tables + 0x3000 + 8 * page, (page * 4096) | 3);
    const mmu = new Mmu(paged, { features: { maxPhyAddr: 36 } });
    let pagedCpu: Cpu | undefined;
    pagedCpu = new Cpu({ memory: new MmuMemory(mmu, paged, { rflags: () => pagedCpu!.flags }) });
    pagedCpu.cr3 = BigInt(tables);
    pagedCpu.syncPaging();
    const m = measure(() => {
      const c = pagedCpu!;
      paged.writeBytes(LOAD, workload.image);
      c.rip = BigInt(LOAD);
      c.setReg('rsp', 0x10_0000n - 16n);
      c.setReg('rdi', 30n);
      const before = c.instructions;
      const stop = runToStop(c, c.instructions + 1e9);
      if (stop.kind !== 'hlt')
        throw new Error(`paged workload stopped with ${JSON.stringify(stop)}`);
      return c.instructions - before;
    }, 4);
    emit({
      metric: 'cpu.workload.paged.warm.mips-cpu-time',
      value: m.cpu,
      unit: 'MIPS',
      instructions: m.instructions,
      program,
    });
  }

  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 1 << 20 }] });
  // loop: add rax, rcx; inc rcx; cmp rcx, rdx; jne loop
  mem.writeBytes(
    0x1000,
    Uint8Array.from([0x48, 0x01, 0xc8, 0x48, 0xff, 0xc1, 0x48, 0x39, 0xd1, 0x75, 0xf5]),
  );
  const m = measure(() => {
    const cpu = new Cpu({ memory: new FlatMemory(mem) });
    cpu.rip = 0x1000n;
    cpu.setReg('rdx', 1n << 40n);
    cpu.run(10_000_000);
    return cpu.instructions;
  }, 5);
  emit({ metric: 'cpu.register-loop.mips-wall', value: m.wall, unit: 'MIPS' });
  emit({ metric: 'cpu.register-loop.mips-cpu-time', value: m.cpu, unit: 'MIPS' });
}
