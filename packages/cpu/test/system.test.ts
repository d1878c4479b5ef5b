// System instructions against the rules of their SDM Vol. 2 pages and SDM Vol. 3A §2.5
// (control registers), §8.2.3 (TSS descriptor) and Vol. 4 Table 2-2 (MSRs).
import { GuestPhysicalMemory } from '@vmkit/memory';
import { CR0, CR4, EFER, MSR, RFLAGS, Vector } from '@vmkit/x86';
import { describe, expect, it } from 'vitest';
import { Cpu, type CpuMemory, FlatMemory, type StopReason } from '../src/index.js';
import {
  KERNEL_CODE,
  KERNEL_CS,
  KERNEL_SS,
  system,
  TSS,
  TSS_SEL,
  USER_CODE,
  USER_CS,
  USER_SS,
  USER32_CS,
} from './support/system.js';

const report = { exceptionDelivery: 'report' } as const;
const GP0: StopReason = { kind: 'exception', vector: Vector.GP, errorCode: 0, address: undefined };

// mov rax, imm64; mov crN, rax
function movCr(n: number, value: bigint): number[] {
  const imm = [...new Array(8)].map((_, k) => Number((value >> BigInt(8 * k)) & 0xffn));
  const rexR = n >= 8 ? 0x44 : 0x40;
  return [0x48, 0xb8, ...imm, rexR, 0x0f, 0x22, 0xc0 | ((n & 7) << 3)];
}

describe('MOV to and from control registers', () => {
  it('round-trips CR0, CR2, CR3, CR4 and CR8', () => {
    const code = [
      ...movCr(3, 0x12345000n),
      ...movCr(4, BigInt(CR4.PAE | CR4.PGE | CR4.SMEP)),
      ...movCr(8, 9n),
      ...movCr(2, 0xffff800000001234n),
      0x0f,
      0x20,
      0xd9, // mov rcx, cr3
      0x0f,
      0x20,
      0xe2, // mov rdx, cr4
      0x44,
      0x0f,
      0x20,
      0xc3, // mov rbx, cr8
      0x0f,
      0x20,
      0xd6, // mov rsi, cr2
      0x0f,
      0x20,
      0xc7, // mov rdi, cr0
      0xf4,
    ];
    const s = system(code, 0, report);
    expect(s.cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(s.cpu.getReg('rcx')).toBe(0x12345000n);
    expect(s.cpu.getReg('rdx')).toBe(BigInt(CR4.PAE | CR4.PGE | CR4.SMEP));
    expect(s.cpu.getReg('rbx')).toBe(9n);
    expect(s.cpu.getReg('rsi')).toBe(0xffff800000001234n);
    expect(s.cpu.getReg('rdi')).toBe(BigInt(s.cpu.cr0));
  });

  it('ignores reserved CR0[31:0] bits and keeps ET set', () => {
    const v = BigInt((CR0.PE | CR0.PG | CR0.NE | (1 << 7)) >>> 0);
    const s = system([...movCr(0, v), 0xf4], 0, report);
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.cr0).toBe((CR0.PE | CR0.PG | CR0.NE | CR0.ET) >>> 0);
  });

  const gpCases: [string, number, bigint][] = [
    ['CR0 bit 32', 0, (1n << 32n) | 0x80000011n],
    ['CR0.PG without PE', 0, 0x80000010n],
    ['CR0.NW without CD', 0, 0xa0000011n],
    ['clearing CR0.PG in long mode', 0, 0x11n],
    ['CR4.VMXE (unsupported)', 4, BigInt(CR4.PAE | CR4.VMXE)],
    ['clearing CR4.PAE in long mode', 4, 0n],
    ['CR4 bit 32', 4, (1n << 32n) | BigInt(CR4.PAE)],
    ['CR3 beyond MAXPHYADDR', 3, 1n << 36n],
    ['CR8 above 15', 8, 16n],
  ];
  for (const [name, n, value] of gpCases) {
    it(`raises #GP(0) for ${name}`, () => {
      const s = system(movCr(n, value), 0, report);
      expect(s.cpu.run(10)).toEqual(GP0);
      expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE + 10));
    });
  }

  it('raises #GP(0) when setting CR4.PCIDE with CR3[11:0] non-zero, not otherwise', () => {
    const pcide = BigInt(CR4.PAE | CR4.PCIDE);
    const s = system([...movCr(3, 0x1005n), ...movCr(4, pcide)], 0, report);
    expect(s.cpu.run(10)).toEqual(GP0);
    const t = system(
      [...movCr(3, 0x1000n), ...movCr(4, pcide), ...movCr(3, 0x8000000000002007n), 0xf4],
      0,
      report,
    );
    expect(t.cpu.run(10)).toEqual({ kind: 'hlt' });
    // Bit 63 (no-flush) is not stored.
    expect(t.cpu.cr3).toBe(0x2007n);
  });

  it('is #GP(0) at CPL 3 and #UD for CR1/CR5', () => {
    expect(system([0x0f, 0x20, 0xc0], 3, report).cpu.run(10)).toEqual(GP0);
    expect(system([0x0f, 0x20, 0xc8], 0, report).cpu.run(10)).toMatchObject({ vector: Vector.UD });
    expect(system([0x0f, 0x22, 0xe8], 0, report).cpu.run(10)).toMatchObject({ vector: Vector.UD });
  });
});

