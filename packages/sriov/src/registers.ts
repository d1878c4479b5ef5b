/** Length of the SR-IOV Extended Capability (PCIe Base 4.0 §9.3.3, Figure 9-10). */
export const SRIOV_CAPABILITY_LENGTH = 0x40;

/** Register offsets inside the SR-IOV Extended Capability (PCIe Base 4.0 §9.3.3). */
export const SriovReg = {
  /** SR-IOV Capabilities (§9.3.3.2). */
  CAPABILITIES: 0x04,
  /** SR-IOV Control (§9.3.3.3). */
  CONTROL: 0x08,
  /** SR-IOV Status (§9.3.3.4). */
  STATUS: 0x0a,
  /** InitialVFs (§9.3.3.5). */
  INITIAL_VFS: 0x0c,
  /** TotalVFs (§9.3.3.6). */
  TOTAL_VFS: 0x0e,
  /** NumVFs (§9.3.3.7). */
  NUM_VFS: 0x10,
  /** Function Dependency Link (§9.3.3.8). */
  FUNCTION_DEPENDENCY_LINK: 0x12,
  /** First VF Offset (§9.3.3.9). */
  FIRST_VF_OFFSET: 0x14,
  /** VF Stride (§9.3.3.10). */
  VF_STRIDE: 0x16,
  /** VF Device ID (§9.3.3.11). */
  VF_DEVICE_ID: 0x1a,
  /** Supported Page Sizes (§9.3.3.12). */
  SUPPORTED_PAGE_SIZES: 0x1c,
  /** System Page Size (§9.3.3.13). */
  SYSTEM_PAGE_SIZE: 0x20,
  /** VF BAR0 (§9.3.3.14); VF BAR n at 0x24 + 4n. */
  VF_BAR0: 0x24,
  /** VF Migration State Array Offset (§9.3.3.15). */
  VF_MIGRATION_STATE_ARRAY_OFFSET: 0x3c,
} as const;

/** SR-IOV Control bits (PCIe Base 4.0 §9.3.3.3). */
export const SriovControl = {
  /** VF Enable (bit 0). */
  VF_ENABLE: 1 << 0,
  /** VF Migration Enable (bit 1). */
  VF_MIGRATION_ENABLE: 1 << 1,
  /** VF Migration Interrupt Enable (bit 2). */
  VF_MIGRATION_INTERRUPT_ENABLE: 1 << 2,
  /** VF MSE: Memory Space Enable for all VFs (bit 3). */
  VF_MSE: 1 << 3,
  /** ARI Capable Hierarchy (bit 4). */
  ARI_CAPABLE_HIERARCHY: 1 << 4,
  /** VF 10-Bit Tag Requester Enable (bit 5). */
  VF_10BIT_TAG_REQUESTER_ENABLE: 1 << 5,
} as const;

/** SR-IOV Capabilities bits (PCIe Base 4.0 §9.3.3.2). */
export const SriovCapabilityBits = {
  /** VF Migration Capable (bit 0). */
  VF_MIGRATION_CAPABLE: 1 << 0,
  /** ARI Capable Hierarchy Preserved (bit 1). */
  ARI_CAPABLE_HIERARCHY_PRESERVED: 1 << 1,
} as const;
