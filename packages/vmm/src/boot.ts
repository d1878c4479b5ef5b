import type { Cpu } from '@vmkit/cpu';
import {
  bootProtocol,
  DeviceType,
  encodeBootInfo,
  encodeDeviceList,
  encodeMemoryMap,
  MemoryType,
} from '@vmkit/guest';
import type { GuestPhysicalMemory } from '@vmkit/memory';

/**
 * Where this VMM puts its boot structures: below 1 MiB, which the memory map reports reserved
 * (the same places `kvm-run` uses, so both platforms hand the kernel identical tables).
 */
export const bootLayout = {
  /** PML4 of the boot identity map. */
  pml4: 0x1000,
  /** Its one PDPT. */
  pdpt: 0x2000,
  /** Its one page directory (512 2 MiB pages = 1 GiB). */
  pd: 0x3000,
  /** Boot-info block of vCPU n at `bootInfo + 64 n`. */
  bootInfo: 0x5000,
  /** The NUL-terminated command line (at most 4095 bytes to the memory map). */
  cmdline: 0x6000,
  /** The memory map. */
  memoryMap: 0x7000,
  /** The device list. */
  devices: 0x7400,
} as const;

const MIB = 0x10_0000;
const TWO_MIB = 0x20_0000;
// SDM Vol. 3A Table 4-15 (PDE mapping a 2 MiB page): P (bit 0), R/W (1), PS (7); U/S clear.
const PDE_2M = 0x83;
// Table 4-14/4-16 (PML4E, PDPTE referencing a table): P, R/W.
const TABLE = 0x3;

/** What {@link writeBootStructures} needs to know. */
export interface BootSetup {
  /** Guest RAM in bytes, starting at 0. */
  ramSize: number;
  /** The kernel command line (printable ASCII). */
  command: string;
  /** I/O base of the UART. */
  uartBase: number;
  /** I/O base of the debug-exit device. */
  debugExitBase: number;
  /** Number of vCPUs, 1..8 (default 1): one boot-info block each. */
  cpuCount?: number;
}

/**
 * Writes the boot page tables, boot-info block, command line, memory map and device list of
 * the boot protocol (README of `@vmkit/guest`, "Boot protocol"), with one boot-info block per
 * vCPU at `bootInfo + 64 × id`.
 *
 * @param mem - guest memory
 * @param setup - RAM size, command line, device bases
 * @returns the guest-physical address of vCPU 0's boot-info block (RDI at entry)
 */
export function writeBootStructures(mem: GuestPhysicalMemory, setup: BootSetup): number {
  // Identity map of [0, min(RAM, 1 GiB)) with 2 MiB pages (protocol, CR3 row). The map covers
  // whole 2 MiB pages; a RAM size that is not a multiple maps its last partial page's tail too,
  // which the kernel never touches (the memory map bounds it).
  mem.write32(bootLayout.pml4, bootLayout.pdpt | TABLE);
  mem.write32(bootLayout.pdpt, bootLayout.pd | TABLE);
  const mapped = Math.min(setup.ramSize, bootProtocol.directMapLimit);
  for (let k = 0; k * TWO_MIB < mapped; k++)
    mem.write32(bootLayout.pd + 8 * k, (k * TWO_MIB + PDE_2M) >>> 0);

  const memoryMap = encodeMemoryMap([
    { base: 0, length: MIB, type: MemoryType.reserved },
    { base: MIB, length: setup.ramSize - MIB, type: MemoryType.usable },
  ]);
  const devices = encodeDeviceList([
    { type: DeviceType.uart16550, flags: 0, base: setup.uartBase, size: 8 },
    { type: DeviceType.debugExit, flags: 0, base: setup.debugExitBase, size: 4 },
  ]);
  mem.writeBytes(bootLayout.cmdline, new TextEncoder().encode(`${setup.command}\0`));
  mem.writeBytes(bootLayout.memoryMap, memoryMap);
  mem.writeBytes(bootLayout.devices, devices);
  const cpuCount = setup.cpuCount ?? 1;
  for (let cpuId = 0; cpuId < cpuCount; cpuId++)
    mem.writeBytes(
      bootLayout.bootInfo + bootProtocol.bootInfoSize * cpuId,
      encodeBootInfo({
        cpuCount,
        cpuId,
        cmdlineAddress: bootLayout.cmdline,
        cmdlineLength: setup.command.length,
        memoryMapCount: memoryMap.length / bootProtocol.memoryEntrySize,
        memoryMapAddress: bootLayout.memoryMap,
        deviceCount: devices.length / bootProtocol.deviceEntrySize,
        devicesAddress: bootLayout.devices,
      }),
    );
  return bootLayout.bootInfo;
}

// Protocol "CPU state at entry": CR0 = PG|WP|NE|ET|MP|PE, CR4 = PAE, EFER = LMA|LME.
const CR0_AT_ENTRY = 0x8001_0033;
const CR4_AT_ENTRY = 0x20;
const EFER_AT_ENTRY = 0x500;

/** The paging registers at entry (boot protocol, "CPU state at entry"). */
export const BOOT_REGISTERS = {
  /** CR0: PG, WP, NE, ET, MP, PE. */
  cr0: CR0_AT_ENTRY,
  /** CR3: the boot PML4. */
  cr3: BigInt(bootLayout.pml4),
  /** CR4: PAE. */
  cr4: CR4_AT_ENTRY,
  /** EFER: LMA, LME. */
  efer: EFER_AT_ENTRY,
} as const;
/** A 64-bit TSS is 104 bytes (SDM Vol. 3A §8.7, Figure 8-11): limit 0x67. */
const TSS_LIMIT = 0x67;

/**
 * Puts a vCPU in the protocol's entry state: 64-bit mode at CPL 0 with the boot page tables,
 * flat selectors 0x10/0x18, a busy TSS, IF = 0, RIP = entry, RDI = its boot-info block.
 *
 * @param cpu - the vCPU
 * @param entry - `e_entry`
 * @param bootInfo - this vCPU's boot-info address
 */
export function enterLongMode(cpu: Cpu, entry: number, bootInfo: number): void {
  cpu.cr0 = CR0_AT_ENTRY;
  cpu.cr4 = CR4_AT_ENTRY;
  cpu.efer = EFER_AT_ENTRY;
  cpu.cs = bootProtocol.kernelCodeSelector;
  cpu.ss = bootProtocol.kernelDataSelector;
  cpu.tr = { selector: 0, base: 0n, limit: TSS_LIMIT };
  cpu.cr3 = BigInt(bootLayout.pml4);
  cpu.syncPaging();
  cpu.rip = BigInt(entry);
  cpu.setReg('rdi', BigInt(bootInfo));
}
