// Register attributes transcribed from the specifications, independently of src/: each row is
// [offset, size, reset value, RW mask, RW1C mask] for the example function built by
// `exampleFunction()` below. Bits in neither mask are RO (or reserved, reading 0).

import { type BarDefinition, PciFunction } from '../src/index.js';

export type Row = readonly [
  offset: number,
  size: 1 | 2 | 4,
  reset: number,
  rw: number,
  rw1c: number,
];

/** The example function the tables describe. */
export const EXAMPLE = {
  vendorId: 0x8086,
  deviceId: 0x10c9,
  revisionId: 0x01,
  classCode: 0x02_00_00,
  subsystemVendorId: 0x8086,
  subsystemId: 0xa03c,
  interruptPin: 1,
} as const;

export const EXAMPLE_BARS: BarDefinition[] = [
  { index: 0, kind: 'memory64', size: 0x4000, prefetchable: true }, // BAR0+BAR1
  { index: 2, kind: 'memory32', size: 0x1000 },
  { index: 3, kind: 'io', size: 0x20 },
];

export function exampleFunction(): PciFunction {
  return new PciFunction({ ...EXAMPLE, interruptPin: 1, bars: EXAMPLE_BARS });
}

/**
 * Type 0 header. PCI Local Bus 3.0 §6.1 Figure 6-1 for the layout; PCIe Base 4.0 §7.5.1.1.3
 * (Command: bits 0,1,2,6,8,10 RW; 3,4,5,7,9 RO 0 for PCIe), §7.5.1.1.4 (Status: 8, 11-15 RW1C;
 * 3, 4 RO; the rest RO/RsvdZ), §7.5.1.1.6 (Cache Line Size RW), §7.5.1.1.7 (Latency Timer RO 0),
 * §7.5.1.1.10 (BIST RO 0 when unsupported), §7.5.1.2.1 (BARs), §7.5.1.1.12/13 (Interrupt Line RW,
 * Interrupt Pin RO), §7.5.1.2.x (Min_Gnt/Max_Lat RO 0 for PCIe).
 */
export const TYPE0_TABLE: readonly Row[] = [
  [0x00, 2, 0x8086, 0, 0], // Vendor ID
  [0x02, 2, 0x10c9, 0, 0], // Device ID
  [0x04, 2, 0x0000, 0b0000_0101_0100_0111, 0], // Command
  [0x06, 2, 0x0000, 0, 0b1111_1001_0000_0000], // Status (no capabilities yet)
  [0x08, 1, 0x01, 0, 0], // Revision ID
  [0x09, 1, 0x00, 0, 0], // Programming Interface
  [0x0a, 1, 0x00, 0, 0], // Sub-class: Ethernet
  [0x0b, 1, 0x02, 0, 0], // Base class: network
  [0x0c, 1, 0x00, 0xff, 0], // Cache Line Size
  [0x0d, 1, 0x00, 0, 0], // Latency Timer
  [0x0e, 1, 0x00, 0, 0], // Header Type 0, single function
  [0x0f, 1, 0x00, 0, 0], // BIST
  // BAR0/1: 64-bit prefetchable 16 KiB: bits 3:0 = 1100b RO, 13:4 RO 0, 31:14 RW; upper all RW.
  [0x10, 4, 0x0000_000c, 0xffff_c000, 0],
  [0x14, 4, 0x0000_0000, 0xffff_ffff, 0],
  // BAR2: 32-bit non-prefetchable 4 KiB: bits 3:0 = 0000b, 31:12 RW.
  [0x18, 4, 0x0000_0000, 0xffff_f000, 0],
  // BAR3: I/O 32 bytes: bit 0 = 1, bit 1 reserved, 31:5 RW.
  [0x1c, 4, 0x0000_0001, 0xffff_ffe0, 0],
  [0x20, 4, 0, 0, 0], // BAR4 not implemented
  [0x24, 4, 0, 0, 0], // BAR5 not implemented
  [0x28, 4, 0, 0, 0], // CardBus CIS Pointer
  [0x2c, 2, 0x8086, 0, 0], // Subsystem Vendor ID
  [0x2e, 2, 0xa03c, 0, 0], // Subsystem ID
  [0x30, 4, 0, 0, 0], // Expansion ROM Base Address: no ROM
  [0x34, 1, 0x00, 0, 0], // Capabilities Pointer
  [0x35, 1, 0, 0, 0], // reserved
  [0x36, 2, 0, 0, 0], // reserved
  [0x38, 4, 0, 0, 0], // reserved
  [0x3c, 1, 0x00, 0xff, 0], // Interrupt Line
  [0x3d, 1, 0x01, 0, 0], // Interrupt Pin: INTA#
  [0x3e, 1, 0x00, 0, 0], // Min_Gnt
  [0x3f, 1, 0x00, 0, 0], // Max_Lat
];

