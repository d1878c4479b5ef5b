// VM-execution, VM-exit and VM-entry controls, bit by bit: SDM Vol. 3C §25.6.1 Table 25-5
// (pin-based), §25.6.2 Tables 25-6 (primary processor-based), 25-7 (secondary) and 25-8
// (tertiary), §25.7.1 table "Definitions of Primary VM-Exit Controls", §25.8.1 table
// "Definitions of VM-Entry Controls". Every value is a mask of its bit (tertiary: a bigint,
// the field is 64 bits wide). Bits not listed are reserved: the capability MSRs give their
// fixed settings (see capabilities.ts).

/**
 * Pin-based VM-execution controls (SDM Vol. 3C §25.6.1, Table 25-5).
 *
 * @example
 * ```ts
 * const pin = PinBasedControls.EXTERNAL_INTERRUPT_EXITING | PinBasedControls.NMI_EXITING;
 * ```
 */
export const PinBasedControls = {
  /** Bit 0: external interrupts cause VM exits. */
  EXTERNAL_INTERRUPT_EXITING: 1 << 0,
  /** Bit 3: non-maskable interrupts cause VM exits. */
  NMI_EXITING: 1 << 3,
  /** Bit 5: virtual NMIs (NMI blocking tracked by the processor for the VMM). */
  VIRTUAL_NMIS: 1 << 5,
  /** Bit 6: activate VMX-preemption timer. */
  ACTIVATE_VMX_PREEMPTION_TIMER: 1 << 6,
  /** Bit 7: process posted interrupts. */
  PROCESS_POSTED_INTERRUPTS: 1 << 7,
} as const;

/**
 * Primary processor-based VM-execution controls (SDM Vol. 3C §25.6.2, Table 25-6).
 *
 * @example
 * ```ts
 * const primary = PrimaryProcessorControls.HLT_EXITING | PrimaryProcessorControls.USE_IO_BITMAPS;
 * ```
 */
export const PrimaryProcessorControls = {
  /** Bit 2: interrupt-window exiting. */
  INTERRUPT_WINDOW_EXITING: 1 << 2,
  /** Bit 3: use TSC offsetting. */
  USE_TSC_OFFSETTING: 1 << 3,
  /** Bit 7: HLT exiting. */
  HLT_EXITING: 1 << 7,
  /** Bit 9: INVLPG exiting. */
  INVLPG_EXITING: 1 << 9,
  /** Bit 10: MWAIT exiting. */
  MWAIT_EXITING: 1 << 10,
  /** Bit 11: RDPMC exiting. */
  RDPMC_EXITING: 1 << 11,
  /** Bit 12: RDTSC exiting. */
  RDTSC_EXITING: 1 << 12,
  /** Bit 15: CR3-load exiting. */
  CR3_LOAD_EXITING: 1 << 15,
  /** Bit 16: CR3-store exiting. */
  CR3_STORE_EXITING: 1 << 16,
  /** Bit 17: activate tertiary controls. */
  ACTIVATE_TERTIARY_CONTROLS: 1 << 17,
  /** Bit 19: CR8-load exiting. */
  CR8_LOAD_EXITING: 1 << 19,
  /** Bit 20: CR8-store exiting. */
  CR8_STORE_EXITING: 1 << 20,
  /** Bit 21: use TPR shadow. */
  USE_TPR_SHADOW: 1 << 21,
  /** Bit 22: NMI-window exiting. */
  NMI_WINDOW_EXITING: 1 << 22,
  /** Bit 23: MOV-DR exiting. */
  MOV_DR_EXITING: 1 << 23,
  /** Bit 24: unconditional I/O exiting. */
  UNCONDITIONAL_IO_EXITING: 1 << 24,
  /** Bit 25: use I/O bitmaps. */
  USE_IO_BITMAPS: 1 << 25,
  /** Bit 27: monitor trap flag. */
  MONITOR_TRAP_FLAG: 1 << 27,
  /** Bit 28: use MSR bitmaps. */
  USE_MSR_BITMAPS: 1 << 28,
  /** Bit 29: MONITOR exiting. */
  MONITOR_EXITING: 1 << 29,
  /** Bit 30: PAUSE exiting. */
  PAUSE_EXITING: 1 << 30,
  /** Bit 31: activate secondary controls. */
  ACTIVATE_SECONDARY_CONTROLS: 0x8000_0000,
} as const;

/**
 * Secondary processor-based VM-execution controls (SDM Vol. 3C §25.6.2, Table 25-7).
 *
 * @example
 * ```ts
 * const secondary = SecondaryProcessorControls.ENABLE_EPT | SecondaryProcessorControls.ENABLE_VPID;
 * ```
 */
