import { GuestError } from './errors.js';

/**
 * The constants of the vmkit boot protocol (README "Boot protocol"), mirrored from
 * `native/include/bootinfo.h`, `layout.h` and `syscall.h`; a test compiles the C header with gcc
 * and checks every value and offset against this table.
 */
export const bootProtocol = {
  /** `"VMKITBI1"` read as a little-endian u64: the first field of every boot-info block. */
  magic: 0x31494254494b4d56n,
  /** The boot-info format version this package writes and the kernel accepts. */
  version: 1,
  /** Size in bytes of one boot-info block. */
  bootInfoSize: 64,
  /** Size in bytes of one memory-map entry. */
  memoryEntrySize: 24,
  /** Size in bytes of one device-list entry. */
  deviceEntrySize: 24,
  /** Lowest guest-physical address of any PT_LOAD segment; below it the VMM keeps its structures. */
  kernelLoadAddress: 0x10_0000,
  /** The kernel identity-maps and uses RAM below this address only (1 GiB). */
  directMapLimit: 0x4000_0000,
  /** Virtual address of the built-in user programs (their p_vaddr; p_paddr is after the kernel). */
  userBase: 0x4000_0000,
  /** CS selector at entry: a flat 64-bit code segment, DPL 0. */
  kernelCodeSelector: 0x10,
  /** SS/DS/ES selector at entry: a flat data segment, DPL 0. */
  kernelDataSelector: 0x18,
  /** I/O port of the 16550 UART (transmit register; LSR at +5). */
  uartPort: 0x3f8,
  /** I/O port of the debug-exit device: a 32-bit OUT of the status ends the run. */
  debugExitPort: 0xf4,
  /** Debug-exit status bit for an unhandled kernel exception (OR the vector). */
  exitKernelFault: 0x1_0000,
  /** Debug-exit status of a kernel panic. */
  exitPanic: 0x2_0000,
  /** Maximum number of vCPUs the kernel runs. */
  maxCpus: 8,
  /** CPUID leaf 0x40000000 signature (EBX, ECX, EDX) by which the kernel recognises vmkit. */
  hypervisorSignature: 'vmkitvmkitvm',
  /** Hypercall numbers (VMCALL, number in RAX, arguments in RDI, RSI, RDX, R10, result in RAX). */
  hypercalls: {
    /** print(RDI = guest-physical address, RSI = length) -> bytes printed. */
    print: 0x1000,
    /** exit(RDI = status) -> does not return. */
    exit: 0x1001,
  },
} as const;

/** Memory-map entry types of the boot protocol. */
export const MemoryType = {
  /** RAM the kernel may allocate; zero-filled at entry. */
  usable: 1,
  /** Never touched by the kernel: boot page tables, boot-info blocks, holes. */
  reserved: 2,
} as const;

/** Device-list entry types of the boot protocol. */
export const DeviceType = {
  /** A 16550 UART; base = its first I/O port (0x3F8). */
  uart16550: 1,
  /** The debug-exit device; base = its I/O port (0xF4). */
  debugExit: 2,
} as const;

/** One memory-map entry: a guest-physical range and what it is. */
export interface MemoryMapEntry {
  /** First guest-physical byte. */
  base: number;
  /** Length in bytes. */
  length: number;
  /** {@link MemoryType} value: 1 usable (zero-filled RAM), 2 reserved. */
  type: number;
}

/** One device-list entry. */
export interface DeviceEntry {
  /** {@link DeviceType} value. */
  type: number;
  /** Device flags (0 for both current types). */
  flags: number;
  /** I/O port or guest-physical base. */
  base: number;
  /** Number of ports or bytes. */
  size: number;
}

/** The fields of one vCPU's boot-info block. Addresses are guest-physical. */
export interface BootInfo {
  /** Number of vCPUs, 1..8. */
  cpuCount: number;
  /** This vCPU's id; 0 is the bootstrap processor. */
  cpuId: number;
  /** Address of the NUL-terminated command line. */
  cmdlineAddress: number;
  /** Command-line length in bytes, without the NUL. */
  cmdlineLength: number;
  /** Number of memory-map entries. */
  memoryMapCount: number;
  /** Address of the memory map. */
  memoryMapAddress: number;
  /** Number of device-list entries. */
  deviceCount: number;
  /** Address of the device list. */
  devicesAddress: number;
}

const MAX_ADDRESS = 2 ** 52;

function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff)
    throw new GuestError('BAD_OPTIONS', `${name} must be a u32, got ${v}`);
}

function checkAddress(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= MAX_ADDRESS)
    throw new GuestError(
      'BAD_OPTIONS',
      `${name} must be a guest-physical address below 2^52, got ${v}`,
    );
}

/**
 * Encodes one vCPU's 64-byte boot-info block (layout: README "Boot protocol"), for a VMM that
 * boots the guest image directly.
 *
 * @param info - the block's fields
 * @returns the 64 bytes to place in guest memory; RDI points at them on entry
 * @throws GuestError `BAD_OPTIONS` when a field is out of range
 * @example
 * ```ts
 * const block = encodeBootInfo({ cpuCount: 2, cpuId: 1, cmdlineAddress: 0x6000, cmdlineLength: 5,
 *   memoryMapCount: 2, memoryMapAddress: 0x7000, deviceCount: 2, devicesAddress: 0x7400 });
 * ```
 */
