// INS and OUTS (SDM Vol. 2 "INS/INSB/INSW/INSD", "OUTS/OUTSB/OUTSW/OUTSD", "REP/REPE/REPZ/..."):
// root mode stops `run` once per element with an `io` stop; in VMX non-root operation the
// instruction exits with the exit information of SDM Vol. 3C §28.2.1 (Table 28-5 qualification,
// guest-linear address) and §28.2.5 (Table 28-8 instruction information). The expected
// qualification and instruction-information values below are assembled by hand from the bit
// positions those tables give, not with @vmkit/vmx's encoders.
import { PrimaryProcessorControls } from '@vmkit/vmx';
import { PTE } from '@vmkit/x86';
import { describe, expect, it } from 'vitest';
import type { Cpu, StopReason } from '../src/index.js';
import { machine } from './support/machine.js';
import { paged, pteOf } from './support/paged.js';
import { handlerOf } from './support/system.js';
import { exitStop, NONE } from './support/vmx.js';

const BUF = 0x2000;
const DF = 1n << 10n;
const IO_EXITING: typeof NONE = {
  ...NONE,
  primary: PrimaryProcessorControls.UNCONDITIONAL_IO_EXITING,
};

/** Runs until the CPU stops for something other than I/O, serving `in` with `next()`. */
function drain(cpu: Cpu, next: () => number, budget = 1000): { log: string[]; stop: StopReason } {
  const log: string[] = [];
  for (;;) {
    const stop = cpu.run(budget);
    if (stop.kind !== 'io') return { log, stop };
    if (stop.direction === 'out')
      log.push(`out${stop.size}@${stop.port.toString(16)}=${stop.value!.toString(16)}`);
    else {
      const v = next();
      log.push(`in${stop.size}@${stop.port.toString(16)}=${v.toString(16)}`);
      const s = cpu.completeIn(v);
      if (s !== undefined) return { log, stop: s };
    }
  }
}