describe('LGDT, LIDT, SGDT, SIDT, LTR', () => {
  it('loads and stores GDTR/IDTR as limit + 64-bit base', () => {
    const s = system(
      [
        0x0f,
        0x01,
        0x16, // lgdt [rsi]
        0x0f,
        0x01,
        0x1f, // lidt [rdi]
        0x0f,
        0x01,
        0x03, // sgdt [rbx]
        0x0f,
        0x01,
        0x09, // sidt [rcx]
        0xf4,
      ],
      0,
      report,
    );
    const at = 0x40000;
    s.mem.write16(at, 0x1234);
    s.mem.write32(at + 2, 0x00001000);
    s.mem.write32(at + 6, 0xffff8000);
    s.mem.write16(at + 16, 0x0fff);
    s.mem.write32(at + 18, 0x00002000);
    s.mem.write32(at + 22, 0);
    s.cpu.setReg('rsi', BigInt(at));
    s.cpu.setReg('rdi', BigInt(at + 16));
    s.cpu.setReg('rbx', BigInt(at + 32));
    s.cpu.setReg('rcx', BigInt(at + 48));
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.gdtr).toEqual({ base: 0xffff800000001000n, limit: 0x1234 });
    expect(s.cpu.idtr).toEqual({ base: 0x2000n, limit: 0xfff });
    const out = new Uint8Array(10);
    s.mem.readBytes(at + 32, out);
    expect(Buffer.from(out).toString('hex')).toBe('3412001000000080ffff');
    expect(s.mem.read16(at + 48)).toBe(0xfff);
  });

  it('refuses a non-canonical base', () => {
    const s = system([0x0f, 0x01, 0x16], 0, report);
    s.mem.write32(0x40002, 0);
    s.mem.write32(0x40006, 0x00008000);
    s.cpu.setReg('rsi', 0x40000n);
    expect(s.cpu.run(10)).toEqual(GP0);
  });

  it('LTR loads base and limit from the 16-byte TSS descriptor and marks it busy', () => {
    const s = system([0xb8, TSS_SEL, 0, 0, 0, 0x0f, 0x00, 0xd8, 0x0f, 0x00, 0xd8], 0, report);
    s.cpu.tr = { selector: 0, base: 0n, limit: 0 };
    expect(s.cpu.run(2)).toEqual({ kind: 'budget' });
    expect(s.cpu.tr).toEqual({ selector: TSS_SEL, base: BigInt(TSS), limit: 0x67 });
    expect((s.mem.read32(0x2000 + TSS_SEL + 4) >>> 8) & 0xf).toBe(0xb);
    // A busy TSS cannot be loaded again.
    expect(s.cpu.run(10)).toEqual({ ...GP0, errorCode: TSS_SEL });
  });

  it('LTR: #GP(0) for a null selector, #GP(sel) for a non-TSS descriptor, #NP when absent', () => {
    expect(system([0x31, 0xc0, 0x0f, 0x00, 0xd8], 0, report).cpu.run(10)).toEqual(GP0);
    const code = [0xb8, KERNEL_CS, 0, 0, 0, 0x0f, 0x00, 0xd8];
    expect(system(code, 0, report).cpu.run(10)).toEqual({ ...GP0, errorCode: KERNEL_CS });
    const s = system([0xb8, TSS_SEL, 0, 0, 0, 0x0f, 0x00, 0xd8], 0, report);
    s.mem.write32(0x2000 + TSS_SEL + 4, s.mem.read32(0x2000 + TSS_SEL + 4) & ~0x8000);
    expect(s.cpu.run(10)).toEqual({ ...GP0, vector: Vector.NP, errorCode: TSS_SEL });
  });
});

