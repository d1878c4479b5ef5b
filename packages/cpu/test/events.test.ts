// Exceptions and interrupts through the 64-bit IDT, checked against the SDM Vol. 3A chapter 6
// rules (frame layout §6.14.2, stack switching §6.14.4-6.14.5, error codes §6.13, #DF and
// triple fault Table 6-5) on hand-built GDT/IDT/TSS structures.
import { RFLAGS, Vector } from '@vmkit/x86';
import { describe, expect, it } from 'vitest';
import {
  frame,
  handlerOf,
  IST1,
  KERNEL_CODE,
  KERNEL_CS,
  KERNEL_SS,
  RSP0,
  setGate,
  system,
  USER_CODE,
  USER_CS,
  USER_SS,
  USER_STACK,
} from './support/system.js';

const KSTACK = RSP0 - 0x1000;

describe('exception delivery', () => {
  it('delivers #DE at CPL 0 on the current stack with a five-word frame', () => {
    // xor ecx, ecx; div ecx
    const s = system([0x31, 0xc9, 0xf7, 0xf1]);
    s.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.IF | RFLAGS.CF);
    expect(s.cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.DE) + 1));
    expect(s.cpu.getReg('rsp')).toBe(BigInt(KSTACK - 40));
    // RIP of the faulting DIV, CS, RFLAGS (as before the DIV: XOR cleared CF), RSP, SS.
    const flags = BigInt(RFLAGS.FIXED1 | RFLAGS.IF | RFLAGS.ZF | RFLAGS.PF);
    expect(frame(s, 5)).toEqual([
      BigInt(KERNEL_CODE + 2),
      BigInt(KERNEL_CS),
      flags,
      BigInt(KSTACK),
      BigInt(KERNEL_SS),
    ]);
    // An interrupt gate clears IF.
    expect(s.cpu.rflags & BigInt(RFLAGS.IF)).toBe(0n);
    expect(s.cpu.cs).toBe(KERNEL_CS);
    expect(s.cpu.cpl).toBe(0);
  });

  it('keeps IF through a trap gate and aligns RSP down to 16 bytes', () => {
    const s = system([0x0f, 0x0b]); // ud2
    setGate(s.mem, Vector.UD, handlerOf(Vector.UD), { type: 0xf });
    s.cpu.setReg('rsp', BigInt(KSTACK - 8));
    s.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.IF | RFLAGS.TF);
    const stop = s.cpu.run(100);
    expect(stop).toEqual({ kind: 'hlt' });
    expect(s.cpu.getReg('rsp')).toBe(BigInt(KSTACK - 16 - 40));
    expect(frame(s, 5)[3]).toBe(BigInt(KSTACK - 8));
    // TF is cleared by delivery, IF is not (trap gate).
    expect(Number(s.cpu.rflags) & (RFLAGS.IF | RFLAGS.TF)).toBe(RFLAGS.IF);
  });

  it('switches to TSS.RSP0 on a fault at CPL 3 and pushes the error code', () => {
    const s = system([0x90, 0xf4], 3); // nop; hlt -> #GP(0) at CPL 3
    s.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.IF);
    expect(s.cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.GP) + 1));
    expect(s.cpu.getReg('rsp')).toBe(BigInt(RSP0 - 48));
    expect(frame(s, 6)).toEqual([
      0n,
      BigInt(USER_CODE + 1),
      BigInt(USER_CS),
      BigInt(RFLAGS.FIXED1 | RFLAGS.IF),
      BigInt(USER_STACK),
      BigInt(USER_SS),
    ]);
    expect(s.cpu.cpl).toBe(0);
    expect(s.cpu.cs).toBe(KERNEL_CS);
    expect(s.cpu.ss).toBe(0); // null selector, RPL = new CPL
  });

  it('uses the IST stack whenever the gate names one, even without a privilege change', () => {
    const s = system([0x0f, 0x0b]);
    setGate(s.mem, Vector.UD, handlerOf(Vector.UD), { ist: 1 });
    s.cpu.run(100);
    expect(s.cpu.getReg('rsp')).toBe(BigInt(IST1 - 40));
    expect(frame(s, 5)[3]).toBe(BigInt(KSTACK));
    expect(s.cpu.ss).toBe(KERNEL_SS); // unchanged: no privilege change
  });

  it('delivers #PF with its error code and sets CR2', () => {
    // mov eax, [0x200000] (beyond the 1 MiB of RAM)
    const s = system([0x8b, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00]);
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.PF) + 1));
    expect(s.cpu.cr2).toBe(0x200000n);
    expect(frame(s, 2)).toEqual([0n, BigInt(KERNEL_CODE)]);
  });

  it('lets an interceptor turn an exception into a stop (CR2 untouched)', () => {
    const seen: number[] = [];
    const s = system([0x8b, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00], 0, {
      interceptException: (v) => {
        seen.push(v);
        return v === Vector.PF;
      },
    });
    expect(s.cpu.run(10)).toEqual({
      kind: 'exception',
      vector: Vector.PF,
      errorCode: 0,
      address: 0x200000,
    });
    expect(seen).toEqual([Vector.PF]);
    expect(s.cpu.cr2).toBe(0n);
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE));
  });

  it('raises #NP(vector*8+2+EXT) for a not-present gate, delivered through vector 11', () => {
    const s = system([0x0f, 0x0b]);
    setGate(s.mem, Vector.UD, handlerOf(Vector.UD), { present: false });
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.NP) + 1));
    expect(frame(s, 2)).toEqual([BigInt(Vector.UD * 8 + 2 + 1), BigInt(KERNEL_CODE)]);
  });

  it('raises #GP for a gate that is not a 64-bit interrupt or trap gate', () => {
    const s = system([0x0f, 0x0b]);
    setGate(s.mem, Vector.UD, handlerOf(Vector.UD), { type: 0xc }); // call gate
    s.cpu.run(10);
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.GP) + 1));
    expect(frame(s, 1)).toEqual([BigInt(Vector.UD * 8 + 2 + 1)]);
  });

  it('raises #GP(selector+EXT) for a gate whose code segment is not 64-bit code', () => {
    const s = system([0x0f, 0x0b]);
    setGate(s.mem, Vector.UD, handlerOf(Vector.UD), { selector: KERNEL_SS });
    s.cpu.run(10);
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.GP) + 1));
    expect(frame(s, 1)).toEqual([BigInt(KERNEL_SS + 1)]);
  });
});