export function encodeBootInfo(info: BootInfo): Uint8Array {
  if (!Number.isInteger(info.cpuCount) || info.cpuCount < 1 || info.cpuCount > bootProtocol.maxCpus)
    throw new GuestError(
      'BAD_OPTIONS',
      `cpuCount must be 1..${bootProtocol.maxCpus}, got ${info.cpuCount}`,
    );
  if (!Number.isInteger(info.cpuId) || info.cpuId < 0 || info.cpuId >= info.cpuCount)
    throw new GuestError('BAD_OPTIONS', `cpuId must be 0..cpuCount-1, got ${info.cpuId}`);
  checkAddress('cmdlineAddress', info.cmdlineAddress);
  checkAddress('memoryMapAddress', info.memoryMapAddress);
  checkAddress('devicesAddress', info.devicesAddress);
  checkU32('cmdlineLength', info.cmdlineLength);
  checkU32('memoryMapCount', info.memoryMapCount);
  checkU32('deviceCount', info.deviceCount);
  const bytes = new Uint8Array(bootProtocol.bootInfoSize);
  const v = new DataView(bytes.buffer);
  v.setBigUint64(0x00, bootProtocol.magic, true);
  v.setUint32(0x08, bootProtocol.version, true);
  v.setUint32(0x0c, bootProtocol.bootInfoSize, true);
  v.setUint32(0x10, info.cpuCount, true);
  v.setUint32(0x14, info.cpuId, true);
  v.setBigUint64(0x18, BigInt(info.cmdlineAddress), true);
  v.setUint32(0x20, info.cmdlineLength, true);
  v.setUint32(0x24, info.memoryMapCount, true);
  v.setBigUint64(0x28, BigInt(info.memoryMapAddress), true);
  v.setUint32(0x30, info.deviceCount, true);
  v.setUint32(0x34, 0, true);
  v.setBigUint64(0x38, BigInt(info.devicesAddress), true);
  return bytes;
}

/**
 * Decodes and validates a boot-info block (the inverse of {@link encodeBootInfo}).
 *
 * @param bytes - at least 64 bytes
 * @returns the fields
 * @throws GuestError `BAD_OPTIONS` on a short buffer, wrong magic, version or size
 */
export function decodeBootInfo(bytes: Uint8Array): BootInfo {
  if (bytes.length < bootProtocol.bootInfoSize)
    throw new GuestError('BAD_OPTIONS', 'boot-info block shorter than 64 bytes');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getBigUint64(0, true) !== bootProtocol.magic)
    throw new GuestError('BAD_OPTIONS', 'bad boot-info magic');
  if (v.getUint32(8, true) !== bootProtocol.version)
    throw new GuestError('BAD_OPTIONS', 'unsupported boot-info version');
  if (v.getUint32(12, true) !== bootProtocol.bootInfoSize)
    throw new GuestError('BAD_OPTIONS', 'bad boot-info size');
  return {
    cpuCount: v.getUint32(0x10, true),
    cpuId: v.getUint32(0x14, true),
    cmdlineAddress: Number(v.getBigUint64(0x18, true)),
    cmdlineLength: v.getUint32(0x20, true),
    memoryMapCount: v.getUint32(0x24, true),
    memoryMapAddress: Number(v.getBigUint64(0x28, true)),
    deviceCount: v.getUint32(0x30, true),
    devicesAddress: Number(v.getBigUint64(0x38, true)),
  };
}

/**
 * Encodes a memory map: 24 bytes per entry (u64 base, u64 length, u32 type, u32 zero).
 *
 * @param entries - the ranges, in any order
 * @returns the bytes to place at the boot-info `memoryMapAddress`
 * @throws GuestError `BAD_OPTIONS` on a negative, fractional or > 2^52 base or length
 */
export function encodeMemoryMap(entries: readonly MemoryMapEntry[]): Uint8Array {
  const bytes = new Uint8Array(entries.length * bootProtocol.memoryEntrySize);
  const v = new DataView(bytes.buffer);
  entries.forEach((e, i) => {
    checkAddress('base', e.base);
    checkAddress('length', e.length);
    checkU32('type', e.type);
    const o = i * bootProtocol.memoryEntrySize;
    v.setBigUint64(o, BigInt(e.base), true);
    v.setBigUint64(o + 8, BigInt(e.length), true);
    v.setUint32(o + 16, e.type, true);
  });
  return bytes;
}

/**
 * Encodes a device list: 24 bytes per entry (u32 type, u32 flags, u64 base, u64 size).
 *
 * @param devices - the devices
 * @returns the bytes to place at the boot-info `devicesAddress`
 * @throws GuestError `BAD_OPTIONS` on an out-of-range field
 */
export function encodeDeviceList(devices: readonly DeviceEntry[]): Uint8Array {
  const bytes = new Uint8Array(devices.length * bootProtocol.deviceEntrySize);
  const v = new DataView(bytes.buffer);
  devices.forEach((d, i) => {
    checkU32('type', d.type);
    checkU32('flags', d.flags);
    checkAddress('base', d.base);
    checkAddress('size', d.size);
    const o = i * bootProtocol.deviceEntrySize;
    v.setUint32(o, d.type, true);
    v.setUint32(o + 4, d.flags, true);
    v.setBigUint64(o + 8, BigInt(d.base), true);
    v.setBigUint64(o + 16, BigInt(d.size), true);
  });
  return bytes;
}
