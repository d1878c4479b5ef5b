// Helpers for the non-root tests: a control set with nothing enabled, and the exit record a
// test expects, with every field the exit does not define at 0.
import type { VmExitInformation } from '@vmkit/vmx';
import type { StopReason, VmxControls } from '../../src/index.js';

/** Controls that make nothing exit except the unconditional instructions (CPUID, VMCALL). */
export const NONE: VmxControls = { pinBased: 0, primary: 0, secondary: 0, exceptionBitmap: 0 };

/** The `vm-exit` stop with `fields` set and everything else 0. */
export function exitStop(fields: Partial<VmExitInformation> & { exitReason: number }): StopReason {
  return {
    kind: 'vm-exit',
    info: {
      exitQualification: 0n,
      guestLinearAddress: 0n,
      guestPhysicalAddress: 0,
      interruptionInfo: 0,
      interruptionErrorCode: 0,
      idtVectoringInfo: 0,
      idtVectoringErrorCode: 0,
      instructionLength: 0,
      instructionInformation: 0,
      ...fields,
    },
  };
}
