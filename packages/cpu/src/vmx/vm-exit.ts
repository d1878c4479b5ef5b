// A VM exit raised inside the interpreter (SDM Vol. 3C chapter 28): thrown like a fault from
// the instruction handler or the memory seam that detects it, caught at the instruction
// boundary by the run loop, which rolls RFLAGS back and stops `run` with the `vm-exit` stop
// reason. Throwing keeps the exit checks out of the compiled blocks: only the handlers of
// instructions that can exit look at the controls.
import type { VmExitInformation } from '@vmkit/vmx';

/**
 * A VM exit in flight: the exit information to report. The guest state is left as before the
 * instruction (or event) that caused it.
 *
 * @example
 * ```ts
 * throw new VmExit(exitInformation({ exitReason: 10, instructionLength: 2 }));
 * ```
 */
export class VmExit {
  /** The VM-exit information fields (SDM Vol. 3C §28.2). */
  readonly info: VmExitInformation;

  /** @param info - the exit information */
  constructor(info: VmExitInformation) {
    this.info = info;
  }
}

/**
 * Builds a complete {@link VmExitInformation}: fields an exit does not define are 0 (SDM Vol.
 * 3C §28.2: they are undefined; vmkit makes them 0 so that results are deterministic).
 *
 * @param fields - the fields the exit defines; `exitReason` is required
 * @returns the full record
 * @example
 * ```ts
 * exitInformation({ exitReason: 18, instructionLength: 3 }).exitQualification; // 0n
 * ```
 */
export function exitInformation(
  fields: Partial<VmExitInformation> & { readonly exitReason: number },
): VmExitInformation {
  return {
    exitReason: fields.exitReason,
    exitQualification: fields.exitQualification ?? 0n,
    guestLinearAddress: fields.guestLinearAddress ?? 0n,
    guestPhysicalAddress: fields.guestPhysicalAddress ?? 0,
    interruptionInfo: fields.interruptionInfo ?? 0,
    interruptionErrorCode: fields.interruptionErrorCode ?? 0,
    idtVectoringInfo: fields.idtVectoringInfo ?? 0,
    idtVectoringErrorCode: fields.idtVectoringErrorCode ?? 0,
    instructionLength: fields.instructionLength ?? 0,
    instructionInformation: fields.instructionInformation ?? 0,
  };
}

/**
 * An instruction-caused VM exit (SDM Vol. 3C §26.1, §28.2.4): the basic reason, the
 * qualification, and the instruction's length so that the VMM can emulate it and advance RIP.
 *
 * @param exitReason - the basic exit reason
 * @param length - the instruction length (1..15)
 * @param qualification - the exit qualification; default 0
 * @param instructionInformation - the VM-exit instruction-information field; default 0
 * @returns the exit, to throw
 */
export function instructionExit(
  exitReason: number,
  length: number,
  qualification = 0n,
  instructionInformation = 0,
): VmExit {
  return new VmExit(
    exitInformation({
      exitReason,
      exitQualification: qualification,
      instructionLength: length,
      instructionInformation,
    }),
  );
}