export const SecondaryProcessorControls = {
  /** Bit 0: virtualize APIC accesses. */
  VIRTUALIZE_APIC_ACCESSES: 1 << 0,
  /** Bit 1: enable EPT. */
  ENABLE_EPT: 1 << 1,
  /** Bit 2: descriptor-table exiting. */
  DESCRIPTOR_TABLE_EXITING: 1 << 2,
  /** Bit 3: enable RDTSCP. */
  ENABLE_RDTSCP: 1 << 3,
  /** Bit 4: virtualize x2APIC mode. */
  VIRTUALIZE_X2APIC_MODE: 1 << 4,
  /** Bit 5: enable VPID. */
  ENABLE_VPID: 1 << 5,
  /** Bit 6: WBINVD exiting. */
  WBINVD_EXITING: 1 << 6,
  /** Bit 7: unrestricted guest. */
  UNRESTRICTED_GUEST: 1 << 7,
  /** Bit 8: APIC-register virtualization. */
  APIC_REGISTER_VIRTUALIZATION: 1 << 8,
  /** Bit 9: virtual-interrupt delivery. */
  VIRTUAL_INTERRUPT_DELIVERY: 1 << 9,
  /** Bit 10: PAUSE-loop exiting. */
  PAUSE_LOOP_EXITING: 1 << 10,
  /** Bit 11: RDRAND exiting. */
  RDRAND_EXITING: 1 << 11,
  /** Bit 12: enable INVPCID. */
  ENABLE_INVPCID: 1 << 12,
  /** Bit 13: enable VM functions. */
  ENABLE_VM_FUNCTIONS: 1 << 13,
  /** Bit 14: VMCS shadowing. */
  VMCS_SHADOWING: 1 << 14,
  /** Bit 15: enable ENCLS exiting. */
  ENABLE_ENCLS_EXITING: 1 << 15,
  /** Bit 16: RDSEED exiting. */
  RDSEED_EXITING: 1 << 16,
  /** Bit 17: enable PML (page-modification logging). */
  ENABLE_PML: 1 << 17,
  /** Bit 18: EPT-violation #VE. */
  EPT_VIOLATION_VE: 1 << 18,
  /** Bit 19: conceal VMX from PT. */
  CONCEAL_VMX_FROM_PT: 1 << 19,
  /** Bit 20: enable XSAVES/XRSTORS. */
  ENABLE_XSAVES_XRSTORS: 1 << 20,
  /** Bit 21: PASID translation. */
  PASID_TRANSLATION: 1 << 21,
  /** Bit 22: mode-based execute control for EPT. */
  MODE_BASED_EXECUTE_CONTROL_FOR_EPT: 1 << 22,
  /** Bit 23: sub-page write permissions for EPT. */
  SUB_PAGE_WRITE_PERMISSIONS_FOR_EPT: 1 << 23,
  /** Bit 24: Intel PT uses guest physical addresses. */
  INTEL_PT_USES_GUEST_PHYSICAL_ADDRESSES: 1 << 24,
  /** Bit 25: use TSC scaling. */
  USE_TSC_SCALING: 1 << 25,
  /** Bit 26: enable user wait and pause. */
  ENABLE_USER_WAIT_AND_PAUSE: 1 << 26,
  /** Bit 27: enable PCONFIG. */
  ENABLE_PCONFIG: 1 << 27,
  /** Bit 28: enable ENCLV exiting. */
  ENABLE_ENCLV_EXITING: 1 << 28,
  /** Bit 30: VMM bus-lock detection. */
  VMM_BUS_LOCK_DETECTION: 1 << 30,
  /** Bit 31: instruction timeout. */
  INSTRUCTION_TIMEOUT: 0x8000_0000,
} as const;

/**
 * Tertiary processor-based VM-execution controls (SDM Vol. 3C §25.6.2, Table 25-8). The field
 * is 64 bits wide, so the masks are bigints.
 *
 * @example
 * ```ts
 * const tertiary = TertiaryProcessorControls.IPI_VIRTUALIZATION;
 * ```
 */
export const TertiaryProcessorControls = {
  /** Bit 0: LOADIWKEY exiting. */
  LOADIWKEY_EXITING: 1n << 0n,
  /** Bit 1: enable HLAT. */
  ENABLE_HLAT: 1n << 1n,
  /** Bit 2: EPT paging-write control. */
  EPT_PAGING_WRITE_CONTROL: 1n << 2n,
  /** Bit 3: guest-paging verification. */
  GUEST_PAGING_VERIFICATION: 1n << 3n,
  /** Bit 4: IPI virtualization. */
  IPI_VIRTUALIZATION: 1n << 4n,
  /** Bit 7: virtualize IA32_SPEC_CTRL. */
  VIRTUALIZE_IA32_SPEC_CTRL: 1n << 7n,
} as const;

/**
 * Primary VM-exit controls (SDM Vol. 3C §25.7.1, table "Definitions of Primary VM-Exit
 * Controls").
 *
 * @example
 * ```ts
 * const exit = VmExitControls.HOST_ADDRESS_SPACE_SIZE | VmExitControls.ACKNOWLEDGE_INTERRUPT_ON_EXIT;
 * ```
 */