describe('double fault and triple fault (Table 6-5)', () => {
  it('turns a contributory fault during #GP delivery into #DF (error code 0)', () => {
    const s = system([0xf4], 3); // hlt at CPL 3: #GP
    setGate(s.mem, Vector.GP, handlerOf(Vector.GP), { present: false }); // -> #NP: contributory
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.DF) + 1));
    expect(frame(s, 3)).toEqual([0n, BigInt(USER_CODE), BigInt(USER_CS)]);
  });

  it('delivers a benign exception raised while delivering an interrupt serially', () => {
    const s = system([0x90, 0x90]);
    setGate(s.mem, 0x40, handlerOf(0x40), { present: false });
    s.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.IF);
    s.cpu.requestInterrupt(0x40);
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.NP) + 1));
    expect(frame(s, 2)).toEqual([BigInt(0x40 * 8 + 2 + 1), BigInt(KERNEL_CODE)]);
  });

  it('goes #GP -> #PF (serial) -> #PF (#DF) when the kernel stack is unmapped', () => {
    const s = system([0xf4], 3);
    s.mem.write32(0x5000 + 4, 0x300000); // TSS.RSP0 beyond RAM
    setGate(s.mem, Vector.DF, handlerOf(Vector.DF), { ist: 1 });
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.DF) + 1));
    expect(s.cpu.getReg('rsp')).toBe(BigInt(IST1 - 48));
    expect(s.cpu.cr2).toBe(0x300000n - 8n); // the first #PF was delivered far enough for CR2
  });

  it('stops with a triple fault when #DF cannot be delivered', () => {
    const s = system([0x0f, 0x0b]);
    s.cpu.idtr = { base: 0x3000n, limit: 0 };
    expect(s.cpu.run(10)).toEqual({ kind: 'triple-fault' });
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE));
  });
});