/**
 * MSI capability with 64-bit address and per-vector masking, 4 vectors capable (PCI Local Bus
 * 3.0 §6.8.1, Figure 6-9 layout; Message Control §6.8.1.3: bit 0 RW, 3:1 RO, 6:4 RW, 7 RO,
 * 8 RO, 15:9 reserved; Address §6.8.1.4: 1:0 RO 0; Mask §6.8.1.7 RW for implemented vectors).
 * Offsets are relative to the capability.
 */
export const MSI64_MASKED_4: readonly Row[] = [
  [0x00, 1, 0x05, 0, 0],
  [0x02, 2, (2 << 1) | (1 << 7) | (1 << 8), 0x0071, 0],
  [0x04, 4, 0, 0xffff_fffc, 0],
  [0x08, 4, 0, 0xffff_ffff, 0],
  [0x0c, 2, 0, 0xffff, 0],
  [0x0e, 2, 0, 0, 0],
  [0x10, 4, 0, 0x0000_000f, 0],
  [0x14, 4, 0, 0, 0],
];

/**
 * MSI-X capability, 3 vectors, table in BAR0 at 0x2000, PBA in BAR0 at 0x3000 (PCI Local Bus
 * 3.0 §6.8.2.3: Table Size 10:0 RO = N-1, 13:11 reserved, 14 Function Mask RW, 15 Enable RW;
 * §6.8.2.4/5: Offset/BIR registers RO).
 */
export const MSIX_3: readonly Row[] = [
  [0x00, 1, 0x11, 0, 0],
  [0x02, 2, 0x0002, 0xc000, 0],
  [0x04, 4, 0x2000 | 0, 0, 0],
  [0x08, 4, 0x3000 | 0, 0, 0],
];

/**
 * PCI Express Capability v2 of a 2.5... here 5 GT/s x8 endpoint with FLR (PCIe Base 4.0 §7.5.3):
 * Capabilities (§7.5.3.2), Device Capabilities (§7.5.3.3: MPS supported 001b = 256 B, Extended
 * Tag bit 5, Role-Based Error Reporting bit 15, FLR bit 28), Device Control (§7.5.3.4: bits 0-8,
 * 11-14 RW; reset RO 1, NS 1, MRRS 010b; bit 15 Initiate FLR reads 0), Device Status (§7.5.3.5:
 * 3:0 RW1C), Link Capabilities (§7.5.3.6), Link Control (§7.5.3.7), Link Status (§7.5.3.8).
 */
export const PCIE_ENDPOINT: readonly Row[] = [
  [0x00, 1, 0x10, 0, 0],
  [0x02, 2, 0x0002, 0, 0],
  [0x04, 4, 0x1000_8021, 0, 0],
  [0x08, 2, 0x2810, 0x79ff, 0],
  [0x0a, 2, 0x0000, 0, 0x000f],
  [0x0c, 4, 0x0000_0082, 0, 0],
  [0x10, 2, 0x0000, 0x00cb, 0],
  [0x12, 2, 0x0082, 0, 0],
  [0x14, 4, 0, 0, 0], // Slot Capabilities: reserved for an endpoint
  [0x18, 4, 0, 0, 0],
  [0x1c, 4, 0, 0, 0], // Root registers: reserved
  [0x20, 4, 0, 0, 0],
  [0x2c, 4, 0x0000_0006, 0, 0], // Supported Link Speeds Vector: 2.5 and 5 GT/s
  [0x30, 2, 0x0002, 0x000f, 0],
];

/**
 * ARI Extended Capability (PCIe Base 4.0, "ARI Extended Capability"; header ID 000Eh version 1):
 * ARI Capability RO (MFVC bit 0, ACS bit 1, Next Function Number 15:8); ARI Control: MFVC Function
 * Groups Enable bit 0, ACS Function Groups Enable bit 1, Function Group 6:4 (RW when capable).
 * Here: Next Function Number 5, ACS Function Groups capable.
 */
export const ARI_NEXT5_ACS: readonly Row[] = [
  [0x00, 4, 0x0001_000e, 0, 0],
  [0x04, 2, 0x0502, 0, 0],
  [0x06, 2, 0x0000, 0x0072, 0],
];