describe('INS/OUTS in root mode', () => {
  it('rep outsb: one io stop per element, RSI and RCX move, RIP stays until the last', () => {
    // rep outsb ; hlt
    const { cpu, mem } = machine([0xf3, 0x6e, 0xf4]);
    mem.writeBytes(BUF, Uint8Array.from([0x11, 0x22, 0x33]));
    cpu.setReg('rsi', BigInt(BUF));
    cpu.setReg('rcx', 3n);
    cpu.setReg('rdx', 0x3f8n);
    expect(cpu.run(100)).toEqual({
      kind: 'io',
      direction: 'out',
      port: 0x3f8,
      size: 1,
      value: 0x11,
    });
    expect(cpu.rip).toBe(0x1000n);
    expect([cpu.getReg('rsi'), cpu.getReg('rcx')]).toEqual([BigInt(BUF + 1), 2n]);
    const { log, stop } = drain(cpu, () => 0);
    expect(log).toEqual(['out1@3f8=22', 'out1@3f8=33']);
    expect(stop.kind).toBe('hlt');
    expect(cpu.getReg('rcx')).toBe(0n);
    // Three elements count as three instructions, then HLT, and the retired classes agree.
    expect(cpu.instructions).toBe(4);
    expect(Object.values(cpu.retiredByClass).reduce((a, b) => a + b)).toBe(4);
  });

  it('outsw with DF = 1 walks down; outsd without REP is one element', () => {
    // std ; rep outsw ; outsd ; hlt
    const { cpu, mem } = machine([0xfd, 0x66, 0xf3, 0x6f, 0x6f, 0xf4]);
    mem.writeBytes(BUF, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    cpu.setReg('rsi', BigInt(BUF + 4));
    cpu.setReg('rcx', 2n);
    cpu.setReg('rdx', 0x80n);
    const { log } = drain(cpu, () => 0);
    // Words at BUF+4, BUF+2, then a dword at BUF+0 (RSI moved down by 2 twice).
    expect(log).toEqual(['out2@80=605', 'out2@80=403', 'out4@80=4030201']);
    expect(cpu.getReg('rsi')).toBe(BigInt(BUF - 4));
    expect(cpu.rflags & DF).toBe(DF);
  });

  it('rep insd fills memory; 67h uses EDI/ECX and zero-extends them, a zero count changes nothing', () => {
    // 67 rep insd ; 67 rep insb ; hlt
    const { cpu, mem } = machine([0x67, 0xf3, 0x6d, 0x67, 0xf3, 0x6c, 0xf4]);
    cpu.setReg('rdi', 0xffff_ffff_0000_0000n + BigInt(BUF));
    cpu.setReg('rcx', 0xabcd_0000_0000_0002n);
    cpu.setReg('rdx', 0x60n);
    let n = 0xa0;
    const { log, stop } = drain(cpu, () => n++ * 0x0101_0101);
    expect(stop.kind).toBe('hlt');
    expect(log).toEqual(['in4@60=a0a0a0a0', 'in4@60=a1a1a1a1']);
    expect(mem.read32(BUF)).toBe(0xa0a0a0a0);
    expect(mem.read32(BUF + 4)).toBe(0xa1a1a1a1);
    // A 32-bit result zero-extends (SDM Vol. 1 §3.4.1.1)...
    expect(cpu.getReg('rdi')).toBe(BigInt(BUF + 8));
    expect(cpu.getReg('rcx')).toBe(0n);
    expect(Object.values(cpu.retiredByClass).reduce((a, b) => a + b)).toBe(cpu.instructions);

    // ...and with ECX = 0 no element runs and no register is written (upper halves kept).
    const z = machine([0x67, 0xf3, 0x6c, 0xf4]);
    z.cpu.setReg('rdi', 0x1234_5678_0000_2000n);
    z.cpu.setReg('rcx', 0x1_0000_0000n);
    expect(z.cpu.run(10).kind).toBe('hlt');
    expect([z.cpu.getReg('rdi'), z.cpu.getReg('rcx')]).toEqual([
      0x1234_5678_0000_2000n,
      0x1_0000_0000n,
    ]);
  });

  it('INS checks its destination before it reads the port: a fault leaves the completed elements', () => {
    // rep insb ; hlt, with the buffer running off the end of the 1 MiB of memory
    const { cpu } = machine([0xf3, 0x6c, 0xf4]);
    const end = 1 << 20;
    cpu.setReg('rdi', BigInt(end - 2));
    cpu.setReg('rcx', 5n);
    cpu.setReg('rdx', 0x60n);
    let reads = 0;
    const { log, stop } = drain(cpu, () => ++reads);
    // Two elements fit; the third faults with #PF (write, not present) and no third port read.
    expect(log).toEqual(['in1@60=1', 'in1@60=2']);
    expect(stop).toEqual({ kind: 'exception', vector: 14, errorCode: 2, address: end });
    expect([cpu.getReg('rdi'), cpu.getReg('rcx'), cpu.rip]).toEqual([BigInt(end), 3n, 0x1000n]);
    expect(cpu.instructions).toBe(2);
  });

  it('OUTS from a non-canonical address is #GP(0) before any port access', () => {
    const { cpu } = machine([0x6e, 0xf4]);
    cpu.setReg('rsi', 0x0000_8000_0000_0000n);
    expect(cpu.run(10)).toEqual({
      kind: 'exception',
      vector: 13,
      errorCode: 0,
      address: undefined,
    });
  });

  it('at CPL 3 without I/O permission the instruction is #GP(0)', () => {
    const { cpu } = machine([0x6e, 0xf4], 3);
    expect(cpu.run(10)).toMatchObject({ kind: 'exception', vector: 13, errorCode: 0 });
  });
});

describe('INS/OUTS VM exits (SDM Vol. 3C §28.2.1 Table 28-5, §28.2.5 Table 28-8)', () => {
  it('rep outsb: qualification, guest-linear address and instruction information', () => {
    const { cpu } = machine([0xf3, 0x6e, 0xf4]);
    cpu.setReg('rsi', 0x1234n);
    cpu.setReg('rcx', 7n);
    cpu.setReg('rdx', 0x3f8n);
    cpu.vmEntry(IO_EXITING);
    // Table 28-5: size 0 (1 byte) bits 2:0, direction 0 (OUT) bit 3, string bit 4, REP bit 5,
    // operand encoding 0 (DX) bit 6, port bits 31:16.
    // Table 28-8: address size 2 (64-bit) bits 9:7, segment 3 (DS) bits 17:15.
    expect(cpu.run(10)).toEqual(
      exitStop({
        exitReason: 30,
        exitQualification: (0x3f8n << 16n) | (1n << 5n) | (1n << 4n),
        guestLinearAddress: 0x1234n,
        instructionLength: 2,
        instructionInformation: (2 << 7) | (3 << 15),
      }),
    );
    // Nothing happened: the VMM emulates it.
    expect([cpu.rip, cpu.getReg('rsi'), cpu.getReg('rcx')]).toEqual([0x1000n, 0x1234n, 7n]);
  });

  it('insw: IN direction, 2-byte size, ES:RDI (segment field 0 for INS)', () => {
    const { cpu } = machine([0x66, 0x6d, 0xf4]);
    cpu.setReg('rdi', 0xffff_ffff_ffff_f000n);
    cpu.setReg('rdx', 0x1_0060n); // only DX names the port
    cpu.vmEntry(IO_EXITING);
    expect(cpu.run(10)).toEqual(
      exitStop({
        exitReason: 30,
        // size 1 (2 bytes), direction 1 (IN) bit 3, string bit 4
        exitQualification: (0x60n << 16n) | (1n << 4n) | (1n << 3n) | 1n,
        guestLinearAddress: 0xffff_ffff_ffff_f000n,
        instructionLength: 2,
        instructionInformation: 2 << 7,
      }),
    );
  });

  it('67h rep outsd with an FS override: 32-bit address size, segment FS, FS base + ESI', () => {
    // fs: 67 rep outsd
    const { cpu } = machine([0x64, 0x67, 0xf3, 0x6f, 0xf4]);
    cpu.fsBase = 0x7000_0000_0000n;
    cpu.setReg('rsi', 0xdead_beef_ffff_fff0n);
    cpu.setReg('rcx', 0n); // a zero count exits too: the exit comes before execution
    cpu.setReg('rdx', 0xcf8n);
    cpu.vmEntry(IO_EXITING);
    expect(cpu.run(10)).toEqual(
      exitStop({
        exitReason: 30,
        // size 3 (4 bytes), string, REP
        exitQualification: (0xcf8n << 16n) | (1n << 5n) | (1n << 4n) | 3n,
        guestLinearAddress: 0x7000_0000_0000n + 0xffff_fff0n,
        instructionLength: 4,
        // address size 1 (32-bit), segment 4 (FS)
        instructionInformation: (1 << 7) | (4 << 15),
      }),
    );
  });

  it('the I/O-permission #GP comes before the exit (§26.1.1); a non-canonical operand does not', () => {
    const user = machine([0x6e, 0xf4], 3);
    user.cpu.vmEntry(IO_EXITING);
    const s = user.cpu.run(10);
    // The #GP is delivered through the guest IDT (none here): not an I/O exit.
    expect(s.kind === 'vm-exit' && s.info.exitReason === 30).toBe(false);
    const { cpu } = machine([0x6e, 0xf4]);
    cpu.setReg('rsi', 0x0000_8000_0000_0000n);
    cpu.vmEntry(IO_EXITING);
    expect(cpu.run(10)).toMatchObject({
      kind: 'vm-exit',
      info: { exitReason: 30, guestLinearAddress: 0x0000_8000_0000_0000n },
    });
  });

  it('without I/O exiting the instruction runs in non-root mode as in root mode', () => {
    const { cpu, mem } = machine([0xf3, 0x6e, 0xf4]);
    mem.writeBytes(BUF, Uint8Array.from([9, 8]));
    cpu.setReg('rsi', BigInt(BUF));
    cpu.setReg('rcx', 2n);
    cpu.vmEntry(NONE);
    expect(drain(cpu, () => 0).log).toEqual(['out1@0=9', 'out1@0=8']);
  });
});

describe('INS checks its destination through paging before the port read (MmuMemory.checkWrite)', () => {
  // rep insb with RDI = la, RCX = 2, DX = 0x60 (kernel code under 4-level paging)
  const program = (la: number) => [
    ...[0x48, 0xc7, 0xc7, la & 0xff, (la >>> 8) & 0xff, (la >>> 16) & 0xff, 0], // mov rdi, la
    ...[0x48, 0xc7, 0xc1, 2, 0, 0, 0], // mov rcx, 2
    ...[0xba, 0x60, 0, 0, 0], // mov edx, 0x60
    ...[0xf3, 0x6c], // rep insb
    0xf4,
  ];

  it('a not-present destination is #PF (CR2, error code W) with no io stop', () => {
    const s = paged(program(0x40000));
    s.mem.write32(pteOf(0x40000), 0);
    // The #PF handler stub is a HLT: the first stop is that HLT, not an I/O access.
    expect(s.cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(s.cpu.rip).toBe(BigInt(handlerOf(14) + 1));
    expect(s.cpu.cr2).toBe(0x40000n);
    expect(s.cpu.getReg('rcx')).toBe(2n);
  });

  it('the check sets A and D in the PTE as the store would, before the host sees the stop', () => {
    const s = paged(program(0x41000));
    const pte = pteOf(0x41000);
    s.mem.write32(pte, s.mem.read32(pte) & ~(PTE.A | PTE.D));
    expect(s.cpu.run(100)).toEqual({ kind: 'io', direction: 'in', port: 0x60, size: 1 });
    expect(s.mem.read32(pte) & (PTE.A | PTE.D)).toBe(PTE.A | PTE.D);
  });

  it("a frame with nothing behind it is the store's #MC, before the port read", () => {
    const s = paged(program(0x42000));
    // Map the page to guest-physical 0x200000, past the 1 MiB of RAM.
    s.mem.write32(pteOf(0x42000), 0x20_0000 | PTE.P | PTE.RW);
    expect(s.cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(s.cpu.rip).toBe(BigInt(handlerOf(18) + 1));
  });
});
