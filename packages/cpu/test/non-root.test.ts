// VMX non-root operation: each exit of SDM Vol. 3C §26.1-26.2 firing and not firing, with the
// exact VM-exit information of §28.2, and VM-entry event injection (§27.6). The expected
// qualification and interruption-information values are written out from the SDM's tables
// (28-3 CR access, 28-5 I/O, §25.9.2 interruption information), not computed by vmkit code.
import { GuestPhysicalMemory } from '@vmkit/memory';
import {
  InterruptionType,
  IoBitmaps,
  MsrBitmap,
  PinBasedControls as Pin,
  PrimaryProcessorControls as Primary,
} from '@vmkit/vmx';
import { MSR, RFLAGS, Vector } from '@vmkit/x86';
import { describe, expect, it } from 'vitest';
import { Cpu, CpuError, FlatMemory } from '../src/index.js';
import { frame, handlerOf, KERNEL_CODE, KERNEL_CS, RSP0, system } from './support/system.js';
import { exitStop, NONE } from './support/vmx.js';

const KSTACK = RSP0 - 0x1000;
const HANDLER_STOP = { kind: 'hlt' } as const;

describe('unconditional exits (SDM Vol. 3C §26.1.2)', () => {
  it('CPUID exits with reason 10, RIP at the instruction, nothing retired or written', () => {
    const s = system([0x0f, 0xa2, 0xf4]); // cpuid; hlt
    s.cpu.setReg('rax', 0n);
    s.cpu.vmEntry(NONE);
    expect(s.cpu.run(100)).toEqual(exitStop({ exitReason: 10, instructionLength: 2 }));
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE));
    expect(s.cpu.getReg('rax')).toBe(0n);
    expect(s.cpu.getReg('rbx')).toBe(0n);
    expect(s.cpu.instructions).toBe(0);
  });

  it('CPUID executes in root mode', () => {
    const s = system([0x0f, 0xa2, 0xf4]);
    expect(s.cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(s.cpu.getReg('rax')).toBe(7n);
  });

  it('VMCALL exits with reason 18 and length 3; outside VMX operation it is #UD', () => {
    const s = system([0x0f, 0x01, 0xc1]);
    s.cpu.vmEntry(NONE);
    expect(s.cpu.run(100)).toEqual(exitStop({ exitReason: 18, instructionLength: 3 }));
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE));
    s.cpu.leaveNonRoot();
    expect(s.cpu.vmxControls).toBeUndefined();
    expect(s.cpu.run(100)).toEqual(HANDLER_STOP);
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.UD) + 1));
  });

  it('resumes after the VMM emulates the exiting instruction and advances RIP', () => {
    const s = system([0x0f, 0xa2, 0x48, 0xff, 0xc0, 0xf4]); // cpuid; inc rax; hlt
    s.cpu.vmEntry(NONE);
    const stop = s.cpu.run(100);
    if (stop.kind !== 'vm-exit') throw new Error('expected a VM exit');
    s.cpu.setReg('rax', 41n);
    s.cpu.rip += BigInt(stop.info.instructionLength);
    expect(s.cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(s.cpu.getReg('rax')).toBe(42n);
    expect(s.cpu.vmxControls).toBe(NONE);
  });
});

describe('HLT exiting (SDM Vol. 3C §26.1.3)', () => {
  it('exits with reason 12 when the control is 1', () => {
    const s = system([0xf4]);
    s.cpu.vmEntry({ ...NONE, primary: Primary.HLT_EXITING });
    expect(s.cpu.run(10)).toEqual(exitStop({ exitReason: 12, instructionLength: 1 }));
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE));
  });

  it('keeps the root-mode hlt stop when the control is 0', () => {
    const s = system([0xf4]);
    s.cpu.vmEntry(NONE);
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE + 1));
  });
});

