// Tables transcribed from the Intel SDM (2023 editions), as data, independently of src/.
// Every export of the package is checked against these in the *.test.ts files.

/** SDM Vol. 3D Appendix C, Table C-1 "Basic Exit Reasons": [number, exit reason]. */
export const TABLE_C1: ReadonlyArray<readonly [number, string]> = [
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
];

/** A bit range of a layout: [field, low bit, high bit]. */
export type Layout = ReadonlyArray<readonly [string, number, number]>;

/** SDM Vol. 3C §25.9.1, "Format of Exit Reason" (defined fields only). */
export const EXIT_REASON_LAYOUT: Layout = [
  ['basic', 0, 15],
  ['busLockDetected', 26, 26],
  ['enclaveMode', 27, 27],
  ['pendingMtf', 28, 28],
  ['fromVmxRoot', 29, 29],
  ['vmEntryFailure', 31, 31],
];

/** SDM Vol. 3C §28.2.1 Table 28-1, debug exceptions. */
export const TABLE_28_1: Layout = [
  ['breakpoints', 0, 3],
  ['busLockDetected', 11, 11],
  ['debugRegisterAccess', 13, 13],
  ['singleStep', 14, 14],
  ['rtm', 16, 16],
];

/** SDM Vol. 3C §28.2.1 Table 28-2, task switches. */
export const TABLE_28_2: Layout = [
  ['selector', 0, 15],
  ['source', 30, 31],
];

/** SDM Vol. 3C §28.2.1 Table 28-3, control-register accesses. */
export const TABLE_28_3: Layout = [
  ['controlRegister', 0, 3],
  ['accessType', 4, 5],
  ['lmswOperandType', 6, 6],
  ['generalPurposeRegister', 8, 11],
  ['lmswSourceData', 16, 31],
];

/** SDM Vol. 3C §28.2.1 Table 28-4, MOV DR. */
export const TABLE_28_4: Layout = [
  ['debugRegister', 0, 2],
  ['fromDr', 4, 4],
  ['generalPurposeRegister', 8, 11],
];

/** SDM Vol. 3C §28.2.1 Table 28-5, I/O instructions (size is bits 2:0, encoded size - 1). */
export const TABLE_28_5: Layout = [
  ['size', 0, 2],
  ['in', 3, 3],
  ['string', 4, 4],
  ['rep', 5, 5],
  ['immediate', 6, 6],
  ['port', 16, 31],
];

/** SDM Vol. 3C §28.2.1 Table 28-6, APIC-access VM exits. */
export const TABLE_28_6: Layout = [
  ['offset', 0, 11],
  ['accessType', 12, 15],
  ['asynchronous', 16, 16],
];

const MEMORY_OPERAND: Layout = [
  ['scaling', 0, 1],
  ['addressSize', 7, 9],
  ['segment', 15, 17],
  ['indexRegister', 18, 21],
  ['indexInvalid', 22, 22],
  ['baseRegister', 23, 26],
  ['baseInvalid', 27, 27],
];

/** SDM Vol. 3C §28.2.5, instruction information for INVEPT, INVPCID, INVVPID. */
export const INFO_INVALIDATION: Layout = [...MEMORY_OPERAND, ['reg2', 28, 31]];

/** SDM Vol. 3C §28.2.5, instruction information for LIDT, LGDT, SIDT, SGDT. */
export const INFO_DESCRIPTOR_TABLE: Layout = [
  ...MEMORY_OPERAND,
  ['operandSize32', 11, 11],
  ['instruction', 28, 29],
];

/** SDM Vol. 3C §28.2.5, instruction information for LLDT, LTR, SLDT, STR. */
export const INFO_SEGMENT_TABLE: Layout = [
  ...MEMORY_OPERAND,
  ['reg1', 3, 6],
  ['register', 10, 10],
  ['instruction', 28, 29],
];

/** SDM Vol. 3C §28.2.5, instruction information for VMCLEAR, VMPTRLD, VMPTRST, VMXON, XRSTORS, XSAVES. */
export const INFO_VMX_MEMORY: Layout = MEMORY_OPERAND;