describe('RDMSR and WRMSR', () => {
  // mov ecx, index; mov eax, lo; mov edx, hi; wrmsr; rdmsr
  const wr = (index: number, value: bigint): number[] => {
    const le = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
    return [
      0xb9,
      ...le(index),
      0xb8,
      ...le(Number(value & 0xffffffffn)),
      0xba,
      ...le(Number(value >> 32n)),
      0x0f,
      0x30,
    ];
  };
  const rd = (index: number): number[] => [
    0xb9,
    index & 0xff,
    (index >>> 8) & 0xff,
    (index >>> 16) & 0xff,
    index >>> 24,
    0x0f,
    0x32,
  ];

  const roundTrips: [string, number, bigint][] = [
    ['STAR', MSR.IA32_STAR, 0x0013000800000000n],
    ['LSTAR', MSR.IA32_LSTAR, 0xffffffff81000000n],
    ['SFMASK', MSR.IA32_FMASK, 0x47700n],
    ['FS_BASE', MSR.IA32_FS_BASE, 0x7fff00001000n],
    ['GS_BASE', MSR.IA32_GS_BASE, 0xffff888000000000n],
    ['KERNEL_GS_BASE', MSR.IA32_KERNEL_GS_BASE, 0x1000n],
    ['TSC_AUX', MSR.IA32_TSC_AUX, 7n],
    ['PAT', MSR.IA32_PAT, 0x0007010600070106n],
    ['APIC_BASE (x2APIC on)', MSR.IA32_APIC_BASE, 0xfee00d00n],
    ['EFER', MSR.IA32_EFER, BigInt(EFER.SCE | EFER.LME | EFER.LMA | EFER.NXE)],
  ];
  for (const [name, index, value] of roundTrips) {
    it(`round-trips ${name}`, () => {
      const s = system(
        [...wr(index, value), 0x31, 0xc0, 0x31, 0xd2, ...rd(index), 0xf4],
        0,
        report,
      );
      expect(s.cpu.run(20)).toEqual({ kind: 'hlt' });
      expect((s.cpu.getReg('rdx') << 32n) | s.cpu.getReg('rax')).toBe(value);
    });
  }

  it('sets the FS base the interpreter uses', () => {
    const s = system(
      [...wr(MSR.IA32_FS_BASE, 0x40000n), 0x64, 0x8b, 0x04, 0x25, 0x10, 0, 0, 0, 0xf4],
      0,
      report,
    );
    s.mem.write32(0x40010, 0xcafe);
    expect(s.cpu.run(20)).toEqual({ kind: 'hlt' });
    expect(s.cpu.getReg('rax')).toBe(0xcafen);
  });

  const bad: [string, number, bigint][] = [
    ['an unknown MSR', 0x12345, 0n],
    ['EFER reserved bit 1', MSR.IA32_EFER, 0x502n],
    ['EFER.LME change with paging on', MSR.IA32_EFER, 0x400n],
    ['a non-canonical LSTAR', MSR.IA32_LSTAR, 0x0000800000000000n],
    ['a non-canonical GS base', MSR.IA32_GS_BASE, 0x8000000000000000n],
    ['a PAT entry of type 2', MSR.IA32_PAT, 0x0007040600070402n],
    ['SFMASK bit 32', MSR.IA32_FMASK, 1n << 32n],
    ['APIC base reserved bit 0', MSR.IA32_APIC_BASE, 0xfee00901n],
  ];
  for (const [name, index, value] of bad) {
    it(`WRMSR raises #GP(0) for ${name}`, () => {
      expect(system(wr(index, value), 0, report).cpu.run(10)).toEqual(GP0);
    });
  }

  it('routes host MSRs to the host with an msr stop', () => {
    const s = system([...wr(0x830, 0x1234_0000_00ffn), ...rd(0x802), 0xf4], 0, {
      ...report,
      hostMsr: (i) => i >= 0x800 && i <= 0x8ff,
    });
    expect(s.cpu.run(20)).toEqual({
      kind: 'msr',
      direction: 'write',
      index: 0x830,
      value: 0x1234_0000_00ffn,
    });
    expect(s.cpu.run(20)).toEqual({ kind: 'msr', direction: 'read', index: 0x802 });
    expect(() => s.cpu.run(1)).toThrow(/completeRdmsr/);
    s.cpu.completeRdmsr(0xaabbccdd_11223344n);
    expect(s.cpu.run(20)).toEqual({ kind: 'hlt' });
    expect(s.cpu.getReg('rax')).toBe(0x11223344n);
    expect(s.cpu.getReg('rdx')).toBe(0xaabbccddn);
  });

  it('counts the TSC in retired instructions, from the value WRMSR wrote', () => {
    // nop x3; rdtsc; wrmsr TSC = 1000; rdtsc
    const s = system(
      [
        0x90,
        0x90,
        0x90,
        0x0f,
        0x31,
        0x49,
        0x89,
        0xc0,
        ...wr(MSR.IA32_TIME_STAMP_COUNTER, 1000n),
        0x0f,
        0x31,
        0xf4,
      ],
      0,
      report,
    );
    expect(s.cpu.run(20)).toEqual({ kind: 'hlt' });
    expect(s.cpu.getReg('r8')).toBe(3n);
    // The counter holds 1000 when WRMSR retires and ticks once more for the WRMSR itself.
    expect(s.cpu.getReg('rax')).toBe(1001n);
    expect(s.cpu.getReg('rdx')).toBe(0n);
  });
});

