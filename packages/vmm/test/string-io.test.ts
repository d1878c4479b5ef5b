// String I/O (INS/OUTS with and without REP) under every strategy. Under `native` the CPU runs
// the instructions in root mode, one `io` stop per element; under `spt`, `ept` and `ept-lp`
// each exits and the VMM emulates it from the exit information (src/string-io.ts). The guest
// (support/string-io-guest.s) must not be able to tell: the same device accesses, console,
// memory, registers and instruction count under all four. The expected device log, memory and
// fault record below are read off the program's listing, not taken from a vmkit run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPR_NAMES } from '@vmkit/cpu';
import type { AccessSize, MmioHandler } from '@vmkit/memory';
import { describe, expect, it } from 'vitest';
import {
  MMU_STRATEGIES,
  type MmuStrategy,
  type PioDevice,
  STRING_IO_CHUNK,
  Vm,
} from '../src/index.js';
import { elf } from './support/elf.js';
import {
  countingDevice,
  GUEST_SYMBOLS,
  guestSource,
  STRING_IO_GUEST,
  STRING_IO_MMIO_GUEST,
  STRING_IO_SHADOW_GUEST,
} from './support/string-io-guest.js';

const BASE = 0x10_0000;
const PATTERN = Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff);
const IMAGE = Uint8Array.from([...STRING_IO_GUEST, ...PATTERN]);

/** Counts the values it is sent and hashes them in order. */
function sumDevice(): PioDevice & { count: number; hash: number } {
  return {
    count: 0,
    hash: 0,
    read: () => 0,
    write(_offset, _size, value) {
      this.count++;
      this.hash = (Math.imul(this.hash, 31) + value) >>> 0;
    },
  };
}

function hashOf(values: readonly number[]): number {
  let h = 0;
  for (const v of values) h = (Math.imul(h, 31) + v) >>> 0;
  return h;
}

function bytes(vm: Vm, from: number, length: number): number[] {
  const out = new Uint8Array(length);
  vm.memory.readBytes(from, out);
  return Array.from(out);
}

function run(mmu: MmuStrategy, slice = 100_000) {
  const vm = new Vm({ image: elf(IMAGE), memoryMiB: 4, mmu, vcpuQuantum: 1_000_000 });
  const dev = countingDevice();
  const sum = sumDevice();
  vm.pio.register(0x500, 4, dev);
  vm.pio.register(0x510, 4, sum);
  let r = vm.run({ maxInstructions: slice });
  for (let n = 0; r.end === 'budget' && n < 1000; n++) r = vm.run({ maxInstructions: slice });
  const cpu = vm.vcpus[0]!.cpu;
  const state = {
    end: r.end,
    status: r.status,
    console: r.console,
    instructions: r.instructions,
    log: dev.log,
    sum: [sum.count, sum.hash],
    registers: Object.fromEntries(GPR_NAMES.map((n) => [n, cpu.getReg(n)])),
    rip: cpu.rip,
    rflags: cpu.rflags,
    cr2: cpu.cr2,
    buffers: [
      bytes(vm, 0x20_0000, 0x2000),
      bytes(vm, 0x30_0000, 0x3000),
      bytes(vm, BASE + GUEST_SYMBOLS.faults, 24),
    ],
  };
  return { vm, r, state };
}