describe('I/O exits (SDM Vol. 3C §26.1.3, qualification Table 28-5)', () => {
  // out dx, al with DX = 0x3f8; in eax, 0x60
  const OUT_DX = [0xee];
  const IN_IMM = [0xe5, 0x60];

  it('unconditional I/O exiting: OUT DX, AL exits with size 0, OUT, DX encoding, port', () => {
    const s = system(OUT_DX);
    s.cpu.setReg('rdx', 0x3f8n);
    s.cpu.vmEntry({ ...NONE, primary: Primary.UNCONDITIONAL_IO_EXITING });
    expect(s.cpu.run(10)).toEqual(
      exitStop({ exitReason: 30, exitQualification: 0x03f8_0000n, instructionLength: 1 }),
    );
  });

  it('unconditional I/O exiting: IN EAX, imm8 has size 3, direction IN, immediate', () => {
    const s = system(IN_IMM);
    s.cpu.vmEntry({ ...NONE, primary: Primary.UNCONDITIONAL_IO_EXITING });
    // bits 2:0 = 3 (4 bytes), bit 3 = 1 (IN), bit 6 = 1 (immediate), bits 31:16 = 0x60
    expect(s.cpu.run(10)).toEqual(
      exitStop({ exitReason: 30, exitQualification: 0x0060_004bn, instructionLength: 2 }),
    );
  });

  it('without I/O exiting, I/O keeps the root-mode io stop', () => {
    const s = system(IN_IMM);
    s.cpu.vmEntry(NONE);
    expect(s.cpu.run(10)).toEqual({ kind: 'io', direction: 'in', port: 0x60, size: 4 });
  });

  it('I/O bitmaps: a trapped port exits, a clear one does not, and the bitmaps win', () => {
    const io = new IoBitmaps();
    io.trap(0x3f8);
    const controls = {
      ...NONE,
      primary: Primary.USE_IO_BITMAPS | Primary.UNCONDITIONAL_IO_EXITING,
      ioBitmaps: io,
    };
    const s = system(OUT_DX);
    s.cpu.setReg('rdx', 0x3f8n);
    s.cpu.vmEntry(controls);
    expect(s.cpu.run(10)).toMatchObject({ kind: 'vm-exit', info: { exitReason: 30 } });
    const t = system(OUT_DX);
    t.cpu.setReg('rdx', 0x3f9n);
    t.cpu.setReg('rax', 0x41n);
    t.cpu.vmEntry(controls);
    expect(t.cpu.run(10)).toEqual({
      kind: 'io',
      direction: 'out',
      port: 0x3f9,
      size: 1,
      value: 0x41,
    });
  });

  it('the IOPL/TSS permission #GP comes before the exit (SDM Vol. 3C §26.1.1)', () => {
    const s = system(OUT_DX, 3);
    s.cpu.setReg('rdx', 0x3f8n); // past the TSS limit: the permission check raises #GP(0)
    s.cpu.vmEntry({ ...NONE, primary: Primary.UNCONDITIONAL_IO_EXITING });
    expect(s.cpu.run(10)).toEqual(HANDLER_STOP);
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.GP) + 1));
  });
});

describe('RDMSR/WRMSR exits (SDM Vol. 3C §26.1.3)', () => {
  const RDMSR = [0x0f, 0x32, 0xf4];
  const WRMSR = [0x0f, 0x30, 0xf4];

  it('without "use MSR bitmaps" every RDMSR and WRMSR exits (31, 32)', () => {
    const s = system(RDMSR);
    s.cpu.setReg('rcx', BigInt(MSR.IA32_EFER));
    s.cpu.vmEntry(NONE);
    expect(s.cpu.run(10)).toEqual(exitStop({ exitReason: 31, instructionLength: 2 }));
    const t = system(WRMSR);
    t.cpu.setReg('rcx', BigInt(MSR.IA32_STAR));
    t.cpu.vmEntry(NONE);
    expect(t.cpu.run(10)).toEqual(exitStop({ exitReason: 32, instructionLength: 2 }));
    expect(t.cpu.star).toBe(0n);
  });

  it('with the bitmap, a clear bit executes and a set bit exits', () => {
    const msrs = new MsrBitmap();
    msrs.intercept(MSR.IA32_STAR, 'write');
    const controls = { ...NONE, primary: Primary.USE_MSR_BITMAPS, msrBitmap: msrs };
    const s = system(RDMSR);
    s.cpu.setReg('rcx', BigInt(MSR.IA32_EFER));
    s.cpu.vmEntry(controls);
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.getReg('rax')).toBe(BigInt(s.cpu.efer));
    const t = system(WRMSR);
    t.cpu.setReg('rcx', BigInt(MSR.IA32_STAR));
    t.cpu.vmEntry(controls);
    expect(t.cpu.run(10)).toEqual(exitStop({ exitReason: 32, instructionLength: 2 }));
    const u = system(RDMSR);
    u.cpu.setReg('rcx', BigInt(MSR.IA32_STAR)); // reads of STAR pass through
    u.cpu.vmEntry(controls);
    expect(u.cpu.run(10)).toEqual({ kind: 'hlt' });
  });

  it('an MSR outside both bitmap ranges always exits', () => {
    const s = system(RDMSR);
    s.cpu.setReg('rcx', 0x4000_0000n);
    s.cpu.vmEntry({ ...NONE, primary: Primary.USE_MSR_BITMAPS, msrBitmap: new MsrBitmap() });
    expect(s.cpu.run(10)).toEqual(exitStop({ exitReason: 31, instructionLength: 2 }));
  });

  it('the CPL #GP comes before the exit', () => {
    const s = system(RDMSR, 3);
    s.cpu.vmEntry(NONE);
    expect(s.cpu.run(10)).toEqual(HANDLER_STOP);
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.GP) + 1));
  });
});

