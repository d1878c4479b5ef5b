// The VMCS fields that govern VMX non-root operation, as the CPU takes them at VM entry (SDM
// Vol. 3C §25.6 "VM-Execution Control Fields", §25.8.3 "VM-Entry Controls for Event
// Injection").
import type { IoBitmaps, MsrBitmap } from '@vmkit/vmx';

/**
 * The VM-execution control fields of one guest (SDM Vol. 3C §25.6), given to
 * {@link Cpu.vmEntry}. Masks use the bit values of `@vmkit/vmx`'s `PinBasedControls`,
 * `PrimaryProcessorControls` and `SecondaryProcessorControls`; the secondary controls apply
 * only when the primary "activate secondary controls" bit is 1 (§25.6.2). The 32-bit fields
 * may be given as JavaScript's signed results of `|` (a mask with bit 31 is negative): they
 * are taken modulo 2^32.
 */
export interface VmxControls {
  /** Pin-based VM-execution controls (§25.6.1). */
  readonly pinBased: number;
  /** Primary processor-based VM-execution controls (§25.6.2). */
  readonly primary: number;
  /** Secondary processor-based VM-execution controls (§25.6.2). */
  readonly secondary: number;
  /** Exception bitmap (§25.6.3): bit n set makes exception n exit. */
  readonly exceptionBitmap: number;
  /** Page-fault error-code mask (§25.6.3); default 0. */
  readonly pageFaultErrorCodeMask?: number;
  /** Page-fault error-code match (§25.6.3); default 0. */
  readonly pageFaultErrorCodeMatch?: number;
  /** I/O bitmaps A and B (§25.6.4), used with "use I/O bitmaps". */
  readonly ioBitmaps?: IoBitmaps;
  /** The MSR-bitmap page (§25.6.9), used with "use MSR bitmaps". */
  readonly msrBitmap?: MsrBitmap;
  /** CR0 guest/host mask (§25.6.6); default 0n. */
  readonly cr0GuestHostMask?: bigint;
  /** CR0 read shadow (§25.6.6); default 0n. */
  readonly cr0ReadShadow?: bigint;
  /** CR4 guest/host mask (§25.6.6); default 0n. */
  readonly cr4GuestHostMask?: bigint;
  /** CR4 read shadow (§25.6.6); default 0n. */
  readonly cr4ReadShadow?: bigint;
  /** CR3-target values (§25.6.7), at most 4; the CR3-target count is their number. */
  readonly cr3Targets?: readonly bigint[];
  /** PLE_Gap (§25.6.13), in TSC cycles; default 0. */
  readonly pleGap?: number;
  /** PLE_Window (§25.6.13), in TSC cycles; default 0. */
  readonly pleWindow?: number;
  /** VMX-preemption timer value loaded at VM entry (§26.5.1, §27.7.4); default 0. */
  readonly preemptionTimer?: number;
  /**
   * The timer rate X (IA32_VMX_MISC[4:0], SDM Vol. 3D §A.6): the timer counts down each time
   * TSC bit X changes. Default 0: once per TSC tick.
   */
  readonly preemptionTimerRate?: number;
}

/**
 * An event to inject at VM entry (SDM Vol. 3C §25.8.3, §27.6): the VM-entry interruption
 * information's type and vector, the error code (pushed when given) and, for software
 * interrupts and exceptions, the VM-entry instruction length (the return RIP is RIP plus it).
 */
export interface EntryInjection {
  /** `InterruptionType` of `@vmkit/vmx`: external interrupt, NMI, hardware exception, ... */
  readonly type: number;
  /** The vector, 0..255 (0..31 for exceptions, 2 for NMI). */
  readonly vector: number;
  /** The error code to push (hardware exceptions that have one). */
  readonly errorCode?: number;
  /** VM-entry instruction length, 1..15, for software interrupts and exceptions. */
  readonly instructionLength?: number;
}
