// Control-register, INVLPG and RDTSC exits (SDM Vol. 3C §26.1.3) and the CR0/CR4 guest/host
// masks and read shadows (§25.6.6, §26.3), firing and not firing. Qualifications are written
// out from Table 28-3: bits 3:0 the control register, 5:4 the access type (0 MOV to CR, 1 MOV
// from CR), 11:8 the general-purpose register.
import {
  PrimaryProcessorControls as Primary,
  SecondaryProcessorControls as Secondary,
} from '@vmkit/vmx';
import { CR0, CR4, Vector } from '@vmkit/x86';
import { describe, expect, it } from 'vitest';
import { handlerOf, KERNEL_CODE, system } from './support/system.js';
import { exitStop, NONE } from './support/vmx.js';

const MOV_CR3_RAX = [0x0f, 0x22, 0xd8];
const MOV_RBX_CR3 = [0x0f, 0x20, 0xdb];
const MOV_CR0_RAX = [0x0f, 0x22, 0xc0];
const MOV_RCX_CR0 = [0x0f, 0x20, 0xc1];
const MOV_CR4_RDX = [0x0f, 0x22, 0xe2];
const MOV_RSI_CR4 = [0x0f, 0x20, 0xe6];
const MOV_CR8_R9 = [0x45, 0x0f, 0x22, 0xc1];
const MOV_R10_CR8 = [0x45, 0x0f, 0x20, 0xc2];
const HLT = 0xf4;

describe('CR3 load and store exiting', () => {
  const load = { ...NONE, primary: Primary.CR3_LOAD_EXITING };

  it('MOV to CR3 exits with CR3-load exiting and no targets', () => {
    const s = system([...MOV_CR3_RAX, HLT]);
    s.cpu.setReg('rax', 0x9000n);
    s.cpu.vmEntry(load);
    expect(s.cpu.run(10)).toEqual(
      exitStop({ exitReason: 28, exitQualification: 0x003n, instructionLength: 3 }),
    );
    expect(s.cpu.cr3).toBe(0n);
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE));
  });

  it('a source equal to a CR3-target value loads without exiting; others exit', () => {
    const s = system([...MOV_CR3_RAX, HLT]);
    s.cpu.setReg('rax', 0x9000n);
    s.cpu.vmEntry({ ...load, cr3Targets: [0x5000n, 0x9000n] });
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.cr3).toBe(0x9000n);
    const t = system([...MOV_CR3_RAX, HLT]);
    t.cpu.setReg('rax', 0xa000n);
    t.cpu.vmEntry({ ...load, cr3Targets: [0x5000n, 0x9000n] });
    expect(t.cpu.run(10)).toMatchObject({ kind: 'vm-exit', info: { exitReason: 28 } });
  });

  it('without the control MOV to CR3 executes', () => {
    const s = system([...MOV_CR3_RAX, HLT]);
    s.cpu.setReg('rax', 0x9000n);
    s.cpu.vmEntry(NONE);
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.cr3).toBe(0x9000n);
  });

  it('MOV from CR3 exits with CR3-store exiting (type 1, RBX) and executes without', () => {
    const s = system([...MOV_RBX_CR3, HLT]);
    s.cpu.cr3 = 0x4000n;
    s.cpu.vmEntry({ ...NONE, primary: Primary.CR3_STORE_EXITING });
    expect(s.cpu.run(10)).toEqual(
      exitStop({ exitReason: 28, exitQualification: 0x313n, instructionLength: 3 }),
    );
    expect(s.cpu.getReg('rbx')).toBe(0n);
    const t = system([...MOV_RBX_CR3, HLT]);
    t.cpu.cr3 = 0x4000n;
    t.cpu.vmEntry({ ...NONE, primary: Primary.CR3_LOAD_EXITING });
    expect(t.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(t.cpu.getReg('rbx')).toBe(0x4000n);
  });
});

