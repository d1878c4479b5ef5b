// CPUID, RDTSC and RDTSCP (SDM Vol. 2 pages of each).
import { BasicExitReason } from '@vmkit/vmx';
import { CPUID_FEATURE, CR4, Vector } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';
import { CpuFault, undefinedOpcode } from '../fault.js';
import { instructionExit } from '../vmx/vm-exit.js';

const bit = (name: keyof typeof CPUID_FEATURE): number => 1 << CPUID_FEATURE[name].bit;

// "VmkitVmkitVm" in EBX, EDX, ECX order.
const VENDOR = [0x696b6d56, 0x6d566b69, 0x74696b74];

/**
 * The built-in CPUID leaves: what vmkit implements and nothing more (SDM Vol. 2 CPUID,
 * Tables 3-8 to 3-20). Leaf 1: PSE, TSC, MSR, PAE, CX8, APIC, PGE, CMOV, PAT (EDX), CX16,
 * PCID, x2APIC, POPCNT, hypervisor (ECX); leaf 7: SMEP, INVPCID, SMAP; leaf 80000001h:
 * LAHF/SAHF, LZCNT (ECX), SYSCALL, NX, 1-GByte pages, RDTSCP, long mode (EDX); leaf 80000008h:
 * MAXPHYADDR and 48 linear-address bits. Unlisted leaves read as zeros.
 *
 * @param leaf - EAX
 * @param subleaf - ECX
 * @param maxPhyAddr - the CPU's MAXPHYADDR
 * @returns [EAX, EBX, ECX, EDX]
 */
export function defaultCpuid(
  leaf: number,
  subleaf: number,
  maxPhyAddr: number,
): readonly [number, number, number, number] {
  switch (leaf) {
    case 0:
      return [7, VENDOR[0]!, VENDOR[2]!, VENDOR[1]!];
    case 1: {
      const edx =
        bit('PSE') |
        (1 << 4) |
        (1 << 5) |
        bit('PAE') |
        (1 << 8) |
        (1 << 9) |
        bit('PGE') |
        (1 << 15) |
        bit('PAT');
      const ecx = (1 << 13) | bit('PCID') | (1 << 21) | (1 << 23) | (1 << 31);
      return [0x000806c1, 0x00010800, ecx >>> 0, edx >>> 0];
    }
    case 7:
      return subleaf === 0 ? [0, bit('SMEP') | bit('INVPCID') | bit('SMAP'), 0, 0] : [0, 0, 0, 0];
    case 0x8000_0000:
      return [0x8000_0008, 0, 0, 0];
    case 0x8000_0001:
      return [
        0,
        0,
        1 | (1 << 5),
        ((1 << 11) | bit('NX') | bit('PAGE1GB') | (1 << 27) | bit('LM')) >>> 0,
      ];
    case 0x8000_0008:
      return [maxPhyAddr | (48 << 8), 0, 0, 0];
    default:
      return [0, 0, 0, 0];
  }
}

function set32(cpu: Cpu, r: number, v: number): void {
  cpu.lo[r] = v >>> 0;
  cpu.hi[r] = 0;
}

/** CPUID (0F A2): EAX, EBX, ECX, EDX from the configured or built-in leaves. */
export function cpuid(cpu: Cpu, ins: Instr): void {
  // SDM Vol. 3C §26.1.2: CPUID causes a VM exit unconditionally in non-root operation.
  if (cpu.nonRoot !== undefined) throw instructionExit(BasicExitReason.CPUID, ins.length);
  const leaf = cpu.lo[0]!;
  const subleaf = cpu.lo[1]!;
  const r = cpu.cpuidFunction?.(leaf, subleaf) ?? defaultCpuid(leaf, subleaf, cpu.maxPhyAddr);
  set32(cpu, 0, r[0]);
  set32(cpu, 3, r[1]);
  set32(cpu, 1, r[2]);
  set32(cpu, 2, r[3]);
}

function readTsc(cpu: Cpu, ins: Instr, rdtscp: boolean): void {
  const nr = cpu.nonRoot;
  // SDM Vol. 3C §26.3: in non-root operation RDTSCP is #UD unless "enable RDTSCP" is 1.
  if (rdtscp && nr !== undefined && !nr.enableRdtscp) throw undefinedOpcode();
  // CR4.TSD makes RDTSC/RDTSCP privileged; this #GP has priority over the VM exit (SDM Vol.
  // 3C §26.1.1).
  if ((cpu.cr4 & CR4.TSD) !== 0 && cpu.cpl !== 0) throw new CpuFault(Vector.GP, 0);
  // SDM Vol. 3C §26.1.3: RDTSC and RDTSCP exit when "RDTSC exiting" is 1.
  if (nr?.rdtscExiting === true) {
    throw instructionExit(rdtscp ? BasicExitReason.RDTSCP : BasicExitReason.RDTSC, ins.length);
  }
  const t = cpu.tsc;
  set32(cpu, 0, Number(t & 0xffffffffn));
  set32(cpu, 2, Number(t >> 32n));
}

/** RDTSC (0F 31): EDX:EAX = TSC. */
export function rdtsc(cpu: Cpu, ins: Instr): void {
  readTsc(cpu, ins, false);
}

/** RDTSCP (0F 01 F9): EDX:EAX = TSC, ECX = IA32_TSC_AUX. */
export function rdtscp(cpu: Cpu, ins: Instr): void {
  readTsc(cpu, ins, true);
  set32(cpu, 1, cpu.tscAux);
}
