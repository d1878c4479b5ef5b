import { type CpuidFunction, defaultCpuid } from '@vmkit/cpu';
import { bootProtocol } from '@vmkit/guest';

/** CPUID.1:ECX bit 31: a hypervisor is present (reserved for this use, SDM Vol. 2A CPUID). */
const HYPERVISOR_PRESENT = 0x8000_0000;
/** The hypervisor leaf range base (the convention KVM, Hyper-V, Xen and VMware follow). */
const HYPERVISOR_LEAF = 0x4000_0000;

function signatureWord(at: number): number {
  const s = bootProtocol.hypervisorSignature;
  let w = 0;
  for (let i = 3; i >= 0; i--) w = (w << 8) | s.charCodeAt(at + i);
  return w >>> 0;
}

/**
 * The vCPU's CPUID: the CPU's built-in leaves, plus the hypervisor leaves by which the guest
 * recognises vmkit (guest README, "Hypercalls"): leaf 1 ECX[31] set, leaf 0x40000000 with EAX
 * = the highest hypervisor leaf (0x40000000) and EBX, ECX, EDX spelling `vmkitvmkitvm`.
 *
 * Leaf 1 EBX[31:24] (initial APIC ID, SDM Vol. 2A CPUID) holds the vCPU id, as the boot
 * protocol requires on every vCPU.
 *
 * @param maxPhyAddr - MAXPHYADDR reported in the built-in leaves
 * @param cpuId - the vCPU id (= APIC id), default 0
 * @returns a CPUID function for `Cpu`'s `cpuid` option
 */
export function vmkitCpuid(maxPhyAddr: number, cpuId = 0): CpuidFunction {
  const signature = [signatureWord(0), signatureWord(4), signatureWord(8)] as const;
  return (leaf, subleaf) => {
    if (leaf === HYPERVISOR_LEAF)
      return [HYPERVISOR_LEAF, signature[0], signature[1], signature[2]];
    if (leaf === 1) {
      const [a, b, c, d] = defaultCpuid(leaf, subleaf, maxPhyAddr);
      return [a, ((b & 0x00ff_ffff) | (cpuId << 24)) >>> 0, (c | HYPERVISOR_PRESENT) >>> 0, d];
    }
    return undefined;
  };
}
