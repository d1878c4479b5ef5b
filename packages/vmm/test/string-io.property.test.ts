// Property: for random INS/OUTS forms (size, REP, DF, 32- or 64-bit address size), counts and
// start offsets around 4 KiB boundaries and the end of the mapped memory, the VMM's emulation
// under ept and spt leaves the guest exactly where the CPU's own root-mode execution (native)
// leaves it: registers, memory, device accesses, instruction count and how the run ended. A
// buffer running off the mapped memory faults (#PF, then with no IDT a triple fault) at the same
// element everywhere. Small vCPU quanta cut the REP into several exits at the places the CPU
// would have stopped too.

import { GPR_NAMES } from '@vmkit/cpu';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type MmuStrategy, Vm } from '../src/index.js';
import { elf } from './support/elf.js';
import { countingDevice } from './support/string-io-guest.js';

const PORT = 0x500;
const RAM_END = 0x40_0000; // 4 MiB, mapped by the boot map's 2 MiB pages; 4 MiB up is not

interface Case {
  in: boolean;
  size: 1 | 2 | 4;
  rep: boolean;
  a32: boolean;
  df: boolean;
  count: number;
  start: number;
  upper: number;
  quantum: number;
}

const imm64 = (v: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return [...b];
};

/** mov rsi/rdi/rcx, imm64; mov edx, PORT; [std]; [66] [67] [f3] INS/OUTS; xor eax, eax; out 0xf4, al */
function program(c: Case): Uint8Array {
  const pointer = (BigInt(c.upper) << 32n) | BigInt(c.start);
  const count = c.a32 ? (BigInt(c.upper ^ 0x5a5a) << 32n) | BigInt(c.count) : BigInt(c.count);
  const opcode = (c.in ? 0x6c : 0x6e) + (c.size === 1 ? 0 : 1);
  return Uint8Array.from([
    ...[0x48, c.in ? 0xbf : 0xbe, ...imm64(c.a32 ? pointer : BigInt(c.start))],
    ...[0x48, 0xb9, ...imm64(count)],
    ...[0xba, PORT & 0xff, PORT >> 8, 0, 0],
    ...(c.df ? [0xfd] : []),
    ...(c.size === 2 ? [0x66] : []),
    ...(c.a32 ? [0x67] : []),
    ...(c.rep ? [0xf3] : []),
    opcode,
    ...[0x31, 0xc0, 0xe6, 0xf4],
  ]);
}

function runCase(c: Case, mmu: MmuStrategy) {
  const vm = new Vm({ image: elf(program(c)), memoryMiB: 4, mmu, vcpuQuantum: c.quantum });
  const dev = countingDevice();
  vm.pio.register(PORT, 4, dev);
  // A pattern where OUTS reads: around the start and near the end of RAM.
  const window = [Math.max(0x20_0000, c.start - 0x2000), 0x4000] as const;
  const fill = new Uint8Array(window[1]);
  for (let k = 0; k < fill.length; k++) fill[k] = (k * 13 + 5) & 0xff;
  vm.memory.writeBytes(window[0], fill.subarray(0, Math.min(fill.length, RAM_END - window[0])));
  const r = vm.run({ maxInstructions: 2000 });
  const cpu = vm.vcpus[0]!.cpu;
  const mem = new Uint8Array(Math.min(window[1], RAM_END - window[0]));
  vm.memory.readBytes(window[0], mem);
  return {
    end: r.end,
    instructions: r.instructions,
    log: dev.log,
    registers: GPR_NAMES.map((n) => cpu.getReg(n)),
    rip: cpu.rip,
    cr2: cpu.cr2,
    memory: Buffer.from(mem).toString('base64'),
    exits: r.exitsByReason['I/O instruction'] ?? 0,
  };
}