describe('INT n, INT3 and IRETQ', () => {
  it('INT n from CPL 3 through a DPL 3 gate pushes the next RIP; IRETQ returns to CPL 3', () => {
    // int 0x80; mov eax, 7; hlt(-> #GP)
    const s = system([0xcd, 0x80, 0xb8, 7, 0, 0, 0, 0xf4], 3);
    setGate(s.mem, 0x80, KERNEL_CODE + 0x800, { dpl: 3 });
    s.mem.writeBytes(KERNEL_CODE + 0x800, Uint8Array.from([0x48, 0xcf])); // iretq
    s.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.IF | RFLAGS.CF);
    expect(s.cpu.run(1)).toEqual({ kind: 'budget' });
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE + 0x800));
    expect(s.cpu.cpl).toBe(0);
    expect(frame(s, 5)).toEqual([
      BigInt(USER_CODE + 2),
      BigInt(USER_CS),
      BigInt(RFLAGS.FIXED1 | RFLAGS.IF | RFLAGS.CF),
      BigInt(USER_STACK),
      BigInt(USER_SS),
    ]);
    expect(s.cpu.run(2)).toEqual({ kind: 'budget' });
    expect(s.cpu.cpl).toBe(3);
    expect(s.cpu.cs).toBe(USER_CS);
    expect(s.cpu.ss).toBe(USER_SS);
    expect(s.cpu.getReg('rsp')).toBe(BigInt(USER_STACK));
    expect(s.cpu.rflags).toBe(BigInt(RFLAGS.FIXED1 | RFLAGS.IF | RFLAGS.CF));
    expect(s.cpu.getReg('rax')).toBe(7n);
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' }); // HLT at CPL 3 -> #GP handler
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.GP) + 1));
  });

  it('INT n through a gate with DPL < CPL raises #GP(vector*8+2) at the INT', () => {
    const s = system([0x90, 0xcd, 0x81], 3);
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.GP) + 1));
    expect(frame(s, 2)).toEqual([BigInt(0x81 * 8 + 2), BigInt(USER_CODE + 1)]);
  });

  it('INT3 is #BP with RIP after it; reported as a stop without IDT delivery', () => {
    const s = system([0x90, 0xcc]);
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(frame(s, 1)).toEqual([BigInt(KERNEL_CODE + 2)]);
    const r = system([0x90, 0xcc], 0, { exceptionDelivery: 'report' });
    expect(r.cpu.run(10)).toEqual({
      kind: 'exception',
      vector: Vector.BP,
      errorCode: undefined,
      address: undefined,
    });
    expect(r.cpu.rip).toBe(BigInt(KERNEL_CODE + 2));
  });

  it('IRETQ refuses a return to a more privileged level and a non-canonical RIP', () => {
    // Build the frame with pushes at CPL 3: ss, rsp, rflags, cs = kernel, rip; iretq.
    const code = [0x6a, 0x23, 0x54, 0x9c, 0x6a, 0x08, 0x6a, 0x00, 0x48, 0xcf];
    const s = system(code, 3);
    expect(s.cpu.run(20)).toEqual({ kind: 'hlt' });
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.GP) + 1));
    expect(frame(s, 2)).toEqual([BigInt(KERNEL_CS), BigInt(USER_CODE + 8)]);
    // Same privilege, RIP 2^47: #GP(0).
    const k = system([
      0x6a, 0x10, 0x54, 0x9c, 0x6a, 0x08, 0x48, 0xb8, 0, 0, 0, 0, 0, 0x80, 0, 0, 0x50, 0x48, 0xcf,
    ]);
    expect(k.cpu.run(20)).toEqual({ kind: 'hlt' });
    expect(k.cpu.rip).toBe(BigInt(handlerOf(Vector.GP) + 1));
    expect(frame(k, 1)).toEqual([0n]);
  });
});

describe('external interrupts, CLI/STI', () => {
  it('waits for IF, honours the STI shadow, then pushes the RIP of the next instruction', () => {
    // cli; nop; sti; mov eax, 1; mov ebx, 2; hlt
    const code = [0xfa, 0x90, 0xfb, 0xb8, 1, 0, 0, 0, 0xbb, 2, 0, 0, 0, 0xf4];
    const s = system(code);
    s.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.IF);
    expect(s.cpu.run(1)).toEqual({ kind: 'budget' }); // cli
    s.cpu.requestInterrupt(0x30);
    expect(s.cpu.run(2)).toEqual({ kind: 'budget' }); // nop; sti
    expect(s.cpu.pendingInterrupt).toBe(0x30);
    expect(s.cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(s.cpu.rip).toBe(BigInt(handlerOf(0x30) + 1));
    // The MOV after STI ran; the interrupt came before the second MOV.
    expect(s.cpu.getReg('rax')).toBe(1n);
    expect(s.cpu.getReg('rbx')).toBe(0n);
    expect(frame(s, 1)).toEqual([BigInt(KERNEL_CODE + 8)]);
    expect(s.cpu.pendingInterrupt).toBe(undefined);
  });

  it('delivers a pending interrupt at the first boundary when IF = 1', () => {
    const s = system([0x90, 0xf4]);
    s.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.IF);
    s.cpu.requestInterrupt(0xfe);
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.rip).toBe(BigInt(handlerOf(0xfe) + 1));
    expect(frame(s, 1)).toEqual([BigInt(KERNEL_CODE)]);
  });

  it('CLI and STI raise #GP(0) when CPL > IOPL, and work when IOPL = 3', () => {
    const s = system([0xfa], 3);
    s.cpu.run(10);
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.GP) + 1));
    const t = system([0xfa, 0xf4], 3);
    t.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.IF | RFLAGS.IOPL);
    t.cpu.run(10);
    expect(Number(frame(t, 4)[3]) & RFLAGS.IF).toBe(0);
  });

  it('rejects bad interrupt requests', () => {
    const s = system([0x90]);
    expect(() => s.cpu.requestInterrupt(3)).toThrow(/vector/);
    s.cpu.requestInterrupt(0x20);
    expect(() => s.cpu.requestInterrupt(0x21)).toThrow(/pending/);
  });
});

