// The CPU's VMX non-root state (SDM Vol. 3C chapter 26): the controls of the current guest,
// decoded once at VM entry into the booleans the exiting instructions test, plus the state
// non-root operation keeps between exits (the PLE detector, the preemption-timer deadline).
import {
  PauseLoopDetector,
  PinBasedControls as Pin,
  PrimaryProcessorControls as Primary,
  SecondaryProcessorControls as Secondary,
} from '@vmkit/vmx';
import { CpuError } from '../errors.js';
import type { VmxControls } from './controls.js';

const MASK64 = (1n << 64n) - 1n;

function u32(value: number | undefined, what: string): number {
  const v = value ?? 0;
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
    throw new CpuError('INVALID_VALUE', `${what} must be a 32-bit unsigned integer, got ${v}`);
  }
  return v;
}

// A 32-bit field given as a mask: JavaScript's `|` makes masks with bit 31 negative, so
// values in [-2^31, 0) are taken as their unsigned 32-bit pattern.
function bits32(value: number | undefined, what: string): number {
  const v = value ?? 0;
  if (!Number.isInteger(v) || v < -0x8000_0000 || v > 0xffff_ffff) {
    throw new CpuError('INVALID_VALUE', `${what} must be a 32-bit value, got ${v}`);
  }
  return v >>> 0;
}

function u64(value: bigint | undefined, what: string): bigint {
  const v = value ?? 0n;
  if (typeof v !== 'bigint' || v < 0n || v > MASK64) {
    throw new CpuError('INVALID_VALUE', `${what} must be a bigint in [0, 2^64)`);
  }
  return v;
}

/** The decoded controls and per-entry state of non-root operation (interpreter state). */
export class NonRootState {
  /** The controls as the VMM gave them. */
  readonly controls: VmxControls;
  /** Effective secondary controls: 0 unless "activate secondary controls" (§25.6.2). */
  readonly secondary: number;
  /** Pin-based "external-interrupt exiting". */
  readonly externalInterruptExiting: boolean;
  /** Primary "interrupt-window exiting". */
  readonly interruptWindowExiting: boolean;
  /** Primary "HLT exiting". */
  readonly hltExiting: boolean;
  /** Primary "INVLPG exiting". */
  readonly invlpgExiting: boolean;
  /** Primary "RDTSC exiting". */
  readonly rdtscExiting: boolean;
  /** Primary "CR3-load exiting". */
  readonly cr3LoadExiting: boolean;
  /** Primary "CR3-store exiting". */
  readonly cr3StoreExiting: boolean;
  /** Primary "CR8-load exiting". */
  readonly cr8LoadExiting: boolean;
  /** Primary "CR8-store exiting". */
  readonly cr8StoreExiting: boolean;
  /** Primary "unconditional I/O exiting". */
  readonly unconditionalIoExiting: boolean;
  /** Primary "use I/O bitmaps". */
  readonly useIoBitmaps: boolean;
  /** Primary "use MSR bitmaps". */
  readonly useMsrBitmaps: boolean;
  /** Primary "PAUSE exiting". */
  readonly pauseExiting: boolean;
  /** Secondary "PAUSE-loop exiting". */
  readonly pauseLoopExiting: boolean;
  /** Secondary "enable RDTSCP". */
  readonly enableRdtscp: boolean;
  /** Secondary "enable INVPCID". */
  readonly enableInvpcid: boolean;
  /** Secondary "enable EPT". */
  readonly enableEpt: boolean;
  /** Pin-based "activate VMX-preemption timer". */
  readonly preemptionTimerActive: boolean;
  /** Exception bitmap. */
  readonly exceptionBitmap: number;
  /** Page-fault error-code mask. */
  readonly pfecMask: number;
  /** Page-fault error-code match. */
  readonly pfecMatch: number;
  /** CR0 guest/host mask. */
  readonly cr0Mask: bigint;
  /** CR0 read shadow. */
  readonly cr0Shadow: bigint;
  /** CR4 guest/host mask. */
  readonly cr4Mask: bigint;
  /** CR4 read shadow. */
  readonly cr4Shadow: bigint;
  /** CR3-target values. */
  readonly cr3Targets: readonly bigint[];
  /** The PLE detector (PLE_Gap, PLE_Window), reset at each VM entry. */
  readonly ple: PauseLoopDetector;
  /** Preemption-timer value loaded at VM entry. */
  readonly timerValue: number;
  /** Preemption-timer rate X. */
  readonly timerRate: number;
  /** Source TSC (before the guest's IA32_TSC offset) at which the timer expires. */
  timerDeadline = Number.POSITIVE_INFINITY;