/** SDM Vol. 3C §28.2.5, instruction information for VMREAD and VMWRITE. */
export const INFO_VMREAD_VMWRITE: Layout = [
  ...MEMORY_OPERAND,
  ['reg1', 3, 6],
  ['register', 10, 10],
  ['reg2', 28, 31],
];

/** SDM Vol. 3C §28.2.5, instruction information for INS and OUTS. */
export const INFO_STRING_IO: Layout = [
  ['addressSize', 7, 9],
  ['segment', 15, 17],
];

/** SDM Vol. 3C §28.2.5, instruction information for RDRAND and RDSEED. */
export const INFO_RANDOM: Layout = [
  ['destination', 3, 6],
  ['operandSize', 11, 12],
];

/** SDM Vol. 3C §25.9.2, VM-exit interruption information. */
export const EXIT_INTERRUPTION_LAYOUT: Layout = [
  ['vector', 0, 7],
  ['type', 8, 10],
  ['errorCodeValid', 11, 11],
  ['nmiUnblockingDueToIret', 12, 12],
  ['valid', 31, 31],
];

/** SDM Vol. 3C §25.9.3, IDT-vectoring information. */
export const IDT_VECTORING_LAYOUT: Layout = [
  ['vector', 0, 7],
  ['type', 8, 10],
  ['errorCodeValid', 11, 11],
  ['valid', 31, 31],
];

/** SDM Vol. 3C §25.8.3, VM-entry interruption information. */
export const ENTRY_INTERRUPTION_LAYOUT: Layout = [
  ['vector', 0, 7],
  ['type', 8, 10],
  ['deliverErrorCode', 11, 11],
  ['valid', 31, 31],
];

/** SDM Vol. 3C §25.6.1 Table 25-5: [bit, name]. */
export const TABLE_25_5: ReadonlyArray<readonly [number, string]> = [
  [0, 'External-interrupt exiting'],
  [3, 'NMI exiting'],
  [5, 'Virtual NMIs'],
  [6, 'Activate VMX-preemption timer'],
  [7, 'Process posted interrupts'],
];

/** SDM Vol. 3C §25.6.2 Table 25-6: [bit, name]. */
export const TABLE_25_6: ReadonlyArray<readonly [number, string]> = [
  [2, 'Interrupt-window exiting'],
  [3, 'Use TSC offsetting'],
  [7, 'HLT exiting'],
  [9, 'INVLPG exiting'],
  [10, 'MWAIT exiting'],
  [11, 'RDPMC exiting'],
  [12, 'RDTSC exiting'],
  [15, 'CR3-load exiting'],
  [16, 'CR3-store exiting'],
  [17, 'Activate tertiary controls'],
  [19, 'CR8-load exiting'],
  [20, 'CR8-store exiting'],
  [21, 'Use TPR shadow'],
  [22, 'NMI-window exiting'],
  [23, 'MOV-DR exiting'],
  [24, 'Unconditional I/O exiting'],
  [25, 'Use I/O bitmaps'],
  [27, 'Monitor trap flag'],
  [28, 'Use MSR bitmaps'],
  [29, 'MONITOR exiting'],
  [30, 'PAUSE exiting'],
  [31, 'Activate secondary controls'],
];

/** SDM Vol. 3C §25.6.2 Table 25-7: [bit, name]. */
export const TABLE_25_7: ReadonlyArray<readonly [number, string]> = [
  [0, 'Virtualize APIC accesses'],
  [1, 'Enable EPT'],
  [2, 'Descriptor-table exiting'],
  [3, 'Enable RDTSCP'],
  [4, 'Virtualize x2APIC mode'],
  [5, 'Enable VPID'],
  [6, 'WBINVD exiting'],
  [7, 'Unrestricted guest'],
  [8, 'APIC-register virtualization'],
  [9, 'Virtual-interrupt delivery'],
  [10, 'PAUSE-loop exiting'],
  [11, 'RDRAND exiting'],
  [12, 'Enable INVPCID'],
  [13, 'Enable VM functions'],
  [14, 'VMCS shadowing'],
  [15, 'Enable ENCLS exiting'],
  [16, 'RDSEED exiting'],
  [17, 'Enable PML'],
  [18, 'EPT-violation #VE'],
  [19, 'Conceal VMX from PT'],
  [20, 'Enable XSAVES/XRSTORS'],
  [21, 'PASID translation'],
  [22, 'Mode-based execute control for EPT'],
  [23, 'Sub-page write permissions for EPT'],
  [24, 'Intel PT uses guest physical addresses'],
  [25, 'Use TSC scaling'],
  [26, 'Enable user wait and pause'],
  [27, 'Enable PCONFIG'],
  [28, 'Enable ENCLV exiting'],
  [30, 'VMM bus-lock detection'],
  [31, 'Instruction timeout'],
];