describe('SWAPGS, SYSCALL, SYSRET', () => {
  it('SWAPGS exchanges GS base and KERNEL_GS_BASE', () => {
    const s = system([0x0f, 0x01, 0xf8, 0xf4], 0, report);
    s.cpu.gsBase = 0x1111n;
    s.cpu.kernelGsBase = 0xffff800000002222n;
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.gsBase).toBe(0xffff800000002222n);
    expect(s.cpu.kernelGsBase).toBe(0x1111n);
  });

  it('SYSCALL enters at LSTAR with STAR selectors and SFMASK; SYSRETQ returns to CPL 3', () => {
    const entry = KERNEL_CODE + 0x400;
    // user: syscall; mov ebx, 5; hlt (#GP at CPL 3). kernel: mov eax, 42; sysretq
    const s = system([0x0f, 0x05, 0xbb, 5, 0, 0, 0, 0xf4], 3, report);
    s.mem.writeBytes(entry, Uint8Array.of(0xb8, 42, 0, 0, 0, 0x48, 0x0f, 0x07));
    s.cpu.efer |= EFER.SCE;
    s.cpu.star = (BigInt(USER32_CS) << 48n) | (BigInt(KERNEL_CS) << 32n);
    s.cpu.lstar = BigInt(entry);
    s.cpu.sfmask = RFLAGS.IF | RFLAGS.TF | RFLAGS.DF;
    const userFlags = RFLAGS.FIXED1 | RFLAGS.IF | RFLAGS.DF | RFLAGS.CF;
    s.cpu.rflags = BigInt(userFlags);
    expect(s.cpu.run(1)).toEqual({ kind: 'budget' });
    expect(s.cpu.rip).toBe(BigInt(entry));
    expect(s.cpu.cpl).toBe(0);
    expect(s.cpu.cs).toBe(KERNEL_CS);
    expect(s.cpu.ss).toBe(KERNEL_SS);
    expect(s.cpu.getReg('rcx')).toBe(BigInt(USER_CODE + 2));
    expect(s.cpu.getReg('r11')).toBe(BigInt(userFlags));
    expect(Number(s.cpu.rflags)).toBe(RFLAGS.FIXED1 | RFLAGS.CF);
    expect(s.cpu.run(3)).toEqual({ kind: 'budget' });
    expect(s.cpu.cpl).toBe(3);
    expect(s.cpu.cs).toBe(USER_CS);
    expect(s.cpu.ss).toBe(USER_SS);
    expect(Number(s.cpu.rflags)).toBe(userFlags);
    expect(s.cpu.getReg('rax')).toBe(42n);
    expect(s.cpu.getReg('rbx')).toBe(5n);
    expect(s.cpu.run(10)).toEqual(GP0);
  });

  it('SYSCALL is #UD without EFER.SCE; SYSRETQ is #GP(0) for a non-canonical RCX', () => {
    expect(system([0x0f, 0x05], 3, report).cpu.run(10)).toMatchObject({ vector: Vector.UD });
    const s = system([0x48, 0x0f, 0x07], 0, report);
    s.cpu.efer |= EFER.SCE;
    s.cpu.setReg('rcx', 0x0000800000000000n);
    expect(s.cpu.run(10)).toEqual(GP0);
  });
});