const arbCase: fc.Arbitrary<Case> = fc.record({
  in: fc.boolean(),
  size: fc.constantFrom(1 as const, 2 as const, 4 as const),
  rep: fc.boolean(),
  a32: fc.boolean(),
  df: fc.boolean(),
  count: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1000, max: 1100 })),
  // Near a 4 KiB boundary inside RAM, or near the end of the mapped memory.
  start: fc.oneof(
    fc.integer({ min: 0x20_1000 - 24, max: 0x20_1000 + 24 }),
    fc.integer({ min: RAM_END - 40, max: RAM_END - 1 }),
  ),
  upper: fc.integer({ min: 0, max: 0xffff_ffff }),
  quantum: fc.oneof(fc.constant(1_000_000), fc.integer({ min: 3, max: 60 })),
});

describe('string I/O emulation against native root-mode execution (property)', () => {
  it('ept and spt end exactly where native ends', () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        const native = runCase(c, 'native');
        for (const mmu of ['ept', 'spt'] as const) {
          const { exits, ...state } = runCase(c, mmu);
          const { exits: _, ...expected } = native;
          expect(state).toEqual(expected);
          // A run that completed: the OUT to the debug-exit port plus one exit per chunk of at
          // most 1024 elements (a zero count exits once too); more where a quantum cut in.
          if (state.end === 'exit') {
            const chunks = c.rep ? Math.max(1, Math.ceil(c.count / 1024)) : 1;
            if (c.quantum === 1_000_000) expect(exits).toBe(1 + chunks);
            else expect(exits).toBeGreaterThanOrEqual(1 + chunks);
          }
        }
        expect(native.exits).toBe(0);
      }),
      { numRuns: 150, seed: 0x5eed },
    );
  }, 120_000);
});

describe('string I/O: bad guest input cannot hurt the host', () => {
  it('REP with RCX = 2^64 - 1 into unmapped memory ends in the guest #PF (here a triple fault), not a hang', () => {
    for (const mmu of ['native', 'ept', 'spt', 'ept-lp'] as const) {
      const c: Case = {
        in: true,
        size: 1,
        rep: true,
        a32: false,
        df: false,
        count: 0,
        start: RAM_END,
        upper: 0,
        quantum: 1_000_000,
      };
      const bytes = program(c);
      // RCX = 2^64 - 1: patch the mov rcx immediate.
      bytes.set(imm64(-1n), 12);
      const vm = new Vm({ image: elf(bytes), memoryMiB: 4, mmu });
      const r = vm.run({ maxInstructions: 1000 });
      expect({ mmu, end: r.end }).toEqual({ mmu, end: 'triple-fault' });
      const cpu = vm.vcpus[0]!.cpu;
      expect(cpu.getReg('rcx')).toBe(2n ** 64n - 1n);
      expect(cpu.cr2).toBe(BigInt(RAM_END));
    }
  });

  it('a huge count over mapped memory is bounded per exit and stops at the run budget', () => {
    for (const mmu of ['native', 'ept', 'spt'] as const) {
      // rep outsb from 0x200000, RCX = 2^64 - 1
      const c: Case = {
        in: false,
        size: 1,
        rep: true,
        a32: false,
        df: false,
        count: 0,
        start: 0x20_0000,
        upper: 0,
        quantum: 1_000_000,
      };
      const bytes = program(c);
      bytes.set(imm64(-1n), 12);
      const vm = new Vm({ image: elf(bytes), memoryMiB: 4, mmu, vcpuQuantum: 1_000_000 });
      vm.pio.register(PORT, 4, countingDevice());
      const r = vm.run({ maxInstructions: 5000 });
      expect({ mmu, end: r.end, instructions: r.instructions }).toEqual({
        mmu,
        end: 'budget',
        instructions: 5000,
      });
      // Three movs, then 4997 elements: the budget bounds the last chunk exactly.
      const cpu = vm.vcpus[0]!.cpu;
      expect(cpu.getReg('rcx')).toBe(2n ** 64n - 1n - 4997n);
      if (mmu !== 'native') expect(r.exitsByReason['I/O instruction']).toBe(Math.ceil(4997 / 1024));
    }
  });
});
