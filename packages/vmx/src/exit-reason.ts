// Basic exit reasons, SDM Vol. 3D Appendix C ("VMX Basic Exit Reasons", Table C-1), and the
// layout of the exit-reason field, SDM Vol. 3C §25.9.1 ("Basic VM-Exit Information",
// table "Format of Exit Reason").
import { fit, flag, low32 } from './bits.js';

/**
 * The basic exit reasons (bits 15:0 of the exit-reason field), numbered as in SDM Vol. 3D
 * Appendix C, Table C-1. Numbers 35, 38, 42 and 71 are not used by the SDM.
 *
 * @example
 * ```ts
 * if ((exitReason & 0xffff) === BasicExitReason.IO_INSTRUCTION) handlePio();
 * ```
 */
export const BasicExitReason = {
  /** 0: Exception or non-maskable interrupt (NMI). */
  EXCEPTION_OR_NMI: 0,
  /** 1: External interrupt. */
  EXTERNAL_INTERRUPT: 1,
  /** 2: Triple fault. */
  TRIPLE_FAULT: 2,
  /** 3: INIT signal. */
  INIT_SIGNAL: 3,
  /** 4: Start-up IPI (SIPI). */
  STARTUP_IPI: 4,
  /** 5: I/O system-management interrupt (SMI). */
  IO_SMI: 5,
  /** 6: Other SMI. */
  OTHER_SMI: 6,
  /** 7: Interrupt window. */
  INTERRUPT_WINDOW: 7,
  /** 8: NMI window. */
  NMI_WINDOW: 8,
  /** 9: Task switch. */
  TASK_SWITCH: 9,
  /** 10: CPUID. */
  CPUID: 10,
  /** 11: GETSEC. */
  GETSEC: 11,
  /** 12: HLT. */
  HLT: 12,
  /** 13: INVD. */
  INVD: 13,
  /** 14: INVLPG. */
  INVLPG: 14,
  /** 15: RDPMC. */
  RDPMC: 15,
  /** 16: RDTSC. */
  RDTSC: 16,
  /** 17: RSM. */
  RSM: 17,
  /** 18: VMCALL. */
  VMCALL: 18,
  /** 19: VMCLEAR. */
  VMCLEAR: 19,
  /** 20: VMLAUNCH. */
  VMLAUNCH: 20,
  /** 21: VMPTRLD. */
  VMPTRLD: 21,
  /** 22: VMPTRST. */
  VMPTRST: 22,
  /** 23: VMREAD. */
  VMREAD: 23,
  /** 24: VMRESUME. */
  VMRESUME: 24,
  /** 25: VMWRITE. */
  VMWRITE: 25,
  /** 26: VMXOFF. */
  VMXOFF: 26,
  /** 27: VMXON. */
  VMXON: 27,
  /** 28: Control-register accesses. */
  CONTROL_REGISTER_ACCESSES: 28,
  /** 29: MOV DR. */
  MOV_DR: 29,
  /** 30: I/O instruction. */
  IO_INSTRUCTION: 30,
  /** 31: RDMSR. */
  RDMSR: 31,
  /** 32: WRMSR. */
  WRMSR: 32,
  /** 33: VM-entry failure due to invalid guest state. */
  VM_ENTRY_FAILURE_INVALID_GUEST_STATE: 33,
  /** 34: VM-entry failure due to MSR loading. */
  VM_ENTRY_FAILURE_MSR_LOADING: 34,
  /** 36: MWAIT. */
  MWAIT: 36,
  /** 37: Monitor trap flag. */
  MONITOR_TRAP_FLAG: 37,
  /** 39: MONITOR. */
  MONITOR: 39,
  /** 40: PAUSE. */
  PAUSE: 40,
  /** 41: VM-entry failure due to machine-check event. */
  VM_ENTRY_FAILURE_MACHINE_CHECK_EVENT: 41,
  /** 43: TPR below threshold. */
  TPR_BELOW_THRESHOLD: 43,
  /** 44: APIC access. */
  APIC_ACCESS: 44,
  /** 45: Virtualized EOI. */
  VIRTUALIZED_EOI: 45,
  /** 46: Access to GDTR or IDTR. */
  ACCESS_TO_GDTR_OR_IDTR: 46,
  /** 47: Access to LDTR or TR. */
  ACCESS_TO_LDTR_OR_TR: 47,
  /** 48: EPT violation (qualification: `EPT_QUALIFICATION` of `@vmkit/ept`). */
  EPT_VIOLATION: 48,
  /** 49: EPT misconfiguration. */
  EPT_MISCONFIGURATION: 49,
  /** 50: INVEPT. */
  INVEPT: 50,
  /** 51: RDTSCP. */
  RDTSCP: 51,
  /** 52: VMX-preemption timer expired. */
  VMX_PREEMPTION_TIMER_EXPIRED: 52,
  /** 53: INVVPID. */
  INVVPID: 53,
  /** 54: WBINVD or WBNOINVD. */
  WBINVD_OR_WBNOINVD: 54,
  /** 55: XSETBV. */
  XSETBV: 55,
  /** 56: APIC write. */
  APIC_WRITE: 56,
  /** 57: RDRAND. */
  RDRAND: 57,
  /** 58: INVPCID. */
  INVPCID: 58,
  /** 59: VMFUNC. */
  VMFUNC: 59,
  /** 60: ENCLS. */
  ENCLS: 60,
  /** 61: RDSEED. */
  RDSEED: 61,
  /** 62: Page-modification log full. */
  PAGE_MODIFICATION_LOG_FULL: 62,
  /** 63: XSAVES. */
  XSAVES: 63,
  /** 64: XRSTORS. */
  XRSTORS: 64,
  /** 65: PCONFIG. */
  PCONFIG: 65,
  /** 66: SPP-related event. */
  SPP_RELATED_EVENT: 66,
  /** 67: UMWAIT. */
  UMWAIT: 67,
  /** 68: TPAUSE. */
  TPAUSE: 68,
  /** 69: LOADIWKEY. */
  LOADIWKEY: 69,
  /** 70: ENCLV. */
  ENCLV: 70,
  /** 72: ENQCMD PASID translation failure. */
  ENQCMD_PASID_TRANSLATION_FAILURE: 72,
  /** 73: ENQCMDS PASID translation failure. */
  ENQCMDS_PASID_TRANSLATION_FAILURE: 73,
  /** 74: Bus lock. */
  BUS_LOCK: 74,
  /** 75: Instruction timeout. */
  INSTRUCTION_TIMEOUT: 75,
  /** 76: SEAMCALL. */
  SEAMCALL: 76,
  /** 77: TDCALL. */
  TDCALL: 77,
} as const;

