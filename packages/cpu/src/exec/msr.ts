// RDMSR and WRMSR (SDM Vol. 2 pages; the MSRs of SDM Vol. 4 Table 2-2 that a 64-bit kernel
// uses). MSRs the host emulates stop `run`; any other index raises #GP(0).
import { BasicExitReason, msrAccessCausesExit } from '@vmkit/vmx';
import { CR0, EFER, MSR, Vector } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';
import { CpuFault } from '../fault.js';
import { toCanonical } from '../system/access.js';
import { instructionExit } from '../vmx/vm-exit.js';

const gp = (): CpuFault => new CpuFault(Vector.GP, 0);
const TWO32 = 4294967296;

function join(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function signed(la: number): bigint {
  return BigInt.asUintN(64, BigInt(la));
}

/** The value of MSR `index`, or undefined when the CPU does not implement it. */
export function readMsr(cpu: Cpu, index: number): bigint | undefined {
  switch (index) {
    case MSR.IA32_EFER:
      return BigInt(cpu.efer);
    case MSR.IA32_STAR:
      return cpu.star;
    case MSR.IA32_LSTAR:
      return cpu.lstar;
    case MSR.IA32_CSTAR:
      return cpu.cstar;
    case MSR.IA32_FMASK:
      return BigInt(cpu.sfmask >>> 0);
    case MSR.IA32_FS_BASE:
      return join(cpu.fsBaseHi, cpu.fsBaseLo);
    case MSR.IA32_GS_BASE:
      return join(cpu.gsBaseHi, cpu.gsBaseLo);
    case MSR.IA32_KERNEL_GS_BASE:
      return join(cpu.kernelGsBaseHi, cpu.kernelGsBaseLo);
    case MSR.IA32_TIME_STAMP_COUNTER:
      return cpu.tsc;
    case MSR.IA32_TSC_AUX:
      return BigInt(cpu.tscAux >>> 0);
    case MSR.IA32_PAT:
      return cpu.pat;
    case MSR.IA32_APIC_BASE:
      return cpu.apicBase;
    default:
      return undefined;
  }
}

// Memory types a PAT entry may hold (SDM Vol. 3A §12.12.2, Table 12-10): UC, WC, WT, WP, WB,
// UC-; 2, 3 and 8-255 are reserved.
const PAT_TYPES = new Set([0, 1, 4, 5, 6, 7]);

/**
 * Writes MSR `index`, with the reserved-bit checks the SDM gives (#GP(0)); returns false when
 * the CPU does not implement it.
 */
export function writeMsr(cpu: Cpu, index: number, lo: number, hi: number): boolean {
  const canonical = (): number => {
    const la = toCanonical(lo, hi);
    if (la === undefined) throw gp();
    return la;
  };
  switch (index) {
    case MSR.IA32_EFER: {
      // SCE, LME, NXE writable; LMA is set by the processor and writes to it are ignored;
      // changing LME while paging is on is #GP(0) (§2.2.1, §9.8.5).
      const writable = EFER.SCE | EFER.LME | EFER.NXE;
      if (hi !== 0 || (lo & ~(writable | EFER.LMA)) !== 0) throw gp();
      if ((cpu.cr0 & CR0.PG) !== 0 && ((lo ^ cpu.efer) & EFER.LME) !== 0) throw gp();
      cpu.efer = ((lo & writable) | (cpu.efer & EFER.LMA)) >>> 0;
      cpu.memory.writePagingRegister?.('efer', BigInt(cpu.efer));
      return true;
    }
    case MSR.IA32_STAR:
      cpu.star = join(hi, lo);
      return true;
    case MSR.IA32_LSTAR:
      cpu.lstar = signed(canonical());
      return true;
    case MSR.IA32_CSTAR:
      cpu.cstar = signed(canonical());
      return true;
    case MSR.IA32_FMASK:
      if (hi !== 0) throw gp();
      cpu.sfmask = lo >>> 0;
      return true;
    case MSR.IA32_FS_BASE:
    case MSR.IA32_GS_BASE:
    case MSR.IA32_KERNEL_GS_BASE: {
      const la = canonical();
      const l = la >>> 0;
      const h = Math.floor(la / TWO32) >>> 0;
      if (index === MSR.IA32_FS_BASE) {
        cpu.fsBaseLo = l;
        cpu.fsBaseHi = h;
      } else if (index === MSR.IA32_GS_BASE) {
        cpu.gsBaseLo = l;
        cpu.gsBaseHi = h;
      } else {
        cpu.kernelGsBaseLo = l;
        cpu.kernelGsBaseHi = h;
      }
      return true;
    }
    case MSR.IA32_TIME_STAMP_COUNTER:
      // SDM Vol. 3B §18.17: a write sets the counter; later reads count on from it.
      cpu.tscOffset = 0n;
      cpu.tscOffset = join(hi, lo) - cpu.tsc;
      return true;
    case MSR.IA32_TSC_AUX:
      if (hi !== 0) throw gp();
      cpu.tscAux = lo >>> 0;
      return true;
    case MSR.IA32_PAT:
      for (let k = 0; k < 4; k++) {
        if (!PAT_TYPES.has((lo >>> (8 * k)) & 0xff) || !PAT_TYPES.has((hi >>> (8 * k)) & 0xff)) {
          throw gp();
        }
      }
      cpu.pat = join(hi, lo);
      return true;
    case MSR.IA32_APIC_BASE: {
      // Bits 8 (BSP, read-only), 10 (x2APIC enable), 11 (APIC global enable) and the base up
      // to MAXPHYADDR; everything else is reserved (SDM Vol. 3A §11.4.4, Figure 11-5).
      if ((lo & 0x2ff) !== 0 || hi >>> (cpu.maxPhyAddr - 32) !== 0) throw gp();
      cpu.apicBase = join(hi, ((lo & ~0x100) | Number(cpu.apicBase & 0x100n)) >>> 0);
      return true;
    }
    default:
      return false;
  }
}

/**
 * SDM Vol. 3C §26.1.3: RDMSR/WRMSR exit without "use MSR bitmaps", or by the bitmap (MSRs
 * outside its two ranges always exit); the CPL #GP comes first (§26.1.1).
 */
function msrExit(cpu: Cpu, ins: Instr, index: number, write: boolean): void {
  const nr = cpu.nonRoot;
  if (nr === undefined) return;
  const page = nr.controls.msrBitmap?.page;
  if (msrAccessCausesExit(page ?? EMPTY, index, write, nr.useMsrBitmaps)) {
    throw instructionExit(write ? BasicExitReason.WRMSR : BasicExitReason.RDMSR, ins.length);
  }
}

const EMPTY = new Uint8Array(0);

/** RDMSR (0F 32): EDX:EAX = MSR[ECX]; CPL 0 only. */
export function rdmsr(cpu: Cpu, ins: Instr): void {
  if (cpu.cpl !== 0) throw gp();
  const index = cpu.lo[1]!;
  msrExit(cpu, ins, index, false);
  if (cpu.hostMsr?.(index) === true) {
    cpu.pendingRdmsr = index;
    cpu.pendingStop = { kind: 'msr', direction: 'read', index };
    return;
  }
  const value = readMsr(cpu, index);
  if (value === undefined) throw gp();
  cpu.lo[0] = Number(value & 0xffffffffn);
  cpu.hi[0] = 0;
  cpu.lo[2] = Number(value >> 32n);
  cpu.hi[2] = 0;
}

/** WRMSR (0F 30): MSR[ECX] = EDX:EAX; CPL 0 only. */
export function wrmsr(cpu: Cpu, ins: Instr): void {
  if (cpu.cpl !== 0) throw gp();
  const index = cpu.lo[1]!;
  msrExit(cpu, ins, index, true);
  const lo = cpu.lo[0]!;
  const hi = cpu.lo[2]!;
  if (cpu.hostMsr?.(index) === true) {
    cpu.pendingStop = { kind: 'msr', direction: 'write', index, value: join(hi, lo) };
    return;
  }
  if (!writeMsr(cpu, index, lo, hi)) throw gp();
}