describe('CPUID, RDTSC, RDTSCP', () => {
  it('returns the built-in leaves: max leaf, vendor, address sizes', () => {
    // cpuid(0); save; cpuid(0x80000008)
    const code = [
      0x31, 0xc0, 0x0f, 0xa2, 0x49, 0x89, 0xc0, 0x49, 0x89, 0xd9, 0xb8, 8, 0, 0, 0x80, 0x0f, 0xa2,
      0xf4,
    ];
    const s = system(code, 0, { ...report, maxPhyAddr: 40 });
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.getReg('r8')).toBe(7n);
    expect(
      Buffer.from(new Uint32Array([Number(s.cpu.getReg('r9'))]).buffer).toString('latin1'),
    ).toBe('Vmki');
    expect(s.cpu.getReg('rax')).toBe(BigInt(40 | (48 << 8)));
  });

  it('enumerates x2APIC, PCID and hypervisor in leaf 1 and a configurable leaf 0x40000000', () => {
    const s = system(
      [0xb8, 1, 0, 0, 0, 0x0f, 0xa2, 0x49, 0x89, 0xc8, 0xb8, 0, 0, 0, 0x40, 0x0f, 0xa2, 0xf4],
      0,
      {
        ...report,
        cpuid: (leaf) => (leaf === 0x4000_0000 ? [0x4000_0001, 1, 2, 3] : undefined),
      },
    );
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    const ecx1 = Number(s.cpu.getReg('r8'));
    expect(ecx1 & (1 << 21)).not.toBe(0);
    expect(ecx1 & (1 << 17)).not.toBe(0);
    expect(ecx1 >>> 31).toBe(1);
    expect([
      s.cpu.getReg('rax'),
      s.cpu.getReg('rbx'),
      s.cpu.getReg('rcx'),
      s.cpu.getReg('rdx'),
    ]).toEqual([0x4000_0001n, 1n, 2n, 3n]);
  });

  it('RDTSCP returns TSC_AUX in ECX; CR4.TSD makes RDTSC #GP(0) at CPL 3', () => {
    const s = system([0x0f, 0x01, 0xf9, 0xf4], 0, report);
    s.cpu.tscAux = 5;
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.getReg('rcx')).toBe(5n);
    const t = system([0x0f, 0x31], 3, report);
    t.cpu.cr4 |= CR4.TSD;
    expect(t.cpu.run(10)).toEqual(GP0);
  });
});

