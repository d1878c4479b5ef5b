import { Vector } from '@vmkit/x86';
import { describe, expect, it } from 'vitest';
import { Cpu, CpuError, FlatMemory } from '../src/index.js';
import { machine } from './support/machine.js';

describe('run loop', () => {
  it('stops at HLT with RIP after it and counts instructions', () => {
    // mov eax, 5; add eax, 7; hlt
    const { cpu } = machine([0xb8, 5, 0, 0, 0, 0x83, 0xc0, 7, 0xf4]);
    expect(cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(cpu.getReg('rax')).toBe(12n);
    expect(cpu.rip).toBe(0x1009n);
    expect(cpu.instructions).toBe(3);
  });

  it('stops when the budget is spent, deterministically', () => {
    // loop: inc rcx; jmp loop
    const { cpu } = machine([0x48, 0xff, 0xc1, 0xeb, 0xfb]);
    expect(cpu.run(1001)).toEqual({ kind: 'budget' });
    expect(cpu.getReg('rcx')).toBe(501n);
    expect(cpu.instructions).toBe(1001);
  });

  it('reports #UD for UD2 and for unimplemented opcodes, with RIP at the instruction', () => {
    const { cpu } = machine([0x90, 0x0f, 0x0b]);
    expect(cpu.run(10)).toMatchObject({ kind: 'exception', vector: Vector.UD });
    expect(cpu.rip).toBe(0x1001n);
    const m2 = machine([0x0f, 0x21, 0xc0]); // MOV from DR0: not implemented
    expect(m2.cpu.run(10)).toMatchObject({ kind: 'exception', vector: Vector.UD });
  });

  it('raises #GP(0) for an instruction longer than 15 bytes', () => {
    const { cpu } = machine([...new Array(15).fill(0x66), 0x90]);
    expect(cpu.run(1)).toEqual({
      kind: 'exception',
      vector: Vector.GP,
      errorCode: 0,
      address: undefined,
    });
    const ok = machine([...new Array(14).fill(0x2e), 0x90]);
    expect(ok.cpu.run(1)).toEqual({ kind: 'budget' });
  });

  it('raises #PF for memory outside the flat map, leaving flags and registers intact', () => {
    // add rax, [0x200000] (beyond 1 MiB)
    const { cpu } = machine([0x48, 0x03, 0x04, 0x25, 0, 0, 0x20, 0]);
    cpu.rflags = 0x2n | 0x1n;
    expect(cpu.run(1)).toEqual({
      kind: 'exception',
      vector: Vector.PF,
      errorCode: 0,
      address: 0x200000,
    });
    expect(cpu.rflags).toBe(0x3n);
  });

  it('raises #GP(0) at CPL 3 for HLT and #DE for a division by zero', () => {
    expect(machine([0xf4], 3).cpu.run(1)).toMatchObject({ vector: Vector.GP });
    expect(machine([0x31, 0xc9, 0xf7, 0xf1]).cpu.run(5)).toMatchObject({ vector: Vector.DE });
  });

  it('resumes an interrupted REP MOVSB with the right RCX/RSI/RDI', () => {
    // rep movsb; hlt
    const { cpu, mem } = machine([0xf3, 0xa4, 0xf4]);
    mem.writeBytes(
      0x2000,
      Uint8Array.from({ length: 100 }, (_, i) => i),
    );
    cpu.setReg('rsi', 0x2000n);
    cpu.setReg('rdi', 0x3000n);
    cpu.setReg('rcx', 100n);
    expect(cpu.run(40)).toEqual({ kind: 'budget' });
    expect(cpu.getReg('rcx')).toBe(60n);
    expect(cpu.getReg('rsi')).toBe(0x2028n);
    expect(cpu.rip).toBe(0x1000n);
    expect(cpu.run(1000)).toEqual({ kind: 'hlt' });
    expect(cpu.getReg('rcx')).toBe(0n);
    expect(cpu.instructions).toBe(101);
    const out = new Uint8Array(100);
    mem.readBytes(0x3000, out);
    expect([...out]).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('sees code the guest rewrote (self-modifying code)', () => {
    // 0x1000: mov byte [rip+1], 0x07   (patches the imm8 of the add below)
    // 0x1007: add eax, 1 ; jmp back to 0x1000 once via a counter? keep it linear:
    // run once through "add eax, imm8" to cache it, then patch and run again.
    const code = [
      0x83,
      0xc0,
      0x01, // 0x1000: add eax, 1
      0xff,
      0xc1, // 0x1003: inc ecx
      0x83,
      0xf9,
      0x02, // 0x1005: cmp ecx, 2
      0x74,
      0x09, // 0x1008: je done (0x1013)
      0xc6,
      0x05,
      0xf1,
      0xff,
      0xff,
      0xff,
      0x05, // 0x100a: mov byte [rip-0xf] (=0x1002), 5
      0xeb,
      0xed, // 0x1011: jmp 0x1000
      0xf4, // 0x1013: hlt
    ];
    const { cpu } = machine(code);
    expect(cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(cpu.getReg('rax')).toBe(6n);
  });

  it('sees a store into the next instruction of the same straight-line block', () => {
    const code = [
      0xc6,
      0x05,
      0x00,
      0x00,
      0x00,
      0x00,
      0x2a, // mov byte [rip+0], 42  (the imm8 below)
      0xb0,
      0x01, // mov al, 1   -> becomes mov al, 42
      0xf4, // hlt
    ];
    // Patch the byte right after the store: the displacement points at the mov's opcode + 1.
    code[2] = 1;
    const { cpu } = machine(code);
    expect(cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(cpu.getReg('rax')).toBe(42n);
  });

  it('stops for OUT and IN, and IN completes with the value the host supplies', () => {
    // mov dx, 0x3f8; mov al, 'A'; out dx, al; in eax, 0x71; out 0x80, ax; hlt
    const { cpu } = machine([
      0x66, 0xba, 0xf8, 0x03, 0xb0, 0x41, 0xee, 0xe5, 0x71, 0x66, 0xe7, 0x80, 0xf4,
    ]);
    expect(cpu.run(100)).toEqual({
      kind: 'io',
      direction: 'out',
      port: 0x3f8,
      size: 1,
      value: 0x41,
    });
    expect(cpu.rip).toBe(0x1007n);
    expect(cpu.run(100)).toEqual({ kind: 'io', direction: 'in', port: 0x71, size: 4 });
    expect(() => cpu.run(1)).toThrow(CpuError);
    cpu.setReg('rax', 0xffff_ffff_0000_0000n);
    cpu.completeIn(0x1234_5678);
    expect(cpu.getReg('rax')).toBe(0x1234_5678n); // a 32-bit write zero-extends
    expect(cpu.run(100)).toEqual({
      kind: 'io',
      direction: 'out',
      port: 0x80,
      size: 2,
      value: 0x5678,
    });
    expect(cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(cpu.instructions).toBe(6);
  });

  it('raises #GP(0) for IN/OUT at CPL 3 unless IOPL is 3', () => {
    const denied = machine([0xe4, 0x80], 3);
    expect(denied.cpu.run(1)).toMatchObject({ kind: 'exception', vector: Vector.GP, errorCode: 0 });
    const allowed = machine([0xe4, 0x80], 3);
    allowed.cpu.rflags = 0x3202n; // IOPL 3, IF
    expect(allowed.cpu.run(1)).toEqual({ kind: 'io', direction: 'in', port: 0x80, size: 1 });
  });

  it('sees a 32-bit register store into the next instruction (inline store path)', () => {
    // mov [rip+1], eax (patches the imm32 of the next mov); mov eax, 1; hlt
    const { cpu } = machine([
      0x89, 0x05, 0x01, 0x00, 0x00, 0x00, 0xb8, 0x01, 0x00, 0x00, 0x00, 0xf4,
    ]);
    cpu.setReg('rax', 42n);
    expect(cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(cpu.getReg('rax')).toBe(42n);
  });

  it('gives the same results with the block cache disabled or tiny', () => {
    // sum 1..100 with a loop and a call: mov ecx, 100; xor eax, eax; l: call f; dec ecx;
    // jnz l; hlt; f: add eax, ecx; ret
    const code = [
      0xb9, 100, 0, 0, 0, 0x31, 0xc0, 0xe8, 0x05, 0, 0, 0, 0xff, 0xc9, 0x75, 0xf7, 0xf4, 0x01, 0xc8,
      0xc3,
    ];
    for (const decodeCacheSize of [0, 3, 16384]) {
      const mem = machine(code).mem;
      const cpu = new Cpu({ memory: new FlatMemory(mem), decodeCacheSize });
      cpu.rip = 0x1000n;
      cpu.setReg('rsp', 0x80000n);
      expect(cpu.run(10_000)).toEqual({ kind: 'hlt' });
      expect(cpu.getReg('rax')).toBe(5050n);
      expect(cpu.instructions).toBe(3 + 100 * 5);
    }
  });

  it('runs a loop inside one block the same whatever the budget slices', () => {
    // mov ecx, 100; l: add eax, ecx; dec ecx; jnz l; hlt
    const code = [0xb9, 100, 0, 0, 0, 0x01, 0xc8, 0xff, 0xc9, 0x75, 0xfa, 0xf4];
    for (const slice of [1, 2, 3, 7, 1000]) {
      const { cpu } = machine(code);
      let stop = cpu.run(slice);
      while (stop.kind === 'budget') stop = cpu.run(slice);
      expect(stop).toEqual({ kind: 'hlt' });
      expect(cpu.getReg('rax')).toBe(5050n);
      expect(cpu.instructions).toBe(1 + 3 * 100 + 1);
    }
  });

  it('rejects non-canonical RIP and bad budgets from the host', () => {
    const { cpu } = machine([0x90]);
    expect(() => {
      cpu.rip = 0x8000_0000_0000n;
    }).toThrow(CpuError);
    expect(() => cpu.run(-1)).toThrow(CpuError);
  });
});

describe('instructions with architecturally fixed results', () => {
  it('PUSH/POP/CALL/RET move RSP by 8 and CALL pushes the return address', () => {
    // call +1; hlt; (target) push rax; pop rbx; ret
    const { cpu, mem } = machine([0xe8, 0x01, 0, 0, 0, 0xf4, 0x50, 0x5b, 0xc3]);
    cpu.setReg('rax', 0x1122334455667788n);
    expect(cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(cpu.getReg('rbx')).toBe(0x1122334455667788n);
    expect(cpu.getReg('rsp')).toBe(0x80000n);
    expect(mem.read64(0x80000 - 8)).toBe(0x1005n);
  });

  it('ENTER and LEAVE build and tear down a nested frame', () => {
    // enter 0x20, 2; leave; hlt
    const { cpu, mem } = machine([0xc8, 0x20, 0x00, 0x02, 0xc9, 0xf4]);
    cpu.setReg('rbp', 0x90000n);
    mem.write64(0x90000 - 8, 0xabcdefn);
    expect(cpu.run(1)).toEqual({ kind: 'budget' });
    expect(cpu.getReg('rbp')).toBe(0x80000n - 8n);
    expect(cpu.getReg('rsp')).toBe(0x80000n - 24n - 0x20n);
    expect(mem.read64(0x80000 - 16)).toBe(0xabcdefn);
    expect(mem.read64(0x80000 - 24)).toBe(0x80000n - 8n);
    expect(cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(cpu.getReg('rbp')).toBe(0x90000n);
    expect(cpu.getReg('rsp')).toBe(0x80000n);
  });

  it('uses FS/GS bases and RIP-relative addresses', () => {
    // mov rax, fs:[8]; mov rbx, [rip+0x10]; hlt
    const { cpu, mem } = machine([
      0x64, 0x48, 0x8b, 0x04, 0x25, 8, 0, 0, 0, 0x48, 0x8b, 0x1d, 0x10, 0, 0, 0, 0xf4,
    ]);
    cpu.fsBase = 0x5000n;
    mem.write64(0x5008, 42n);
    mem.write64(0x1010 + 0x10, 77n);
    expect(cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(cpu.getReg('rax')).toBe(42n);
    expect(cpu.getReg('rbx')).toBe(77n);
  });

  it('POPFQ changes IOPL and IF at CPL 0 only, and never RF, VM, VIF or VIP', () => {
    // push imm32 (all flags); popfq
    const image = [0x68, 0xd5, 0x3f, 0x3f, 0x00, 0x9d, 0xf4];
    const ring0 = machine(image, 0);
    expect(ring0.cpu.run(2)).toEqual({ kind: 'budget' });
    expect(ring0.cpu.rflags & 0x3200n).toBe(0x3200n); // IOPL 3 and IF set at CPL 0
    expect(ring0.cpu.rflags & 0x1b0000n).toBe(0n); // RF, VM, VIF, VIP stay clear
    const ring3 = machine(image, 3);
    expect(ring3.cpu.run(2)).toEqual({ kind: 'budget' });
    expect(ring3.cpu.rflags & 0x3200n).toBe(0n); // IOPL and IF unchanged at CPL 3 (IOPL 0)
  });

  it('traps with #DB after each instruction once POPFQ has set TF', () => {
    // pushfq; or qword [rsp], 0x100; popfq; inc eax; inc eax; hlt
    const { cpu } = machine([
      0x9c, 0x48, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, 0x9d, 0xff, 0xc0, 0xff, 0xc0, 0xf4,
    ]);
    // TF is clear at the start of POPFQ, so the first trap follows the next instruction.
    expect(cpu.run(100)).toMatchObject({ kind: 'exception', vector: Vector.DB });
    expect(cpu.rip).toBe(0x100cn);
    expect(cpu.getReg('rax')).toBe(1n);
    expect(cpu.run(100)).toMatchObject({ kind: 'exception', vector: Vector.DB });
    expect(cpu.getReg('rax')).toBe(2n);
    expect(cpu.instructions).toBe(5);
  });

  it('CMPXCHG16B requires 16-byte alignment', () => {
    // lock cmpxchg16b [rsi]
    const { cpu } = machine([0xf0, 0x48, 0x0f, 0xc7, 0x0e]);
    cpu.setReg('rsi', 0x2008n);
    expect(cpu.run(1)).toMatchObject({ kind: 'exception', vector: Vector.GP, errorCode: 0 });
  });
});