describe('CR0 and CR4 guest/host masks and read shadows', () => {
  const base = BigInt((CR0.PE | CR0.MP | CR0.ET | CR0.NE | CR0.WP | CR0.PG) >>> 0);

  it('MOV to CR0 exits when it changes a host-owned bit against the shadow', () => {
    const s = system([...MOV_CR0_RAX, HLT]);
    s.cpu.setReg('rax', base | BigInt(CR0.TS));
    s.cpu.vmEntry({ ...NONE, cr0GuestHostMask: BigInt(CR0.TS), cr0ReadShadow: 0n });
    expect(s.cpu.run(10)).toEqual(
      exitStop({ exitReason: 28, exitQualification: 0x000n, instructionLength: 3 }),
    );
    expect(s.cpu.cr0 & CR0.TS).toBe(0);
  });

  it('a MOV to CR0 matching the shadow executes and keeps the host-owned bits', () => {
    const s = system([...MOV_CR0_RAX, ...MOV_RCX_CR0, HLT]);
    s.cpu.cr0 = (Number(base) | CR0.TS) >>> 0; // the host keeps TS set
    s.cpu.setReg('rax', base | BigInt(CR0.AM)); // the guest writes TS = 0 (= shadow), AM = 1
    s.cpu.vmEntry({ ...NONE, cr0GuestHostMask: BigInt(CR0.TS), cr0ReadShadow: 0n });
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.cr0).toBe((Number(base) | CR0.TS | CR0.AM) >>> 0);
    // and reads TS from the shadow
    expect(s.cpu.getReg('rcx')).toBe(base | BigInt(CR0.AM));
  });

  it('without a mask MOV to CR0 writes every bit and MOV from CR0 reads the register', () => {
    const s = system([...MOV_CR0_RAX, ...MOV_RCX_CR0, HLT]);
    s.cpu.setReg('rax', base | BigInt(CR0.TS));
    s.cpu.vmEntry(NONE);
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.getReg('rcx')).toBe(base | BigInt(CR0.TS));
  });

  it('CR4: a host-owned bit shown as set in the shadow; clearing it exits (RDX)', () => {
    const s = system([...MOV_RSI_CR4, ...MOV_CR4_RDX, HLT]);
    const owned = BigInt(CR4.PGE);
    s.cpu.setReg('rdx', BigInt(CR4.PAE));
    s.cpu.vmEntry({ ...NONE, cr4GuestHostMask: owned, cr4ReadShadow: owned });
    expect(s.cpu.run(10)).toEqual(
      exitStop({ exitReason: 28, exitQualification: 0x204n, instructionLength: 3 }),
    );
    // MOV RSI, CR4 ran first: PAE from CR4, PGE from the shadow.
    expect(s.cpu.getReg('rsi')).toBe(BigInt(CR4.PAE | CR4.PGE));
    expect(s.cpu.cr4).toBe(CR4.PAE);
  });
});

