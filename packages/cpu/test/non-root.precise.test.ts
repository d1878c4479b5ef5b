// Exits are precise (SDM Vol. 3C §27.1: an instruction-caused VM exit happens before the
// instruction changes any state): random programs of exiting and ordinary instructions run
// in root mode, and in non-root mode under random controls with a small VMM that emulates
// each exited instruction from its exit information and advances RIP by the exit's
// instruction length. Both end in the same state, and every instruction is either retired by
// the CPU or emulated by the VMM exactly once.
import {
  decodeCrAccessQualification,
  decodeIoQualification,
  InterruptionType,
  IoBitmaps,
  MsrBitmap,
  PrimaryProcessorControls as Primary,
} from '@vmkit/vmx';
import { MSR, Vector } from '@vmkit/x86';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { type Cpu, defaultCpuid, GPR_NAMES, type VmxControls } from '../src/index.js';
import { handlerOf, RSP0, type System, system } from './support/system.js';
import { NONE } from './support/vmx.js';

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const PORTS = [0x3f8, 0x60, 0x80, 0xcf8];
const MSRS = [MSR.IA32_EFER, MSR.IA32_STAR, MSR.IA32_LSTAR];

const piece = fc.oneof(
  fc
    .constantFrom(0, 1, 7, 0x8000_0001, 0x8000_0008)
    .map((leaf) => [0xb8, ...le32(leaf), 0x0f, 0xa2]), // mov eax, leaf; cpuid
  fc
    .constantFrom(...MSRS)
    .map((m) => [0xb9, ...le32(m), 0x0f, 0x32]), // mov ecx, m; rdmsr
  fc
    .tuple(fc.constantFrom(MSR.IA32_STAR, MSR.IA32_LSTAR), fc.integer({ min: 0, max: 0x7fff_ffff }))
    .map(([m, v]) => [0xb9, ...le32(m), 0xb8, ...le32(v), 0x31, 0xd2, 0x0f, 0x30]), // wrmsr
  fc
    .tuple(fc.constantFrom(...PORTS), fc.constantFrom([0xee], [0xef], [0xec], [0xed], [0x66, 0xed]))
    .map(([p, op]) => [0xba, ...le32(p), ...op]), // mov edx, port; in/out
  fc.constant([0x0f, 0x31]), // rdtsc
  fc.constant([0xf3, 0x90]), // pause
  fc.constant([0x48, 0x01, 0xc6, 0x48, 0xff, 0xc3]), // add rsi, rax; inc rbx
  fc
    .constantFrom(0x5000, 0x6000, 0x7000)
    .map((v) => [0xb8, ...le32(v), 0x0f, 0x22, 0xd8]), // mov eax, v; mov cr3, rax
  fc.constant([0x0f, 0x20, 0xdf]), // mov rdi, cr3
  fc.constant([0x0f, 0x01, 0x3e]), // invlpg [rsi]
  fc.constant([0xcc]), // int3 (its handler is IRETQ)
);

const controls = fc.record({
  primary: fc.subarray([
    Primary.HLT_EXITING,
    Primary.RDTSC_EXITING,
    Primary.CR3_LOAD_EXITING,
    Primary.CR3_STORE_EXITING,
    Primary.UNCONDITIONAL_IO_EXITING,
    Primary.USE_IO_BITMAPS,
    Primary.USE_MSR_BITMAPS,
    Primary.PAUSE_EXITING,
    Primary.INVLPG_EXITING,
  ]),
  breakpoints: fc.boolean(),
  ports: fc.subarray(PORTS),
  msrs: fc.subarray(MSRS),
  targets: fc.subarray([0x5000n, 0x7000n]),
});

const portValue = (port: number): number => (port * 0x9e37_79b1) >>> 0;

interface Outcome {
  regs: bigint[];
  rip: bigint;
  rflags: bigint;
  cr3: bigint;
  star: bigint;
  lstar: bigint;
  io: string[];
  steps: number;
  stack: number[];
}

function finish(cpu: Cpu, io: string[], steps: number): Outcome {
  return {
    regs: GPR_NAMES.map((r) => cpu.getReg(r)),
    rip: cpu.rip,
    rflags: cpu.rflags,
    cr3: cpu.cr3,
    star: cpu.star,
    lstar: cpu.lstar,
    io,
    steps,
    // The words below the initial stack, where INT3 frames are pushed.
    stack: [...new Array(12)].map((_, k) => cpu.memory.read32(RSP0 - 0x1000 - 48 + 4 * k, 0)),
  };
}

function setLow(cpu: Cpu, size: number, value: number): void {
  const old = cpu.getReg('rax');
  if (size === 4) cpu.setReg('rax', BigInt(value >>> 0));
  else {
    const mask = size === 2 ? 0xffffn : 0xffn;
    cpu.setReg('rax', (old & ~mask) | (BigInt(value) & mask));
  }
}

// The #BP handler returns at once (IRETQ), so INT3 is a round trip through the guest IDT.
function withIretHandler(s: System): System {
  s.mem.writeBytes(handlerOf(Vector.BP), Uint8Array.from([0x48, 0xcf]));
  return s;
}