describe('injection and the interrupt window', () => {
  it('injectException delivers at the current RIP without consulting the interceptor', () => {
    const seen: number[] = [];
    const s = system([0x90], 0, {
      interceptException: (v) => {
        seen.push(v);
        return true;
      },
    });
    expect(s.cpu.injectException(Vector.PF, PFEC_W, 0x1234)).toBe(undefined);
    expect(seen).toEqual([]);
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.PF)));
    expect(s.cpu.cr2).toBe(0x1234n);
    expect(frame(s, 2)).toEqual([BigInt(PFEC_W), BigInt(KERNEL_CODE)]);
    expect(() => s.cpu.injectException(32)).toThrow(/vector/);
  });

  it('injecting through a broken IDT follows the double-fault rules', () => {
    const s = system([0x90]);
    s.cpu.idtr = { base: 0x3000n, limit: 0 };
    expect(s.cpu.injectException(Vector.GP, 0)).toEqual({ kind: 'triple-fault' });
  });

  it('interruptible reflects IF and the STI shadow', () => {
    const s = system([0xfb, 0x90, 0xf4]);
    expect(s.cpu.interruptible).toBe(false);
    s.cpu.run(1);
    expect(s.cpu.interruptible).toBe(false); // shadow after STI
    s.cpu.run(1);
    expect(s.cpu.interruptible).toBe(true);
  });
});

const PFEC_W = 2;

describe('MOV SS', () => {
  it('loads SS and blocks interrupts until the next instruction completes', () => {
    // mov eax, 0x10; mov ss, ax; mov ebx, 1; mov ecx, 2; hlt
    const s = system([0xb8, 0x10, 0, 0, 0, 0x8e, 0xd0, 0xbb, 1, 0, 0, 0, 0xb9, 2, 0, 0, 0, 0xf4]);
    s.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.IF);
    s.cpu.ss = 0;
    expect(s.cpu.run(2)).toEqual({ kind: 'budget' }); // mov eax; mov ss
    expect(s.cpu.interruptible).toBe(false);
    s.cpu.requestInterrupt(0x40);
    expect(s.cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(s.cpu.ss).toBe(KERNEL_SS);
    expect(s.cpu.rip).toBe(BigInt(handlerOf(0x40) + 1));
    // The interrupt came after MOV SS and the MOV that followed it.
    expect(s.cpu.getReg('rbx')).toBe(1n);
    expect(s.cpu.getReg('rcx')).toBe(0n);
  });

  it('checks RPL, DPL and type: #GP(selector), and a null SS at CPL 3', () => {
    const code = (sel: number) => [0xb8, sel, 0, 0, 0, 0x8e, 0xd0];
    const gp = (errorCode: number) => ({
      ...{ kind: 'exception', vector: Vector.GP, address: undefined },
      errorCode,
    });
    const report = { exceptionDelivery: 'report' } as const;
    expect(system(code(0x13), 0, report).cpu.run(10)).toEqual(gp(0x10)); // RPL 3 at CPL 0
    expect(system(code(0x08), 0, report).cpu.run(10)).toEqual(gp(0x08)); // code segment
    expect(system(code(0x20), 0, report).cpu.run(10)).toEqual(gp(0x20)); // DPL 3 data at CPL 0
    expect(system(code(0x00), 3, report).cpu.run(10)).toEqual(gp(0));
    expect(system(code(0x23), 3, report).cpu.run(2)).toEqual({ kind: 'budget' });
  });
});