describe('TLB maintenance reaches the memory', () => {
  function recording(): { memory: CpuMemory; calls: unknown[][]; mem: GuestPhysicalMemory } {
    const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 1 << 20 }] });
    const flat = new FlatMemory(mem);
    const calls: unknown[][] = [];
    const memory: CpuMemory = {
      read8: (a, c) => flat.read8(a, c),
      read16: (a, c) => flat.read16(a, c),
      read32: (a, c) => flat.read32(a, c),
      write8: (a, v, c) => flat.write8(a, v, c),
      write16: (a, v, c) => flat.write16(a, v, c),
      write32: (a, v, c) => flat.write32(a, v, c),
      write64: (a, l, h, c) => flat.write64(a, l, h, c),
      fetch8: (a, c) => flat.fetch8(a, c),
      fetchPhysical: (a, c) => flat.fetchPhysical(a, c),
      translationEpoch: 0,
      watchCode: (w) => flat.watchCode(w),
      invlpg: (a) => {
        calls.push(['invlpg', a]);
      },
      invpcid: (t, p, a) => {
        calls.push(['invpcid', t, p, a]);
      },
      writePagingRegister: (r, v) => {
        calls.push([r, v]);
      },
    };
    return { memory, calls, mem };
  }

  it('INVLPG, INVPCID and MOV CR3 invalidate translations', () => {
    const r = recording();
    // invlpg [rsi]; invpcid rax, [rdi] (type 0, then 2); mov cr3, rbx; hlt
    r.mem.writeBytes(
      0x1000,
      Uint8Array.of(
        0x0f,
        0x01,
        0x3e,
        0x66,
        0x0f,
        0x38,
        0x82,
        0x07,
        0xb0,
        2,
        0x66,
        0x0f,
        0x38,
        0x82,
        0x07,
        0x0f,
        0x22,
        0xdb,
        0xf4,
      ),
    );
    r.mem.write32(0x8008, 0x5000);
    const cpu = new Cpu({ memory: r.memory });
    cpu.rip = 0x1000n;
    cpu.setReg('rsi', 0x7123n);
    cpu.setReg('rdi', 0x8000n);
    cpu.setReg('rbx', 0x9000n);
    expect(cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(r.calls).toEqual([
      ['invlpg', 0x7123],
      ['invpcid', 0, 0, 0x5000],
      ['invpcid', 2, 0, 0],
      ['cr3', 0x9000n],
    ]);
    cpu.setReg('rax', 4n);
    cpu.rip = 0x1003n;
    expect(cpu.run(1)).toEqual(GP0);
  });
});

describe('I/O permission bitmap (SDM Vol. 1 §19.5.2)', () => {
  // TSS limit 0x67 + 0x2000 bytes of bitmap + the trailing 0xff byte; map base 0x68.
  function withBitmap(code: number[]) {
    const s = system(code, 3, report);
    s.mem.write16(TSS + 0x66, 0x68);
    s.cpu.tr = { selector: TSS_SEL, base: BigInt(TSS), limit: 0x68 + 0x2000 };
    s.mem.write8(TSS + 0x68 + (0x3f8 >>> 3), 0xfe); // ports 0x3F9..0x3FF denied, 0x3F8 allowed
    return s;
  }

  it('allows a port whose bit is clear and refuses one whose bit is set, at CPL 3', () => {
    // mov dx, 0x3f8; out dx, al; mov dx, 0x3f9; out dx, al
    const s = withBitmap([0x66, 0xba, 0xf8, 0x03, 0xee, 0x66, 0xba, 0xf9, 0x03, 0xee]);
    expect(s.cpu.run(10)).toMatchObject({ kind: 'io', port: 0x3f8 });
    expect(s.cpu.run(10)).toEqual(GP0);
  });

  it('checks every byte of a wider access and the TSS limit', () => {
    // mov dx, 0x3f7; out dx, ax (0x3F7 allowed, 0x3F8 allowed): ok; out dx, eax (0x3F9..): #GP
    const s = withBitmap([0x66, 0xba, 0xf7, 0x03, 0x66, 0xef, 0xef]);
    expect(s.cpu.run(10)).toMatchObject({ kind: 'io', port: 0x3f7, size: 2 });
    expect(s.cpu.run(10)).toEqual(GP0);
    const t = withBitmap([0x66, 0xba, 0xf8, 0x03, 0xee]);
    t.cpu.tr = { selector: TSS_SEL, base: BigInt(TSS), limit: 0x68 + (0x3f8 >>> 3) };
    expect(t.cpu.run(10)).toEqual(GP0);
  });
});
