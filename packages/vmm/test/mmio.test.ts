// Memory-mapped devices: a hand-assembled guest maps a device page with its own page tables and
// reads and writes its registers. Under `native` the CPU's accesses reach the device directly
// through guest-physical memory; under `spt`, `ept` and `ept-lp` each one exits (a shadow fault
// on a frame with no RAM, an EPT violation) and the VMM emulates the instruction. The device
// must see the same accesses, in the same order, and the guest the same values, under every
// strategy: the expected log below is the program's own listing, not vmkit output.
import type { AccessSize, MmioHandler } from '@vmkit/memory';
import { describe, expect, it } from 'vitest';
import { MMU_STRATEGIES, Vm, VmmError } from '../src/index.js';
import { elf } from './support/elf.js';

const DEVICE = 0x0800_0000; // 128 MiB, above the 4 MiB of RAM; PD index 64 of the boot map

/** A register file: reads return the last value written, or 0xA0 + offset. */
function device(): MmioHandler & { log: string[] } {
  const regs = new Map<number, bigint>();
  const log: string[] = [];
  return {
    log,
    read(offset: number, size: AccessSize): bigint {
      const v = regs.get(offset) ?? BigInt(0xa0 + offset);
      log.push(`r${size}@${offset.toString(16)}`);
      return v;
    },
    write(offset: number, size: AccessSize, value: bigint): void {
      regs.set(offset, value);
      log.push(`w${size}@${offset.toString(16)}=${value.toString(16)}`);
    },
  };
}

const mapDevice = [
  ...[0x48, 0xc7, 0xc0, 0x83, 0x00, 0x00, 0x08], // mov rax, 0x08000083 (2 MiB PDE: P, R/W, PS)
  ...[0x48, 0x89, 0x04, 0x25, 0x00, 0x32, 0x00, 0x00], // mov [0x3200], rax (PD entry 64)
  ...[0x48, 0xc7, 0xc3, 0x00, 0x00, 0x00, 0x08], // mov rbx, 0x08000000
];

const program = Uint8Array.from([
  ...mapDevice,
  ...[0xc7, 0x43, 0x10, 0x78, 0x56, 0x34, 0x12], // mov dword [rbx+0x10], 0x12345678
  ...[0x8b, 0x43, 0x20], // mov eax, [rbx+0x20]
  ...[0x03, 0x43, 0x10], // add eax, [rbx+0x10]
  ...[0xc6, 0x43, 0x07, 0xab], // mov byte [rbx+0x7], 0xab
  ...[0x0f, 0xb7, 0x4b, 0x30], // movzx ecx, word [rbx+0x30]
  ...[0x01, 0xc8], // add eax, ecx
  ...[0xe7, 0xf4], // out 0xf4, eax
]);

describe('MMIO devices', () => {
  it('every strategy gives the device the same accesses and the guest the same values', () => {
    for (const mmu of MMU_STRATEGIES) {
      const dev = device();
      const vm = new Vm({ image: elf(program), memoryMiB: 4, mmu });
      vm.addMmio({ base: DEVICE, size: 0x1000, handler: dev });
      const r = vm.run({ maxInstructions: 1000 });
      expect({ mmu, end: r.end, status: r.status }).toEqual({
        mmu,
        end: 'exit',
        // 0xa0 + 0x20, plus the 0x12345678 read back, plus 0xa0 + 0x30
        status: (0xc0 + 0x12345678 + 0xd0) >>> 0,
      });
      expect(dev.log).toEqual(['w4@10=12345678', 'r4@20', 'r4@10', 'w1@7=ab', 'r2@30']);
      expect(r.instructions).toBe(10);
      // Each device access exits once under the virtualized strategies; never under native.
      if (mmu === 'ept' || mmu === 'ept-lp') expect(r.exitsByReason['EPT violation']).toBe(5);
      if (mmu === 'spt') expect(r.shadowFaults.mmio).toBe(5);
      if (mmu === 'native') expect(r.exitsByReason).toEqual({});
    }
  });

  it('an access crossing out of the device page is a machine check, under every strategy', () => {
    const crossing = Uint8Array.from([
      ...mapDevice,
      ...[0x8b, 0x83, 0xfe, 0x0f, 0x00, 0x00], // mov eax, [rbx+0xffe]: 2 bytes past the device
      ...[0xe7, 0xf4], // out 0xf4, eax (not reached)
    ]);
    for (const mmu of MMU_STRATEGIES) {
      const vm = new Vm({ image: elf(crossing), memoryMiB: 4, mmu });
      vm.addMmio({ base: DEVICE, size: 0x1000, handler: device() });
      // The hand-made guest has no IDT: the #MC becomes a triple fault.
      expect({ mmu, end: vm.run({ maxInstructions: 1000 }).end }).toEqual({
        mmu,
        end: 'triple-fault',
      });
    }
  });

  it('refuses regions that overlap RAM or another device, or are misaligned', () => {
    const vm = new Vm({ image: elf(program), memoryMiB: 4 });
    const handler = device();
    expect(() => vm.addMmio({ base: 0x20_0000, size: 0x1000, handler })).toThrow(VmmError);
    expect(() => vm.addMmio({ base: DEVICE + 1, size: 0x1000, handler })).toThrow(/page-aligned/);
    expect(() => vm.addMmio({ base: 2 ** 36, size: 0x1000, handler })).toThrow(/below 2\^36/);
    vm.addMmio({ base: DEVICE, size: 0x2000, handler });
    expect(() => vm.addMmio({ base: DEVICE + 0x1000, size: 0x1000, handler })).toThrow(
      expect.objectContaining({ code: 'MMIO_CONFLICT' }),
    );
  });
});