/** One of the numbers of {@link BasicExitReason}. */
export type BasicExitReasonNumber = (typeof BasicExitReason)[keyof typeof BasicExitReason];

// The names exactly as the "Exit Reason" column of Table C-1 spells them.
const NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'Exception or non-maskable interrupt (NMI)'],
  [1, 'External interrupt'],
  [2, 'Triple fault'],
  [3, 'INIT signal'],
  [4, 'Start-up IPI (SIPI)'],
  [5, 'I/O system-management interrupt (SMI)'],
  [6, 'Other SMI'],
  [7, 'Interrupt window'],
  [8, 'NMI window'],
  [9, 'Task switch'],
  [10, 'CPUID'],
  [11, 'GETSEC'],
  [12, 'HLT'],
  [13, 'INVD'],
  [14, 'INVLPG'],
  [15, 'RDPMC'],
  [16, 'RDTSC'],
  [17, 'RSM'],
  [18, 'VMCALL'],
  [19, 'VMCLEAR'],
  [20, 'VMLAUNCH'],
  [21, 'VMPTRLD'],
  [22, 'VMPTRST'],
  [23, 'VMREAD'],
  [24, 'VMRESUME'],
  [25, 'VMWRITE'],
  [26, 'VMXOFF'],
  [27, 'VMXON'],
  [28, 'Control-register accesses'],
  [29, 'MOV DR'],
  [30, 'I/O instruction'],
  [31, 'RDMSR'],
  [32, 'WRMSR'],
  [33, 'VM-entry failure due to invalid guest state'],
  [34, 'VM-entry failure due to MSR loading'],
  [36, 'MWAIT'],
  [37, 'Monitor trap flag'],
  [39, 'MONITOR'],
  [40, 'PAUSE'],
  [41, 'VM-entry failure due to machine-check event'],
  [43, 'TPR below threshold'],
  [44, 'APIC access'],
  [45, 'Virtualized EOI'],
  [46, 'Access to GDTR or IDTR'],
  [47, 'Access to LDTR or TR'],
  [48, 'EPT violation'],
  [49, 'EPT misconfiguration'],
  [50, 'INVEPT'],
  [51, 'RDTSCP'],
  [52, 'VMX-preemption timer expired'],
  [53, 'INVVPID'],
  [54, 'WBINVD or WBNOINVD'],
  [55, 'XSETBV'],
  [56, 'APIC write'],
  [57, 'RDRAND'],
  [58, 'INVPCID'],
  [59, 'VMFUNC'],
  [60, 'ENCLS'],
  [61, 'RDSEED'],
  [62, 'Page-modification log full'],
  [63, 'XSAVES'],
  [64, 'XRSTORS'],
  [65, 'PCONFIG'],
  [66, 'SPP-related event'],
  [67, 'UMWAIT'],
  [68, 'TPAUSE'],
  [69, 'LOADIWKEY'],
  [70, 'ENCLV'],
  [72, 'ENQCMD PASID translation failure'],
  [73, 'ENQCMDS PASID translation failure'],
  [74, 'Bus lock'],
  [75, 'Instruction timeout'],
  [76, 'SEAMCALL'],
  [77, 'TDCALL'],
]);