describe('CR8 load and store exiting', () => {
  it('MOV to CR8 exits with CR8-load exiting (R9: GPR 9) and executes without', () => {
    const s = system([...MOV_CR8_R9, HLT]);
    s.cpu.setReg('r9', 5n);
    s.cpu.vmEntry({ ...NONE, primary: Primary.CR8_LOAD_EXITING });
    expect(s.cpu.run(10)).toEqual(
      exitStop({ exitReason: 28, exitQualification: 0x908n, instructionLength: 4 }),
    );
    expect(s.cpu.cr8).toBe(0);
    const t = system([...MOV_CR8_R9, HLT]);
    t.cpu.setReg('r9', 5n);
    t.cpu.vmEntry({ ...NONE, primary: Primary.CR8_STORE_EXITING });
    expect(t.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(t.cpu.cr8).toBe(5);
  });

  it('MOV from CR8 exits with CR8-store exiting (R10) and executes without', () => {
    const s = system([...MOV_R10_CR8, HLT]);
    s.cpu.cr8 = 7;
    s.cpu.vmEntry({ ...NONE, primary: Primary.CR8_STORE_EXITING });
    expect(s.cpu.run(10)).toEqual(
      exitStop({ exitReason: 28, exitQualification: 0xa18n, instructionLength: 4 }),
    );
    const t = system([...MOV_R10_CR8, HLT]);
    t.cpu.cr8 = 7;
    t.cpu.vmEntry({ ...NONE, primary: Primary.CR8_LOAD_EXITING });
    expect(t.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(t.cpu.getReg('r10')).toBe(7n);
  });
});

describe('INVLPG exiting', () => {
  it('exits with the linear address as qualification; executes without the control', () => {
    const code = [0x0f, 0x01, 0x78, 0x10, HLT]; // invlpg [rax + 0x10]
    const s = system(code);
    s.cpu.setReg('rax', 0x12340n);
    s.cpu.vmEntry({ ...NONE, primary: Primary.INVLPG_EXITING });
    expect(s.cpu.run(10)).toEqual(
      exitStop({ exitReason: 14, exitQualification: 0x12350n, instructionLength: 4 }),
    );
    const t = system(code);
    t.cpu.vmEntry(NONE);
    expect(t.cpu.run(10)).toEqual({ kind: 'hlt' });
  });
});

describe('INVLPG exiting with a non-canonical operand', () => {
  it('still exits, with the operand as qualification (as a NOP it would do nothing)', () => {
    const code = [0x0f, 0x01, 0x38, HLT]; // invlpg [rax]
    const s = system(code);
    s.cpu.setReg('rax', 0x8000_0000_0000n);
    s.cpu.vmEntry({ ...NONE, primary: Primary.INVLPG_EXITING });
    expect(s.cpu.run(10)).toEqual(
      exitStop({ exitReason: 14, exitQualification: 0x8000_0000_0000n, instructionLength: 3 }),
    );
    const t = system(code);
    t.cpu.setReg('rax', 0x8000_0000_0000n);
    t.cpu.vmEntry(NONE);
    expect(t.cpu.run(10)).toEqual({ kind: 'hlt' });
  });
});

describe('RDTSC exiting', () => {
  const RDTSC = [0x0f, 0x31, HLT];
  const RDTSCP = [0x0f, 0x01, 0xf9, HLT];

  it('RDTSC exits with reason 16 under RDTSC exiting, executes without', () => {
    const s = system(RDTSC);
    s.cpu.vmEntry({ ...NONE, primary: Primary.RDTSC_EXITING });
    expect(s.cpu.run(10)).toEqual(exitStop({ exitReason: 16, instructionLength: 2 }));
    const t = system([0x90, ...RDTSC]);
    t.cpu.vmEntry(NONE);
    expect(t.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(t.cpu.getReg('rax')).toBe(1n); // one instruction retired before it
  });

  it('RDTSCP is #UD without "enable RDTSCP" and exits with reason 51 with it', () => {
    const s = system(RDTSCP);
    s.cpu.vmEntry({ ...NONE, primary: Primary.RDTSC_EXITING });
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.UD) + 1));
    const t = system(RDTSCP);
    t.cpu.vmEntry({
      ...NONE,
      primary: Primary.RDTSC_EXITING | Primary.ACTIVATE_SECONDARY_CONTROLS,
      secondary: Secondary.ENABLE_RDTSCP,
    });
    expect(t.cpu.run(10)).toEqual(exitStop({ exitReason: 51, instructionLength: 3 }));
    // secondary controls count only when activated
    const u = system(RDTSCP);
    u.cpu.vmEntry({ ...NONE, primary: 0, secondary: Secondary.ENABLE_RDTSCP });
    expect(u.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(u.cpu.rip).toBe(BigInt(handlerOf(Vector.UD) + 1));
  });
});

describe('INVPCID in non-root operation', () => {
  // invpcid rax, [rbx + 8]; hlt
  const INVPCID = [0x66, 0x0f, 0x38, 0x82, 0x43, 0x08, HLT];
  const enabled = {
    ...NONE,
    primary: Primary.ACTIVATE_SECONDARY_CONTROLS,
    secondary: Secondary.ENABLE_INVPCID,
  };

  it('is #UD without "enable INVPCID"', () => {
    const s = system(INVPCID);
    s.cpu.vmEntry({ ...NONE, primary: Primary.INVLPG_EXITING });
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.UD) + 1));
  });

  it('exits with reason 58 under INVLPG exiting: displacement, operand information', () => {
    const s = system(INVPCID);
    s.cpu.setReg('rax', 2n);
    s.cpu.setReg('rbx', 0x8000n);
    s.cpu.vmEntry({ ...enabled, primary: enabled.primary | Primary.INVLPG_EXITING });
    // §28.2.5: address size 64 (2 << 7), DS (3 << 15), no index (bit 22), base RBX (3 << 23),
    // Reg2 RAX (0 << 28)
    expect(s.cpu.run(10)).toEqual(
      exitStop({
        exitReason: 58,
        exitQualification: 8n,
        instructionLength: 6,
        instructionInformation: 0x01c1_8100,
      }),
    );
  });

  it('executes with "enable INVPCID" and no INVLPG exiting', () => {
    const s = system(INVPCID);
    s.cpu.setReg('rax', 2n);
    s.cpu.setReg('rbx', 0x8000n);
    s.cpu.vmEntry(enabled);
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE + 7));
  });
});