describe('the exception bitmap (SDM Vol. 3C §26.2, §25.9.2)', () => {
  it('#UD with its bit set exits with hardware-exception information, RIP at UD2', () => {
    const s = system([0x0f, 0x0b]);
    s.cpu.vmEntry({ ...NONE, exceptionBitmap: 1 << Vector.UD });
    // valid (31), type 3 (10:8), no error code, vector 6
    expect(s.cpu.run(10)).toEqual(exitStop({ exitReason: 0, interruptionInfo: 0x8000_0306 }));
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE));
  });

  it('#UD with its bit clear is delivered through the guest IDT', () => {
    const s = system([0x0f, 0x0b]);
    s.cpu.vmEntry({ ...NONE, exceptionBitmap: ~((1 << Vector.UD) | (1 << Vector.PF)) >>> 0 });
    expect(s.cpu.run(10)).toEqual(HANDLER_STOP);
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.UD) + 1));
  });

  it('#GP carries its error code (bit 11 set) and leaves RFLAGS as before the fault', () => {
    // mov ax, 0x18; mov ss, ax: a code selector in SS is #GP(0x18)
    const s = system([0x66, 0xb8, 0x18, 0x00, 0x8e, 0xd0]);
    s.cpu.vmEntry({ ...NONE, exceptionBitmap: 1 << Vector.GP });
    expect(s.cpu.run(10)).toEqual(
      exitStop({ exitReason: 0, interruptionInfo: 0x8000_0b0d, interruptionErrorCode: 0x18 }),
    );
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE + 4));
  });

  it('#PF exits by PFEC mask/match, with the address as qualification and CR2 unwritten', () => {
    // mov eax, [0x200000]: not present in the 1 MiB flat memory (error code 0)
    const load = [0x8b, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00];
    const pf = 1 << Vector.PF;
    const run = (bitmap: number, mask: number, match: number) => {
      const s = system(load);
      s.cpu.vmEntry({
        ...NONE,
        exceptionBitmap: bitmap,
        pageFaultErrorCodeMask: mask,
        pageFaultErrorCodeMatch: match,
      });
      return { stop: s.cpu.run(10), cpu: s.cpu };
    };
    const exit = exitStop({
      exitReason: 0,
      exitQualification: 0x200000n,
      interruptionInfo: 0x8000_0b0e,
      interruptionErrorCode: 0,
    });
    // bit 14 = 1, mask = match = 0: every #PF exits
    const a = run(pf, 0, 0);
    expect(a.stop).toEqual(exit);
    expect(a.cpu.cr2).toBe(0n);
    // bit 14 = 1, but (PFEC & P) = 0 != match 1: no exit, delivered (CR2 written)
    const b = run(pf, 1, 1);
    expect(b.stop).toEqual(HANDLER_STOP);
    expect(b.cpu.cr2).toBe(0x200000n);
    // bit 14 = 0 and a mismatch: exits (the inverted sense)
    expect(run(0, 1, 1).stop).toEqual(exit);
    // bit 14 = 0 and a match: no exit
    expect(run(0, 0, 0).stop).toEqual(HANDLER_STOP);
  });

  it('INT3 exits as a software exception (type 6) with its length; INT n never exits', () => {
    const s = system([0xcc]);
    s.cpu.vmEntry({ ...NONE, exceptionBitmap: 1 << Vector.BP });
    expect(s.cpu.run(10)).toEqual(
      exitStop({ exitReason: 0, interruptionInfo: 0x8000_0603, instructionLength: 1 }),
    );
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE));
    const t = system([0xcd, 0x03]); // int 3 (the two-byte form is INT n)
    t.cpu.vmEntry({ ...NONE, exceptionBitmap: 0xffff_ffff });
    expect(t.cpu.run(10)).toEqual(HANDLER_STOP);
    expect(t.cpu.rip).toBe(BigInt(handlerOf(Vector.BP) + 1));
  });

  it('an exception raised while delivering an event reports that event (IDT-vectoring)', () => {
    const s = system([0x0f, 0x0b]);
    // The #UD gate lies past the IDT limit: its delivery raises #GP(6 * 8 + 2 + EXT).
    s.cpu.idtr = { base: s.cpu.idtr.base, limit: 6 * 16 - 1 };
    s.cpu.vmEntry({ ...NONE, exceptionBitmap: 1 << Vector.GP });
    expect(s.cpu.run(10)).toEqual(
      exitStop({
        exitReason: 0,
        interruptionInfo: 0x8000_0b0d,
        interruptionErrorCode: 6 * 8 + 3,
        idtVectoringInfo: 0x8000_0306,
      }),
    );
  });

  // MOV CR4, RAX with RAX bit 63 set: #GP(0) (reserved bit, SDM Vol. 3A §2.5); the #GP gate is
  // not present, so delivering it raises #NP(13 * 8 + 2 + EXT) (SDM Vol. 3A §6.12.1.1): in root
  // mode a contributory exception during a contributory one, hence #DF (Table 6-5).
  function nestedGp() {
    const s = system([0x0f, 0x22, 0xe0]);
    s.cpu.setReg('rax', 1n << 63n);
    const gateHigh = Number(s.cpu.idtr.base) + Vector.GP * 16 + 4;
    s.mem.write32(gateHigh, s.mem.read32(gateHigh) & ~0x8000); // P (bit 47) clear
    return s;
  }

  it('the exception a delivery raises is checked against the bitmap before it becomes #DF', () => {
    // SDM Vol. 3C §26.2, §31.7.1.2: the #NP exits; the #GP being delivered is the
    // IDT-vectoring information, and merging the two into #DF is left to the VMM.
    const s = nestedGp();
    s.cpu.vmEntry({ ...NONE, exceptionBitmap: 1 << Vector.NP });
    expect(s.cpu.run(10)).toEqual(
      exitStop({
        exitReason: 0,
        interruptionInfo: 0x8000_0b0b,
        interruptionErrorCode: Vector.GP * 8 + 3,
        idtVectoringInfo: 0x8000_0b0d,
        idtVectoringErrorCode: 0,
      }),
    );
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE));
  });

  it('a #DF that exits directly carries no IDT-vectoring information', () => {
    // §28.2.3: "the original event results in a double-fault exception that causes the VM
    // exit directly" is not a VM exit during event delivery.
    const s = nestedGp();
    s.cpu.vmEntry({ ...NONE, exceptionBitmap: 1 << Vector.DF });
    expect(s.cpu.run(10)).toEqual(
      exitStop({ exitReason: 0, interruptionInfo: 0x8000_0b08, interruptionErrorCode: 0 }),
    );
    const t = nestedGp();
    t.cpu.vmEntry(NONE);
    expect(t.cpu.run(10)).toEqual(HANDLER_STOP);
    expect(t.cpu.rip).toBe(BigInt(handlerOf(Vector.DF) + 1));
  });

  it('a fault while delivering INT n or INT3 reports it with its type and length', () => {
    const s = system([0xcd, 0x40]); // int 0x40, its gate past the IDT limit
    s.cpu.idtr = { base: s.cpu.idtr.base, limit: 0x40 * 16 - 1 };
    s.cpu.vmEntry({ ...NONE, exceptionBitmap: 1 << Vector.GP });
    // #GP(0x40 * 8 + 2): IDT bit set, EXT clear for a software interrupt (SDM Vol. 3A §6.13)
    expect(s.cpu.run(10)).toEqual(
      exitStop({
        exitReason: 0,
        interruptionInfo: 0x8000_0b0d,
        interruptionErrorCode: 0x40 * 8 + 2,
        idtVectoringInfo: 0x8000_0440,
        instructionLength: 2,
      }),
    );
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE));
    const t = system([0xcc]);
    t.cpu.idtr = { base: t.cpu.idtr.base, limit: 3 * 16 - 1 };
    t.cpu.vmEntry({ ...NONE, exceptionBitmap: 1 << Vector.GP });
    expect(t.cpu.run(10)).toEqual(
      exitStop({
        exitReason: 0,
        interruptionInfo: 0x8000_0b0d,
        interruptionErrorCode: 3 * 8 + 2,
        idtVectoringInfo: 0x8000_0603,
        instructionLength: 1,
      }),
    );
  });

  it('an injected software interrupt whose delivery exits reports its length', () => {
    const s = system([0x90]);
    s.cpu.idtr = { base: s.cpu.idtr.base, limit: 0x80 * 16 - 1 };
    const stop = s.cpu.vmEntry(
      { ...NONE, exceptionBitmap: 1 << Vector.GP },
      { type: InterruptionType.SOFTWARE_INTERRUPT, vector: 0x80, instructionLength: 2 },
    );
    expect(stop).toEqual(
      exitStop({
        exitReason: 0,
        interruptionInfo: 0x8000_0b0d,
        interruptionErrorCode: 0x80 * 8 + 2,
        idtVectoringInfo: 0x8000_0480,
        instructionLength: 2,
      }),
    );
  });

  it('a single-step #DB exits as a trap with BS (bit 14) in the qualification', () => {
    const s = system([0x90, 0x90]);
    s.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.TF);
    s.cpu.vmEntry({ ...NONE, exceptionBitmap: 1 << Vector.DB });
    expect(s.cpu.run(10)).toEqual(
      exitStop({ exitReason: 0, exitQualification: 0x4000n, interruptionInfo: 0x8000_0301 }),
    );
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE + 1));
    const t = system([0x90, 0x90]);
    t.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.TF);
    t.cpu.vmEntry(NONE);
    expect(t.cpu.run(10)).toEqual(HANDLER_STOP);
    expect(t.cpu.rip).toBe(BigInt(handlerOf(Vector.DB) + 1));
  });

  it('a triple fault exits with reason 2', () => {
    const s = system([0x0f, 0x0b]);
    s.cpu.idtr = { base: s.cpu.idtr.base, limit: 0 };
    s.cpu.vmEntry(NONE);
    expect(s.cpu.run(10)).toEqual(exitStop({ exitReason: 2 }));
    s.cpu.leaveNonRoot();
    expect(s.cpu.run(10)).toEqual({ kind: 'triple-fault' });
  });
});