function runRoot(code: number[]): Outcome {
  const { cpu } = withIretHandler(system(code));
  const io: string[] = [];
  for (;;) {
    const stop = cpu.run(1000);
    if (stop.kind === 'hlt') return finish(cpu, io, cpu.instructions);
    if (stop.kind !== 'io') throw new Error(`root run stopped with ${stop.kind}`);
    if (stop.direction === 'in') cpu.completeIn(portValue(stop.port));
    else io.push(`${stop.port}:${stop.value}`);
  }
}

function runNonRoot(code: number[], c: Controls): Outcome {
  let emulated = 0;
  // Time counts the instructions the VMM emulated too, as the root run retired them.
  const { cpu } = withIretHandler(
    system(code, 0, { tsc: (retired) => BigInt(retired + emulated) }),
  );
  const ioBitmaps = new IoBitmaps();
  for (const p of c.ports) ioBitmaps.trap(p);
  const msrBitmap = new MsrBitmap();
  for (const m of c.msrs) msrBitmap.intercept(m);
  cpu.vmEntry(controlsOf(c, ioBitmaps, msrBitmap));
  const io: string[] = [];
  for (;;) {
    const stop = cpu.run(1000);
    if (stop.kind === 'hlt') return finish(cpu, io, cpu.instructions + emulated);
    if (stop.kind === 'io') {
      if (stop.direction === 'in') cpu.completeIn(portValue(stop.port));
      else io.push(`${stop.port}:${stop.value}`);
      continue;
    }
    if (stop.kind !== 'vm-exit') throw new Error(`non-root run stopped with ${stop.kind}`);
    const { exitReason, exitQualification, instructionLength } = stop.info;
    const eax = Number(cpu.getReg('rax') & 0xffff_ffffn);
    const ecx = Number(cpu.getReg('rcx') & 0xffff_ffffn);
    switch (exitReason) {
      case 10: {
        const r = defaultCpuid(eax, ecx, cpu.maxPhyAddr);
        cpu.setReg('rax', BigInt(r[0]));
        cpu.setReg('rbx', BigInt(r[1]));
        cpu.setReg('rcx', BigInt(r[2]));
        cpu.setReg('rdx', BigInt(r[3]));
        break;
      }
      case 31: {
        const v =
          ecx === MSR.IA32_EFER ? BigInt(cpu.efer) : ecx === MSR.IA32_STAR ? cpu.star : cpu.lstar;
        cpu.setReg('rax', v & 0xffff_ffffn);
        cpu.setReg('rdx', v >> 32n);
        break;
      }
      case 32: {
        const v = ((cpu.getReg('rdx') & 0xffff_ffffn) << 32n) | BigInt(eax);
        if (ecx === MSR.IA32_STAR) cpu.star = v;
        else cpu.lstar = v;
        break;
      }
      case 30: {
        const q = decodeIoQualification(exitQualification);
        if (q.in) setLow(cpu, q.size, portValue(q.port));
        else
          io.push(`${q.port}:${eax & (q.size === 4 ? 0xffff_ffff : q.size === 2 ? 0xffff : 0xff)}`);
        break;
      }
      case 12:
        cpu.rip += BigInt(instructionLength);
        return finish(cpu, io, cpu.instructions + emulated + 1);
      case 16: {
        const t = cpu.tsc;
        cpu.setReg('rax', t & 0xffff_ffffn);
        cpu.setReg('rdx', t >> 32n);
        break;
      }
      case 40:
      case 14:
        break;
      case 0: {
        // INT3 intercepted: the VMM re-injects it as the software exception it was (§27.6),
        // which delivers it with RIP after the instruction, as INT3 itself would have.
        expect(stop.info.interruptionInfo).toBe(0x8000_0603);
        emulated++;
        const nested = cpu.vmEntry(controlsOf(c, ioBitmaps, msrBitmap), {
          type: InterruptionType.SOFTWARE_EXCEPTION,
          vector: Vector.BP,
          instructionLength,
        });
        expect(nested).toBeUndefined();
        continue;
      }
      case 28: {
        const q = decodeCrAccessQualification(exitQualification);
        const reg = GPR_NAMES[q.generalPurposeRegister]!;
        if (q.accessType === 0) cpu.cr3 = cpu.getReg(reg);
        else cpu.setReg(reg, cpu.cr3);
        break;
      }
      default:
        throw new Error(`unexpected exit ${exitReason}`);
    }
    cpu.rip += BigInt(instructionLength);
    emulated++;
  }
}

type Controls = {
  primary: number[];
  ports: number[];
  msrs: number[];
  targets: bigint[];
  breakpoints: boolean;
};

function controlsOf(c: Controls, ioBitmaps: IoBitmaps, msrBitmap: MsrBitmap): VmxControls {
  return {
    ...NONE,
    primary: c.primary.reduce((a, b) => a | b, 0),
    exceptionBitmap: c.breakpoints ? 1 << Vector.BP : 0,
    ioBitmaps,
    msrBitmap,
    cr3Targets: c.targets,
  };
}

it('an exited-and-emulated run ends in the root-mode state', () => {
  fc.assert(
    fc.property(fc.array(piece, { minLength: 1, maxLength: 12 }), controls, (pieces, c) => {
      const code = [0x31, 0xdb, ...pieces.flat(), 0xf4]; // xor ebx, ebx; ...; hlt
      expect(runNonRoot(code, c)).toEqual(runRoot(code));
    }),
    { numRuns: 120 },
  );
});
