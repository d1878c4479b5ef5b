// Non-root costs: the gcc workload under VMX non-root operation with controls that make
// nothing in it exit (the checks sit only in the handlers of instructions that can exit, so
// this should match root mode), and the round trip of an instruction-caused VM exit (CPUID:
// exit, VMM emulation, RIP advance, VM resume).

import { Cpu, FlatMemory } from '@vmkit/cpu';
import { GuestPhysicalMemory } from '@vmkit/memory';
import { emit } from '@vmkit/test-kit';
import { buildWorkload, LOAD, runToStop } from '../test/support/program.js';

const NONE = { pinBased: 0, primary: 0, secondary: 0, exceptionBitmap: 0 };

function cpuTime(run: () => number, rounds: number): number {
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    const count = run();
    const c = process.cpuUsage(c0);
    best = Math.max(best, count / ((c.user + c.system) / 1e6));
  }
  return best;
}

/** Runs the non-root benchmarks. */
export function nonRootBenches(): void {
  const workload = buildWorkload();
  if ('skip' in workload) {
    console.error(`non-root workload bench skipped: ${workload.skip}`);
  } else {
    const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 4 << 20 }] });
    const cpu = new Cpu({ memory: new FlatMemory(mem) });
    cpu.vmEntry(NONE);
    const rate = cpuTime(() => {
      mem.writeBytes(LOAD, workload.image);
      cpu.rip = BigInt(LOAD);
      cpu.setReg('rsp', 0x10_0000n - 16n);
      cpu.setReg('rdi', 30n);
      const before = cpu.instructions;
      const stop = runToStop(cpu, cpu.instructions + 1e9);
      if (stop.kind !== 'hlt') throw new Error(`workload stopped with ${JSON.stringify(stop)}`);
      return cpu.instructions - before;
    }, 6);
    emit({
      metric: 'cpu.workload.non-root.warm.mips-cpu-time',
      value: rate / 1e6,
      unit: 'MIPS',
      program: 'crc32+quicksort+hash+matrix+muldiv (gcc -O2)',
    });
  }

  // loop: cpuid; jmp loop
  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 1 << 20 }] });
  mem.writeBytes(0x1000, Uint8Array.from([0x0f, 0xa2, 0xeb, 0xfc]));
  const cpu = new Cpu({ memory: new FlatMemory(mem) });
  cpu.rip = 0x1000n;
  cpu.vmEntry(NONE);
  const exits = cpuTime(() => {
    let n = 0;
    for (; n < 200_000; n++) {
      const stop = cpu.run(100);
      if (stop.kind !== 'vm-exit') throw new Error(`expected a VM exit, got ${stop.kind}`);
      cpu.setReg('rax', 0n);
      cpu.rip += BigInt(stop.info.instructionLength);
    }
    return n;
  }, 3);
  emit({ metric: 'cpu.vm-exit.cpuid.round-trips-per-second', value: exits, unit: 'exits/s' });
}
