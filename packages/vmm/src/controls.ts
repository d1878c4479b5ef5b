// The VM-execution controls the VMM runs a guest with, per memory strategy (SDM Vol. 3C §25.6).
import type { VmxControls } from '@vmkit/cpu';
import {
  MsrBitmap,
  PinBasedControls,
  PrimaryProcessorControls,
  SecondaryProcessorControls,
} from '@vmkit/vmx';
import type { MmuStrategy } from './strategy.js';
import { X2APIC_MSR_FIRST, X2APIC_MSR_LAST } from './x2apic.js';

/** #PF, SDM Vol. 3A Table 6-1. */
export const PF = 14;

// CR0 bits that decide how linear addresses translate (SDM Vol. 3A §4.1.1): PE, WP, PG.
const CR0_PAGING = (1 << 0) | (1 << 16) | (1 << 31);
// CR4 bits that decide it (§4.1.1, §4.6): PSE, PAE, PGE, PCIDE, SMEP, SMAP, PKE, LA57.
const CR4_PAGING =
  (1 << 4) | (1 << 5) | (1 << 7) | (1 << 17) | (1 << 20) | (1 << 21) | (1 << 22) | (1 << 12);

function x2apicBitmap(): MsrBitmap {
  const bitmap = new MsrBitmap();
  for (let msr = X2APIC_MSR_FIRST; msr <= X2APIC_MSR_LAST; msr++) bitmap.intercept(msr);
  return bitmap;
}

const X2APIC_BITMAP = x2apicBitmap();

/**
 * The controls of a guest under a strategy, with the guest's current CR0/CR4 as read shadows.
 *
 * Every strategy: external-interrupt exiting (timer and IPI vectors reach the VMM, which
 * injects them), HLT exiting, unconditional I/O exiting (all devices are emulated), MSR
 * bitmaps intercepting the x2APIC range only (the APIC is emulated; other MSRs are the
 * guest's). CPUID and VMCALL always exit (§26.1.2).
 *
 * `spt` adds what shadow paging must see (seed 003 §II.A): CR3-load and CR3-store exiting
 * (the CPU's CR3 points at the shadow root, the guest's value lives in the VMM), CR0/CR4
 * guest/host masks on the paging bits, INVLPG exiting (which makes INVPCID exit too), and #PF
 * in the exception bitmap.
 *
 * @param kind - the strategy (not `native`, which runs in root mode)
 * @param cr0 - the guest's CR0 (read shadow)
 * @param cr4 - the guest's CR4 (read shadow)
 * @returns the controls
 */
export function guestControls(kind: MmuStrategy, cr0: number, cr4: number): VmxControls {
  const base = {
    pinBased: PinBasedControls.EXTERNAL_INTERRUPT_EXITING,
    // The guest's CPUID reports RDTSCP and INVPCID; without these they would be #UD (§26.3).
    secondary: SecondaryProcessorControls.ENABLE_RDTSCP | SecondaryProcessorControls.ENABLE_INVPCID,
    msrBitmap: X2APIC_BITMAP,
  };
  const primary =
    PrimaryProcessorControls.ACTIVATE_SECONDARY_CONTROLS |
    PrimaryProcessorControls.HLT_EXITING |
    PrimaryProcessorControls.UNCONDITIONAL_IO_EXITING |
    PrimaryProcessorControls.USE_MSR_BITMAPS;
  if (kind !== 'spt')
    return {
      ...base,
      // The NestedMmu under the CPU is the EPT with VPIDs these controls turn on (§25.6.2).
      secondary:
        base.secondary |
        SecondaryProcessorControls.ENABLE_EPT |
        SecondaryProcessorControls.ENABLE_VPID,
      primary,
      exceptionBitmap: 0,
    };
  return {
    ...base,
    primary:
      primary |
      PrimaryProcessorControls.CR3_LOAD_EXITING |
      PrimaryProcessorControls.CR3_STORE_EXITING |
      PrimaryProcessorControls.INVLPG_EXITING,
    exceptionBitmap: 1 << PF,
    cr0GuestHostMask: BigInt(CR0_PAGING >>> 0),
    cr0ReadShadow: BigInt(cr0 >>> 0),
    cr4GuestHostMask: BigInt(CR4_PAGING),
    cr4ReadShadow: BigInt(cr4 >>> 0),
  };
}

/**
 * The same controls with interrupt-window exiting (§26.7.5): the guest exits as soon as it can
 * take an interrupt, so the VMM can inject one it holds.
 *
 * @param controls - the guest's controls
 * @returns the controls with interrupt-window exiting set
 */
export function withInterruptWindow(controls: VmxControls): VmxControls {
  return {
    ...controls,
    primary: controls.primary | PrimaryProcessorControls.INTERRUPT_WINDOW_EXITING,
  };
}