/** SDM Vol. 3C §25.6.2 Table 25-8: [bit, name]. */
export const TABLE_25_8: ReadonlyArray<readonly [number, string]> = [
  [0, 'LOADIWKEY exiting'],
  [1, 'Enable HLAT'],
  [2, 'EPT paging-write control'],
  [3, 'Guest-paging verification'],
  [4, 'IPI virtualization'],
  [7, 'Virtualize IA32_SPEC_CTRL'],
];

/** SDM Vol. 3C §25.7.1, "Definitions of Primary VM-Exit Controls": [bit, name]. */
export const VM_EXIT_CONTROLS_TABLE: ReadonlyArray<readonly [number, string]> = [
  [2, 'Save debug controls'],
  [9, 'Host address-space size'],
  [12, 'Load IA32_PERF_GLOBAL_CTRL'],
  [15, 'Acknowledge interrupt on exit'],
  [18, 'Save IA32_PAT'],
  [19, 'Load IA32_PAT'],
  [20, 'Save IA32_EFER'],
  [21, 'Load IA32_EFER'],
  [22, 'Save VMX-preemption timer value'],
  [23, 'Clear IA32_BNDCFGS'],
  [24, 'Conceal VMX from PT'],
  [25, 'Clear IA32_RTIT_CTL'],
  [26, 'Clear IA32_LBR_CTL'],
  [27, 'Clear UINV'],
  [28, 'Load CET state'],
  [29, 'Load PKRS'],
  [30, 'Save IA32_PERF_GLOBAL_CTL'],
  [31, 'Activate secondary controls'],
];

/** SDM Vol. 3C §25.8.1, "Definitions of VM-Entry Controls": [bit, name]. */
export const VM_ENTRY_CONTROLS_TABLE: ReadonlyArray<readonly [number, string]> = [
  [2, 'Load debug controls'],
  [9, 'IA-32e mode guest'],
  [10, 'Entry to SMM'],
  [11, 'Deactivate dual-monitor treatment'],
  [13, 'Load IA32_PERF_GLOBAL_CTRL'],
  [14, 'Load IA32_PAT'],
  [15, 'Load IA32_EFER'],
  [16, 'Load IA32_BNDCFGS'],
  [17, 'Conceal VMX from PT'],
  [18, 'Load IA32_RTIT_CTL'],
  [19, 'Load UINV'],
  [20, 'Load CET state'],
  [21, 'Load guest IA32_LBR_CTL'],
  [22, 'Load PKRS'],
];

/** SDM Vol. 3D Appendix A: the default1 bits of each class, as bit lists. */
export const DEFAULT1_BITS = {
  pin: [1, 2, 4],
  primary: [1, 4, 5, 6, 8, 13, 14, 15, 16, 26],
  exit: [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 13, 14, 16, 17],
  entry: [0, 1, 2, 3, 4, 5, 6, 7, 8, 12],
} as const;

/** Normalizes an SDM control name into the constant-key spelling the package uses. */
export function keyOf(name: string): string {
  return name
    .toUpperCase()
    .replace(/#VE/g, 'VE')
    .replace(/I\/O/g, 'IO')
    .replace(/IA-32E/g, 'IA32E')
    .replace(/[^A-Z0-9]+/g, '_')
    .replace(/^_|_$/g, '');
}

/** SDM Vol. 3C §25.4.2 Table 25-3, "Format of Interruptibility State". */
export const TABLE_25_3: Layout = [
  ['blockingBySti', 0, 0],
  ['blockingByMovSs', 1, 1],
  ['blockingBySmi', 2, 2],
  ['blockingByNmi', 3, 3],
  ['enclaveInterruption', 4, 4],
];
