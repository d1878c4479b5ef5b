// The VMM's exit handlers against the CPU's own root-mode implementation: a hand-assembled
// program exercises IN of each width (merge vs zero-extension), CPUID (with its RBX write) and
// RDMSR of the x2APIC ID, folds every result register into the exit status, and must end with
// the same status and instruction count under every strategy. Under `native` these
// instructions run in the CPU (root mode); under the others they exit and the VMM emulates
// them: two independent implementations of the same architecture (SDM Vol. 1 §3.4.1.1 for
// the register-width rules, Vol. 2A CPUID, Vol. 2B RDMSR).
import { describe, expect, it } from 'vitest';
import { MMU_STRATEGIES, Vm } from '../src/index.js';
import { elf } from './support/elf.js';

const program = Uint8Array.from([
  ...[0xba, 0xfd, 0x03, 0x00, 0x00], // mov edx, 0x3fd (UART LSR)
  ...[0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff], // mov rax, -1
  0xec, // in al, dx: only AL changes
  ...[0x49, 0x89, 0xc0], // mov r8, rax
  ...[0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff], // mov rax, -1
  ...[0x66, 0xed], // in ax, dx: only AX changes
  ...[0x49, 0x01, 0xc0], // add r8, rax
  ...[0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff], // mov rax, -1
  0xed, // in eax, dx: RAX zero-extended
  ...[0x49, 0x01, 0xc0], // add r8, rax
  ...[0x48, 0xc7, 0xc1, 0xff, 0xff, 0xff, 0xff], // mov rcx, -1
  ...[0xb8, 0x01, 0x00, 0x00, 0x00], // mov eax, 1
  ...[0x0f, 0xa2], // cpuid (leaf 1: EBX[31:24] is the APIC id)
  ...[0x49, 0x01, 0xc0], // add r8, rax
  ...[0x49, 0x01, 0xd8], // add r8, rbx
  ...[0x49, 0x01, 0xc8], // add r8, rcx
  ...[0x49, 0x01, 0xd0], // add r8, rdx
  ...[0xb9, 0x03, 0x08, 0x00, 0x00], // mov ecx, 0x803 (x2APIC version)
  ...[0x0f, 0x32], // rdmsr
  ...[0x49, 0x01, 0xc0], // add r8, rax
  ...[0x49, 0x01, 0xd0], // add r8, rdx
  ...[0x4c, 0x89, 0xc0], // mov rax, r8
  ...[0x48, 0xc1, 0xe8, 0x20], // shr rax, 32
  ...[0x44, 0x31, 0xc0], // xor eax, r8d
  ...[0xe7, 0xf4], // out 0xf4, eax
]);

describe('exit handlers', () => {
  it('IN, CPUID and RDMSR give every strategy the registers the CPU itself gives', () => {
    const runs = MMU_STRATEGIES.map((mmu) =>
      new Vm({ image: elf(program), memoryMiB: 4, mmu }).run(),
    );
    const native = runs[0]!;
    expect(native.end).toBe('exit');
    // 28 instructions, all retired (the OUT included), whoever executed them.
    for (const r of runs) {
      expect(r.end).toBe('exit');
      expect(r.status).toBe(native.status);
      expect(r.instructions).toBe(native.instructions);
    }
    for (const r of runs.slice(1)) {
      expect(r.exitsByReason).toMatchObject({
        CPUID: 1,
        'I/O instruction': 4,
        RDMSR: 1,
      });
    }
  });
});
