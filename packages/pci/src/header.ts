/**
 * Offsets of the Type 0 configuration header (PCI Local Bus 3.0 §6.1 Figure 6-1; PCIe Base 4.0
 * §7.5.1.1 for the part common to Type 0 and Type 1, §7.5.1.2 for the Type 0 part).
 */
export const Type0 = {
  /** Vendor ID (0x00). */
  VENDOR_ID: 0x00,
  /** Device ID (0x02). */
  DEVICE_ID: 0x02,
  /** Command (0x04). */
  COMMAND: 0x04,
  /** Status (0x06). */
  STATUS: 0x06,
  /** Revision ID (0x08). */
  REVISION_ID: 0x08,
  /** Class Code (0x09). */
  CLASS_CODE: 0x09,
  /** Cache Line Size (0x0c). */
  CACHE_LINE_SIZE: 0x0c,
  /** Latency Timer (0x0d). */
  LATENCY_TIMER: 0x0d,
  /** Header Type (0x0e). */
  HEADER_TYPE: 0x0e,
  /** BIST (0x0f). */
  BIST: 0x0f,
  /** BAR0 (0x10). */
  BAR0: 0x10,
  /** Cardbus CIS Pointer (0x28). */
  CARDBUS_CIS_POINTER: 0x28,
  /** Subsystem Vendor ID (0x2c). */
  SUBSYSTEM_VENDOR_ID: 0x2c,
  /** Subsystem ID (0x2e). */
  SUBSYSTEM_ID: 0x2e,
  /** Expansion ROM Base (0x30). */
  EXPANSION_ROM_BASE: 0x30,
  /** Capabilities Pointer (0x34). */
  CAPABILITIES_POINTER: 0x34,
  /** Interrupt Line (0x3c). */
  INTERRUPT_LINE: 0x3c,
  /** Interrupt Pin (0x3d). */
  INTERRUPT_PIN: 0x3d,
  /** Min Gnt (0x3e). */
  MIN_GNT: 0x3e,
  /** Max Lat (0x3f). */
  MAX_LAT: 0x3f,
} as const;

/** Command register bits (PCIe Base 4.0 §7.5.1.1.3; PCI Local Bus 3.0 §6.2.2). */
export const Command = {
  /** I/O Space (bit 0). */
  IO_SPACE: 1 << 0,
  /** Memory Space (bit 1). */
  MEMORY_SPACE: 1 << 1,
  /** Bus Master (bit 2). */
  BUS_MASTER: 1 << 2,
  /** Special Cycles (bit 3). */
  SPECIAL_CYCLES: 1 << 3,
  /** Memory Write Invalidate (bit 4). */
  MEMORY_WRITE_INVALIDATE: 1 << 4,
  /** VGA Palette Snoop (bit 5). */
  VGA_PALETTE_SNOOP: 1 << 5,
  /** Parity Error Response (bit 6). */
  PARITY_ERROR_RESPONSE: 1 << 6,
  /** IDSEL Stepping (bit 7). */
  IDSEL_STEPPING: 1 << 7,
  /** SERR# Enable (bit 8). */
  SERR_ENABLE: 1 << 8,
  /** Fast Back To Back (bit 9). */
  FAST_BACK_TO_BACK: 1 << 9,
  /** Interrupt Disable (bit 10). */
  INTERRUPT_DISABLE: 1 << 10,
} as const;

/** Status register bits (PCIe Base 4.0 §7.5.1.1.4; PCI Local Bus 3.0 §6.2.3). */
export const Status = {
  /** Immediate Readiness (bit 0). */
  IMMEDIATE_READINESS: 1 << 0,
  /** Interrupt Status (bit 3). */
  INTERRUPT_STATUS: 1 << 3,
  /** Capabilities List (bit 4). */
  CAPABILITIES_LIST: 1 << 4,
  /** Capable 66 MHz (bit 5). */
  CAPABLE_66MHZ: 1 << 5,
  /** Fast Back To Back Capable (bit 7). */
  FAST_BACK_TO_BACK_CAPABLE: 1 << 7,
  /** Master Data Parity Error (bit 8). */
  MASTER_DATA_PARITY_ERROR: 1 << 8,
  /** Signaled Target Abort (bit 11). */
  SIGNALED_TARGET_ABORT: 1 << 11,
  /** Received Target Abort (bit 12). */
  RECEIVED_TARGET_ABORT: 1 << 12,
  /** Received Master Abort (bit 13). */
  RECEIVED_MASTER_ABORT: 1 << 13,
  /** Signaled System Error (bit 14). */
  SIGNALED_SYSTEM_ERROR: 1 << 14,
  /** Detected Parity Error (bit 15). */
  DETECTED_PARITY_ERROR: 1 << 15,
} as const;

/**
 * Command bits a PCI Express function implements as RW: I/O Space, Memory Space, Bus Master,
 * Parity Error Response, SERR# Enable, Interrupt Disable. PCIe Base 4.0 §7.5.1.1.3 makes
 * Special Cycle, Memory Write and Invalidate, VGA Palette Snoop, IDSEL Stepping and Fast
 * Back-to-Back read-only zero. I/O Space Enable is RO 0 when the function has no I/O BAR.
 */
export const COMMAND_WRITABLE =
  Command.IO_SPACE |
  Command.MEMORY_SPACE |
  Command.BUS_MASTER |
  Command.PARITY_ERROR_RESPONSE |
  Command.SERR_ENABLE |
  Command.INTERRUPT_DISABLE;

/** Status bits that are RW1C (PCIe Base 4.0 §7.5.1.1.4): the error-logging bits 8 and 11-15. */
export const STATUS_WRITE_ONE_TO_CLEAR =
  Status.MASTER_DATA_PARITY_ERROR |
  Status.SIGNALED_TARGET_ABORT |
  Status.RECEIVED_TARGET_ABORT |
  Status.RECEIVED_MASTER_ABORT |
  Status.SIGNALED_SYSTEM_ERROR |
  Status.DETECTED_PARITY_ERROR;

/** Header Type register: bit 7 marks a multi-function device, bits 6:0 the layout (PCI LB 3.0 §6.2.1). */
export const HEADER_TYPE_MULTI_FUNCTION = 0x80;

/** Capability IDs of the PCI-compatible capability list (PCI Code and ID Assignment Spec §2). */
export const CapabilityId = {
  /** Power Management (0x01). */
  POWER_MANAGEMENT: 0x01,
  /** MSI (0x05). */
  MSI: 0x05,
  /** Vendor Specific (0x09). */
  VENDOR_SPECIFIC: 0x09,
  /** PCI Express (0x10). */
  PCI_EXPRESS: 0x10,
  /** MSI X (0x11). */
  MSI_X: 0x11,
} as const;

/** Extended capability IDs (PCI Code and ID Assignment Spec §3). */
export const ExtendedCapabilityId = {
  /** Advanced Error Reporting (0x0001). */
  ADVANCED_ERROR_REPORTING: 0x0001,
  /** ARI (0x000e). */
  ARI: 0x000e,
  /** SR IOV (0x0010). */
  SR_IOV: 0x0010,
} as const;