/**
 * The SDM's name of a basic exit reason (SDM Vol. 3D Appendix C, Table C-1, column "Exit
 * Reason"), for traces and reports.
 *
 * @param basic - a basic exit reason (bits 15:0 of the exit-reason field)
 * @returns the name, or `undefined` for a number the SDM does not define
 * @example
 * ```ts
 * basicExitReasonName(BasicExitReason.IO_INSTRUCTION); // 'I/O instruction'
 * ```
 */
export function basicExitReasonName(basic: number): string | undefined {
  return NAMES.get(basic);
}

/**
 * The exit-reason field, decoded (SDM Vol. 3C §25.9.1, table "Format of Exit Reason").
 * Bits 16, 25:17 and 30 are not defined (bit 16 is always cleared to 0).
 */
export interface ExitReason {
  /** Bits 15:0: the basic exit reason ({@link BasicExitReason}). */
  readonly basic: number;
  /** Bit 26: a bus lock was asserted while the instruction that caused the exit executed. */
  readonly busLockDetected: boolean;
  /** Bit 27: the VM exit was incident to enclave mode. */
  readonly enclaveMode: boolean;
  /** Bit 28: pending MTF VM exit (for SMM VM exits: an MTF VM exit was pending). */
  readonly pendingMtf: boolean;
  /** Bit 29: VM exit from VMX root operation (SMM VM exits of the dual-monitor treatment). */
  readonly fromVmxRoot: boolean;
  /** Bit 31: VM-entry failure (0 = true VM exit; 1 = VM-entry failure). */
  readonly vmEntryFailure: boolean;
}

/** Masks of the single-bit fields of the exit-reason field (SDM Vol. 3C §25.9.1). */
export const EXIT_REASON = {
  /** Bits 15:0: basic exit reason. */
  BASIC_MASK: 0xffff,
  /** Bit 26: bus lock detected. */
  BUS_LOCK_DETECTED: 1 << 26,
  /** Bit 27: exit incident to enclave mode. */
  ENCLAVE_MODE: 1 << 27,
  /** Bit 28: pending MTF VM exit. */
  PENDING_MTF: 1 << 28,
  /** Bit 29: VM exit from VMX root operation. */
  FROM_VMX_ROOT: 1 << 29,
  /** Bit 31: VM-entry failure. */
  VM_ENTRY_FAILURE: 0x8000_0000,
} as const;

/**
 * Encodes the exit-reason field.
 *
 * @param reason - the fields; `basic` must fit in 16 bits
 * @returns the 32-bit field value
 * @throws {@link VmxError} `INVALID_FIELD` when a field does not fit
 * @example
 * ```ts
 * encodeExitReason({ basic: 33, busLockDetected: false, enclaveMode: false,
 *   pendingMtf: false, fromVmxRoot: false, vmEntryFailure: true }); // 0x80000021
 * ```
 */
export function encodeExitReason(reason: ExitReason): number {
  return (
    (fit(reason.basic, 16, 'basic') |
      (flag(reason.busLockDetected, 'busLockDetected') << 26) |
      (flag(reason.enclaveMode, 'enclaveMode') << 27) |
      (flag(reason.pendingMtf, 'pendingMtf') << 28) |
      (flag(reason.fromVmxRoot, 'fromVmxRoot') << 29) |
      (flag(reason.vmEntryFailure, 'vmEntryFailure') << 31)) >>>
    0
  );
}

/**
 * Decodes the exit-reason field. Undefined bits are ignored.
 *
 * @param value - the 32-bit field value (number or bigint)
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` for a negative or non-integer value
 * @example
 * ```ts
 * decodeExitReason(0x8000_0021).vmEntryFailure; // true
 * ```
 */
export function decodeExitReason(value: number | bigint): ExitReason {
  const v = low32(value, 'exit reason');
  return {
    basic: v & 0xffff,
    busLockDetected: ((v >>> 26) & 1) === 1,
    enclaveMode: ((v >>> 27) & 1) === 1,
    pendingMtf: ((v >>> 28) & 1) === 1,
    fromVmxRoot: ((v >>> 29) & 1) === 1,
    vmEntryFailure: v >>> 31 === 1,
  };
}