describe('VM-entry event injection (SDM Vol. 3C §27.6)', () => {
  it('injects a hardware exception with its error code before any instruction', () => {
    const s = system([0x90]);
    s.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.IF);
    const stop = s.cpu.vmEntry(NONE, {
      type: InterruptionType.HARDWARE_EXCEPTION,
      vector: Vector.GP,
      errorCode: 0x1234,
    });
    expect(stop).toBeUndefined();
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.GP)));
    // error code, RIP (the interrupted instruction), CS, RFLAGS, RSP, SS
    expect(frame(s, 4)).toEqual([
      0x1234n,
      BigInt(KERNEL_CODE),
      BigInt(KERNEL_CS),
      BigInt(RFLAGS.FIXED1 | RFLAGS.IF),
    ]);
    expect(s.cpu.getReg('rsp')).toBe(BigInt(KSTACK - 48));
    expect(s.cpu.run(10)).toEqual(HANDLER_STOP);
  });

  it('injects an external interrupt whatever RFLAGS.IF says; the gate clears IF', () => {
    const s = system([0x90]);
    s.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.IF);
    expect(
      s.cpu.vmEntry(NONE, { type: InterruptionType.EXTERNAL_INTERRUPT, vector: 0x40 }),
    ).toBeUndefined();
    expect(s.cpu.rip).toBe(BigInt(handlerOf(0x40)));
    expect(frame(s, 1)).toEqual([BigInt(KERNEL_CODE)]);
    expect(s.cpu.rflags & BigInt(RFLAGS.IF)).toBe(0n);
  });

  it('a software interrupt pushes RIP plus the VM-entry instruction length', () => {
    const s = system([0xcd, 0x80]);
    s.cpu.vmEntry(NONE, {
      type: InterruptionType.SOFTWARE_INTERRUPT,
      vector: 0x80,
      instructionLength: 2,
    });
    expect(frame(s, 1)).toEqual([BigInt(KERNEL_CODE + 2)]);
  });

  it('returns the exit when delivering the injected event exits', () => {
    const s = system([0x90]);
    s.cpu.idtr = { base: s.cpu.idtr.base, limit: 0x40 * 16 - 1 };
    const stop = s.cpu.vmEntry(
      { ...NONE, exceptionBitmap: 1 << Vector.GP },
      { type: InterruptionType.EXTERNAL_INTERRUPT, vector: 0x40 },
    );
    expect(stop).toEqual(
      exitStop({
        exitReason: 0,
        interruptionInfo: 0x8000_0b0d,
        interruptionErrorCode: 0x40 * 8 + 3,
        idtVectoringInfo: 0x8000_0040,
      }),
    );
  });

  it('refuses malformed injections and controls', () => {
    const s = system([0x90]);
    const bad = (f: () => unknown) => expect(f).toThrow(CpuError);
    bad(() => s.cpu.vmEntry(NONE, { type: InterruptionType.NMI, vector: 3 }));
    bad(() => s.cpu.vmEntry(NONE, { type: InterruptionType.HARDWARE_EXCEPTION, vector: 32 }));
    bad(() => s.cpu.vmEntry(NONE, { type: InterruptionType.SOFTWARE_INTERRUPT, vector: 0x80 }));
    bad(() => s.cpu.vmEntry(NONE, { type: 1, vector: 0x20 }));
    bad(() =>
      s.cpu.vmEntry(NONE, { type: InterruptionType.EXTERNAL_INTERRUPT, vector: 32, errorCode: 0 }),
    );
    bad(() => s.cpu.vmEntry({ ...NONE, primary: Primary.USE_IO_BITMAPS }));
    bad(() => s.cpu.vmEntry({ ...NONE, primary: Primary.USE_MSR_BITMAPS }));
    bad(() => s.cpu.vmEntry({ ...NONE, exceptionBitmap: 2 ** 32 }));
    bad(() => s.cpu.vmEntry({ ...NONE, primary: 0.5 }));
    bad(() => s.cpu.vmEntry({ ...NONE, cr3Targets: [1n, 2n, 3n, 4n, 5n] }));
    expect(s.cpu.vmxControls).toBeUndefined();
  });
});

describe('root mode is unchanged', () => {
  it('a one-block loop stops exactly at the budget when it divides the passes', () => {
    // loop: pause; jmp loop (a block that branches to itself)
    for (const budget of [1, 2, 3, 4, 10]) {
      const s = system([0xf3, 0x90, 0xeb, 0xfc]);
      expect(s.cpu.run(budget)).toEqual({ kind: 'budget' });
      expect(s.cpu.instructions).toBe(budget);
      expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE + (budget % 2 === 0 ? 0 : 2)));
    }
  });

  it('a CPU never entered has no controls and runs CPUID natively', () => {
    const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 0x10000 }] });
    mem.writeBytes(0x1000, Uint8Array.from([0x0f, 0xa2, 0xf4]));
    const cpu = new Cpu({ memory: new FlatMemory(mem) });
    cpu.rip = 0x1000n;
    expect(cpu.vmxControls).toBeUndefined();
    expect(cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(Pin.EXTERNAL_INTERRUPT_EXITING).toBe(1);
  });
});