export const VmExitControls = {
  /** Bit 2: save debug controls (DR7, IA32_DEBUGCTL). */
  SAVE_DEBUG_CONTROLS: 1 << 2,
  /** Bit 9: host address-space size (return to a 64-bit host). */
  HOST_ADDRESS_SPACE_SIZE: 1 << 9,
  /** Bit 12: load IA32_PERF_GLOBAL_CTRL. */
  LOAD_IA32_PERF_GLOBAL_CTRL: 1 << 12,
  /** Bit 15: acknowledge interrupt on exit. */
  ACKNOWLEDGE_INTERRUPT_ON_EXIT: 1 << 15,
  /** Bit 18: save IA32_PAT. */
  SAVE_IA32_PAT: 1 << 18,
  /** Bit 19: load IA32_PAT. */
  LOAD_IA32_PAT: 1 << 19,
  /** Bit 20: save IA32_EFER. */
  SAVE_IA32_EFER: 1 << 20,
  /** Bit 21: load IA32_EFER. */
  LOAD_IA32_EFER: 1 << 21,
  /** Bit 22: save VMX-preemption timer value. */
  SAVE_VMX_PREEMPTION_TIMER_VALUE: 1 << 22,
  /** Bit 23: clear IA32_BNDCFGS. */
  CLEAR_IA32_BNDCFGS: 1 << 23,
  /** Bit 24: conceal VMX from PT. */
  CONCEAL_VMX_FROM_PT: 1 << 24,
  /** Bit 25: clear IA32_RTIT_CTL. */
  CLEAR_IA32_RTIT_CTL: 1 << 25,
  /** Bit 26: clear IA32_LBR_CTL. */
  CLEAR_IA32_LBR_CTL: 1 << 26,
  /** Bit 27: clear UINV. */
  CLEAR_UINV: 1 << 27,
  /** Bit 28: load CET state. */
  LOAD_CET_STATE: 1 << 28,
  /** Bit 29: load PKRS. */
  LOAD_PKRS: 1 << 29,
  /** Bit 30: save IA32_PERF_GLOBAL_CTL. */
  SAVE_IA32_PERF_GLOBAL_CTL: 1 << 30,
  /** Bit 31: activate secondary controls. */
  ACTIVATE_SECONDARY_CONTROLS: 0x8000_0000,
} as const;

/**
 * VM-entry controls (SDM Vol. 3C §25.8.1, table "Definitions of VM-Entry Controls").
 *
 * @example
 * ```ts
 * const entry = VmEntryControls.IA32E_MODE_GUEST | VmEntryControls.LOAD_IA32_EFER;
 * ```
 */
export const VmEntryControls = {
  /** Bit 2: load debug controls. */
  LOAD_DEBUG_CONTROLS: 1 << 2,
  /** Bit 9: IA-32e mode guest. */
  IA32E_MODE_GUEST: 1 << 9,
  /** Bit 10: entry to SMM. */
  ENTRY_TO_SMM: 1 << 10,
  /** Bit 11: deactivate dual-monitor treatment. */
  DEACTIVATE_DUAL_MONITOR_TREATMENT: 1 << 11,
  /** Bit 13: load IA32_PERF_GLOBAL_CTRL. */
  LOAD_IA32_PERF_GLOBAL_CTRL: 1 << 13,
  /** Bit 14: load IA32_PAT. */
  LOAD_IA32_PAT: 1 << 14,
  /** Bit 15: load IA32_EFER. */
  LOAD_IA32_EFER: 1 << 15,
  /** Bit 16: load IA32_BNDCFGS. */
  LOAD_IA32_BNDCFGS: 1 << 16,
  /** Bit 17: conceal VMX from PT. */
  CONCEAL_VMX_FROM_PT: 1 << 17,
  /** Bit 18: load IA32_RTIT_CTL. */
  LOAD_IA32_RTIT_CTL: 1 << 18,
  /** Bit 19: load UINV. */
  LOAD_UINV: 1 << 19,
  /** Bit 20: load CET state. */
  LOAD_CET_STATE: 1 << 20,
  /** Bit 21: load guest IA32_LBR_CTL. */
  LOAD_GUEST_IA32_LBR_CTL: 1 << 21,
  /** Bit 22: load PKRS. */
  LOAD_PKRS: 1 << 22,
} as const;

/**
 * The "default1" controls: reserved bits that are 1 in the non-TRUE capability MSRs, i.e. must
 * be 1 unless IA32_VMX_BASIC[55] = 1 and the matching TRUE MSR allows 0 (SDM Vol. 3D Appendix
 * A.2 and §A.3.1, §A.4.1, §A.5).
 */
export const DEFAULT1_CONTROLS = {
  /** Pin-based: bits 1, 2 and 4 (SDM Vol. 3D §A.3.1). */
  PIN_BASED: 0x0000_0016,
  /** Primary processor-based: bits 1, 4-6, 8, 13-16 and 26 (SDM Vol. 3D §A.3.2). */
  PRIMARY_PROCESSOR: 0x0401_e172,
  /** VM-exit: bits 0-8, 10, 11, 13, 14, 16 and 17 (SDM Vol. 3D §A.4.1). */
  VM_EXIT: 0x0003_6dff,
  /** VM-entry: bits 0-8 and 12 (SDM Vol. 3D §A.5). */
  VM_ENTRY: 0x0000_11ff,
} as const;