describe('string I/O: INS/OUTS under every strategy', () => {
  const runs = MMU_STRATEGIES.map((mmu) => ({ mmu, ...run(mmu) }));

  it('the guest sees the same devices, memory and registers under native, spt, ept and ept-lp', () => {
    const native = runs[0]!;
    for (const x of runs.slice(1))
      expect({ mmu: x.mmu, ...x.state }).toEqual({ mmu: x.mmu, ...native.state });
  });

  it('a run cut into budgets of 97 instructions ends in the same state (chunks stop at the budget)', () => {
    for (const mmu of ['native', 'ept', 'spt'] as const)
      expect({ mmu, ...run(mmu, 97).state }).toEqual({ mmu, ...runs[0]!.state });
  });

  it('two vCPUs interleaved every 37 instructions: the same interleaving under every strategy', () => {
    // Both vCPUs run the program; the emulation's chunks stop where each vCPU's turn ends, so
    // the device sees the two streams interleaved exactly as when the CPU runs them.
    const states = MMU_STRATEGIES.map((mmu) => {
      const vm = new Vm({ image: elf(IMAGE), memoryMiB: 4, mmu, vcpus: 2, vcpuQuantum: 37 });
      const dev = countingDevice();
      const sum = sumDevice();
      vm.pio.register(0x500, 4, dev);
      vm.pio.register(0x510, 4, sum);
      const r = vm.run({ maxInstructions: 100_000 });
      return {
        mmu,
        end: r.end,
        status: r.status,
        perVcpu: r.perVcpu.map((p) => p.instructions),
        log: dev.log,
        sum: [sum.count, sum.hash],
        registers: vm.vcpus.map((v) => [...GPR_NAMES.map((n) => v.cpu.getReg(n)), v.cpu.rip]),
        memory: [bytes(vm, 0x20_0000, 0x2000), bytes(vm, 0x30_0000, 0x3000)],
      };
    });
    expect(states[0]!.end).toBe('exit');
    for (const x of states.slice(1)) expect(x).toEqual({ ...states[0]!, mmu: x.mmu });
  });

  it('matches the program listing', () => {
    const { state, vm } = runs[0]!;
    expect(state.end).toBe('exit');
    expect(state.status).toBe(0x42);
    expect(state.console).toBe('hello\n');
    const reads = (size: number, n: number) => Array<string>(n).fill(`r${size}`);
    expect(state.log).toEqual([
      // 2: rep outsw; 3: std, rep outsd from the last dword down
      'w2=1234',
      'w2=5678',
      'w2=9abc',
      'w4=55667788',
      'w4=11223344',
      ...reads(1, 4), // 4: rep insb
      ...reads(2, 3), // rep insw
      ...reads(4, 1), // insd
      ...reads(1, 3), // 5: std, rep insb
      ...reads(1, 2), // 6: addr32 rep insb
      ...reads(4, 5), // 7: rep insd across a page boundary
      ...reads(2, 16), // 8: rep insw: 8 words, #PF (no read), 8 words
      ...reads(1, 2), // 10: two bytes, then the #PF the handler ends the run on
    ]);
    const seq = (from: number, n: number) => Array.from({ length: n }, (_, k) => from + k);
    // 4: bytes 1..14 at 0x200000
    expect(bytes(vm, 0x20_0000, 14)).toEqual(seq(1, 14));
    // 5: 15, 16, 17 stored downwards from 0x200042
    expect(bytes(vm, 0x20_0040, 3)).toEqual([17, 16, 15]);
    // 6: 18, 19 at EDI = 0x200080
    expect(bytes(vm, 0x20_0080, 2)).toEqual([18, 19]);
    // 7: bytes 20..39 from 0x200ff2 over the page boundary
    expect(bytes(vm, 0x20_0ff2, 20)).toEqual(seq(20, 20));
    // 8: 0x400ff0 is frame 0x300000 + 0xff0; 0x401000 is the frame the handler mapped, 0x301000
    expect(bytes(vm, 0x30_0ff0, 16)).toEqual(seq(40, 16));
    expect(bytes(vm, 0x30_1000, 16)).toEqual(seq(56, 16));
    // 10: 72, 73 at 0x402ffe (frame 0x302000)
    expect(bytes(vm, 0x30_2ffe, 2)).toEqual([72, 73]);
    // 9: the whole pattern, in order
    expect(state.sum).toEqual([3000, hashOf(PATTERN)]);
    // The handler's record: two #PFs (write, not present: error code 2), the last at 0x403000.
    const data = new DataView(Uint8Array.from(state.buffers[2]!).buffer);
    expect([
      data.getBigUint64(0, true),
      data.getBigUint64(8, true),
      data.getBigUint64(16, true),
    ]).toEqual([2n, 0x40_3000n, 2n]);
    // 6: EDI and ECX zero-extended; 10: RCX = 2^64 - 1 - 2 elements, RDI at the faulting byte.
    expect(state.registers.rcx).toBe(2n ** 64n - 3n);
    expect(state.registers.rdi).toBe(0x40_3000n);
    expect(state.cr2).toBe(0x40_3000n);
  });

  it('counts each exit once: one per chunk of at most STRING_IO_CHUNK elements, one per resumption', () => {
    expect(STRING_IO_CHUNK).toBe(1024);
    for (const { mmu, r } of runs) {
      if (mmu === 'native') {
        expect(r.exitsByReason).toEqual({});
        continue;
      }
      // Steps 1-7 one exit each (9), step 8 two (the #PF between), step 9 three (3000 / 1024),
      // step 10 one, and the handler's OUT to the debug-exit port.
      expect({ mmu, io: r.exitsByReason['I/O instruction'] }).toEqual({ mmu, io: 16 });
      expect(r.exits.io).toBe(16);
    }
  });

  it('the guest bytes come from the listed sources (checked when binutils are installed)', () => {
    for (const [name, image] of [
      ['string-io-guest.s', STRING_IO_GUEST],
      ['string-io-mmio.s', STRING_IO_MMIO_GUEST],
      ['string-io-shadow.s', STRING_IO_SHADOW_GUEST],
    ] as const) {
      let dir: string | undefined;
      try {
        dir = mkdtempSync(join(tmpdir(), 'vmkit-sio-'));
        const src = join(dir, 'g.s');
        writeFileSync(src, guestSource(name));
        execFileSync('as', ['--64', '-o', join(dir, 'g.o'), src], { stdio: 'pipe' });
        execFileSync(
          'objcopy',
          ['-O', 'binary', '-j', '.text', join(dir, 'g.o'), join(dir, 'g.bin')],
          { stdio: 'pipe' },
        );
        const built = Uint8Array.from(readFileSync(join(dir, 'g.bin')));
        expect(built).toEqual(image);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        console.log('string-io guest source check skipped: GNU as/objcopy not installed');
      } finally {
        if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});

describe('string I/O: device regions and guest page tables as the memory operand', () => {
  const DEVICE = 0x0800_0000;
  /** A register file: reads return the last value written or 0xA0 + offset (bytewise). */
  function mmioDevice(): MmioHandler & { log: string[] } {
    const regs = new Map<number, bigint>();
    const log: string[] = [];
    return {
      log,
      read(offset: number, size: AccessSize): bigint {
        log.push(`r${size}@${offset.toString(16)}`);
        return regs.get(offset) ?? BigInt(0xa0 + offset);
      },
      write(offset: number, size: AccessSize, value: bigint): void {
        regs.set(offset, value);
        log.push(`w${size}@${offset.toString(16)}=${value.toString(16)}`);
      },
    };
  }
  /** Port 0x520: a page-table entry's two dwords, 0x00301003 then 0. */
  function pteSource(): PioDevice {
    const values = [0x0030_1003, 0];
    let k = 0;
    return { read: () => values[k++ % 2]!, write: () => {} };
  }

  const runs = MMU_STRATEGIES.map((mmu) => {
    const vm = new Vm({ image: elf(STRING_IO_MMIO_GUEST), memoryMiB: 4, mmu });
    const mmio = mmioDevice();
    const port = countingDevice();
    vm.addMmio({ base: DEVICE, size: 0x1000, handler: mmio });
    vm.pio.register(0x500, 4, port);
    vm.pio.register(0x520, 4, pteSource());
    const r = vm.run({ maxInstructions: 10_000 });
    const cpu = vm.vcpus[0]!.cpu;
    return {
      mmu,
      r,
      state: {
        end: r.end,
        status: r.status,
        instructions: r.instructions,
        mmio: mmio.log,
        port: port.log,
        registers: GPR_NAMES.map((n) => cpu.getReg(n)),
        pte: bytes(vm, 0x18_0008, 8),
        page: bytes(vm, 0x30_1000, 1),
      },
    };
  });

  it('the device sees the same accesses and the INS-written PTE maps the page, under every strategy', () => {
    const native = runs[0]!.state;
    expect(native.end).toBe('exit');
    // 1: OUTS reads the device bytewise, 2: INS writes it wordwise (values 1-2, 3-4, 5-6)
    expect(native.mmio).toEqual([
      'r1@10',
      'r1@11',
      'r1@12',
      'r1@13',
      'w2@20=201',
      'w2@22=403',
      'w2@24=605',
    ]);
    expect(native.port).toEqual(['w1=b0', 'w1=b1', 'w1=b2', 'w1=b3', 'r2', 'r2', 'r2']);
    // 4: the PTE arrived by INS (0x00301003), then the store through 0x401000 reached frame
    // 0x301000 and set the entry's A and D flags (0x20, 0x40; SDM Vol. 3A §4.8)
    expect(native.pte).toEqual([0x63, 0x10, 0x30, 0, 0, 0, 0, 0]);
    expect(native.page).toEqual([0x5a]);
    for (const { mmu, state } of runs.slice(1))
      expect({ mmu, ...state }).toEqual({ mmu, ...native });
  });

  it('under spt the INS stores to the guest page table went through the shadow window', () => {
    const spt = runs.find((x) => x.mmu === 'spt')!;
    expect(spt.r.shadowFaults['page-table-write']).toBeGreaterThanOrEqual(1);
    expect(spt.r.shadowFaults.mmio).toBeGreaterThanOrEqual(2);
    for (const { mmu, r } of runs)
      if (mmu !== 'native')
        expect({ mmu, io: r.exitsByReason['I/O instruction'] }).toEqual({ mmu, io: 4 });
  });
});

describe('string I/O: an interrupt waiting for an STI shadow to end', () => {
  it('is taken after the first element under every strategy, as the CPU takes it', () => {
    for (const mmu of MMU_STRATEGIES) {
      const vm = new Vm({ image: elf(STRING_IO_SHADOW_GUEST), memoryMiB: 4, mmu });
      vm.pio.register(0x500, 4, countingDevice());
      // Pending before the guest's STI: held while IF = 0, then blocked by STI's shadow for
      // one instruction, the REP INSB, which is interruptible after its first element.
      vm.vcpus[0]!.apic.accept(0x40);
      const r = vm.run({ maxInstructions: 10_000 });
      // The handler exits with RCX: 100 - 1 elements left.
      expect({ mmu, end: r.end, status: r.status, interrupts: r.interrupts }).toEqual({
        mmu,
        end: 'exit',
        status: 99,
        interrupts: 1,
      });
    }
  });
});

describe('string I/O: a buffer the guest maps beyond its RAM', () => {
  // The guest maps 0x400000 with a 2 MiB PDE to guest-physical 0x400000, just past its 4 MiB
  // of RAM, where the VMM keeps its EPT tables in host memory, and runs rep insb into it.
  const program = Uint8Array.from([
    ...[0x48, 0xc7, 0xc0, 0x83, 0x00, 0x40, 0x00], // mov rax, 0x400083 (P, R/W, PS)
    ...[0x48, 0x89, 0x04, 0x25, 0x10, 0x30, 0x00, 0x00], // mov [0x3010], rax (PD entry 2)
    ...[0xbf, 0x00, 0x00, 0x40, 0x00], // mov edi, 0x400000
    ...[0xb9, 0x10, 0x00, 0x00, 0x00], // mov ecx, 16
    ...[0xba, 0x00, 0x05, 0x00, 0x00], // mov edx, 0x500
    ...[0xf3, 0x6c], // rep insb
    ...[0x31, 0xc0, 0xe6, 0xf4], // xor eax, eax; out 0xf4, al (not reached)
  ]);

  it('never reads the port and never reaches the VMM: #MC natively and under spt, a stop under ept', () => {
    for (const mmu of MMU_STRATEGIES) {
      const vm = new Vm({ image: elf(program), memoryMiB: 4, mmu });
      const dev = countingDevice();
      vm.pio.register(0x500, 4, dev);
      const r = vm.run({ maxInstructions: 1000 });
      // No RAM behind the frame: the bare machine's #MC (here, with no IDT, a triple fault);
      // under EPT the second stage has nothing there and the VMM stops the run, naming it.
      const end = mmu === 'ept' || mmu === 'ept-lp' ? 'ept-violation' : 'triple-fault';
      expect({ mmu, end: r.end, log: dev.log }).toEqual({ mmu, end, log: [] });
      if (end === 'ept-violation') expect(r.error).toMatch(/0x400000 during string I\/O/);
      expect(vm.vcpus[0]!.cpu.getReg('rcx')).toBe(16n);
    }
  });
});