  /**
   * @param controls - the VM-execution controls
   * @throws {@link CpuError} `INVALID_VALUE` for a field out of range or missing bitmaps
   */
  constructor(controls: VmxControls) {
    this.controls = controls;
    const pin = bits32(controls.pinBased, 'pinBased');
    const primary = bits32(controls.primary, 'primary');
    const secondary =
      (primary & Primary.ACTIVATE_SECONDARY_CONTROLS) !== 0
        ? bits32(controls.secondary, 'secondary')
        : 0;
    this.secondary = secondary;
    this.externalInterruptExiting = (pin & Pin.EXTERNAL_INTERRUPT_EXITING) !== 0;
    this.preemptionTimerActive = (pin & Pin.ACTIVATE_VMX_PREEMPTION_TIMER) !== 0;
    this.interruptWindowExiting = (primary & Primary.INTERRUPT_WINDOW_EXITING) !== 0;
    this.hltExiting = (primary & Primary.HLT_EXITING) !== 0;
    this.invlpgExiting = (primary & Primary.INVLPG_EXITING) !== 0;
    this.rdtscExiting = (primary & Primary.RDTSC_EXITING) !== 0;
    this.cr3LoadExiting = (primary & Primary.CR3_LOAD_EXITING) !== 0;
    this.cr3StoreExiting = (primary & Primary.CR3_STORE_EXITING) !== 0;
    this.cr8LoadExiting = (primary & Primary.CR8_LOAD_EXITING) !== 0;
    this.cr8StoreExiting = (primary & Primary.CR8_STORE_EXITING) !== 0;
    this.unconditionalIoExiting = (primary & Primary.UNCONDITIONAL_IO_EXITING) !== 0;
    this.useIoBitmaps = (primary & Primary.USE_IO_BITMAPS) !== 0;
    this.useMsrBitmaps = (primary & Primary.USE_MSR_BITMAPS) !== 0;
    this.pauseExiting = (primary & Primary.PAUSE_EXITING) !== 0;
    this.pauseLoopExiting = (secondary & Secondary.PAUSE_LOOP_EXITING) !== 0;
    this.enableRdtscp = (secondary & Secondary.ENABLE_RDTSCP) !== 0;
    this.enableEpt = (secondary & Secondary.ENABLE_EPT) !== 0;
    this.enableInvpcid = (secondary & Secondary.ENABLE_INVPCID) !== 0;
    if (this.useIoBitmaps && controls.ioBitmaps === undefined) {
      throw new CpuError('INVALID_VALUE', '"use I/O bitmaps" needs controls.ioBitmaps');
    }
    if (this.useMsrBitmaps && controls.msrBitmap === undefined) {
      throw new CpuError('INVALID_VALUE', '"use MSR bitmaps" needs controls.msrBitmap');
    }
    this.exceptionBitmap = bits32(controls.exceptionBitmap, 'exceptionBitmap');
    this.pfecMask = bits32(controls.pageFaultErrorCodeMask, 'pageFaultErrorCodeMask');
    this.pfecMatch = bits32(controls.pageFaultErrorCodeMatch, 'pageFaultErrorCodeMatch');
    this.cr0Mask = u64(controls.cr0GuestHostMask, 'cr0GuestHostMask');
    this.cr0Shadow = u64(controls.cr0ReadShadow, 'cr0ReadShadow');
    this.cr4Mask = u64(controls.cr4GuestHostMask, 'cr4GuestHostMask');
    this.cr4Shadow = u64(controls.cr4ReadShadow, 'cr4ReadShadow');
    const targets = controls.cr3Targets ?? [];
    // IA32_VMX_MISC[24:16]: vmkit supports the 4 CR3-target values every processor has.
    if (targets.length > 4) {
      throw new CpuError('INVALID_VALUE', `at most 4 CR3-target values, got ${targets.length}`);
    }
    this.cr3Targets = targets.map((t, i) => u64(t, `cr3Targets[${i}]`));
    this.ple = new PauseLoopDetector(
      u32(controls.pleGap, 'pleGap'),
      u32(controls.pleWindow, 'pleWindow'),
    );
    this.timerValue = u32(controls.preemptionTimer, 'preemptionTimer');
    const rate = controls.preemptionTimerRate ?? 0;
    if (!Number.isInteger(rate) || rate < 0 || rate > 31) {
      throw new CpuError('INVALID_VALUE', `preemptionTimerRate must be in [0, 31], got ${rate}`);
    }
    this.timerRate = rate;
  }
}
