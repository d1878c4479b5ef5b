// The VM-exit information fields as one record (SDM Vol. 3C §25.9, "VM-Exit Information
// Fields"), and a one-line description of an exit for traces.
import { low32 } from './bits.js';
import { basicExitReasonName, decodeExitReason } from './exit-reason.js';
import { decodeCrAccessQualification } from './qualification/cr-access.js';
import { decodeIoQualification } from './qualification/io.js';

/**
 * The read-only VM-exit information fields a CPU fills at a VM exit and a VMM reads (SDM Vol.
 * 3C §25.9.1-§25.9.4). Natural-width fields that may hold 64-bit linear addresses are bigints;
 * the 32-bit fields are numbers; the guest-physical address fits a number (52 bits).
 */
export interface VmExitInformation {
  /** Exit reason (§25.9.1): decode with `decodeExitReason`. */
  readonly exitReason: number;
  /** Exit qualification (§25.9.1, §28.2.1): decode with the decoder of the basic reason. */
  readonly exitQualification: bigint;
  /** Guest-linear address (§25.9.1), for the exits that report one (e.g. EPT violations). */
  readonly guestLinearAddress: bigint;
  /** Guest-physical address (§25.9.1), for EPT violations and misconfigurations. */
  readonly guestPhysicalAddress: number;
  /** VM-exit interruption information (§25.9.2). */
  readonly interruptionInfo: number;
  /** VM-exit interruption error code (§25.9.2), valid when bit 11 of the information is 1. */
  readonly interruptionErrorCode: number;
  /** IDT-vectoring information (§25.9.3). */
  readonly idtVectoringInfo: number;
  /** IDT-vectoring error code (§25.9.3). */
  readonly idtVectoringErrorCode: number;
  /** VM-exit instruction length (§25.9.4), 1..15 for instruction-caused exits. */
  readonly instructionLength: number;
  /** VM-exit instruction information (§25.9.4, §28.2.5). */
  readonly instructionInformation: number;
}

const CR_ACCESS = ['MOV to CR', 'MOV from CR', 'CLTS', 'LMSW'] as const;
const GPR = ['RAX', 'RCX', 'RDX', 'RBX', 'RSP', 'RBP', 'RSI', 'RDI'] as const;

function gprName(n: number): string {
  return GPR[n] ?? `R${n}`;
}

/**
 * A one-line description of a VM exit for traces and reports: the SDM's name of the basic
 * reason, plus the decoded qualification for control-register accesses and I/O instructions.
 *
 * @param exitReason - the exit-reason field
 * @param exitQualification - the exit qualification (number or bigint)
 * @returns e.g. `"I/O instruction: OUT 0x3f8, 1 byte"`
 * @throws {@link VmxError} `INVALID_VALUE` for a raw value that is not a non-negative integer
 * @example
 * ```ts
 * describeVmExit(30, 0x03f8_0000); // 'I/O instruction: OUT 0x3f8, 1 byte'
 * describeVmExit(28, 0x3); // 'Control-register accesses: MOV to CR3 from RAX'
 * ```
 */
export function describeVmExit(exitReason: number, exitQualification: number | bigint): string {
  const reason = decodeExitReason(exitReason);
  const qualification = low32(exitQualification, 'exit qualification');
  const name = basicExitReasonName(reason.basic) ?? `basic exit reason ${reason.basic}`;
  const prefix = reason.vmEntryFailure ? `VM-entry failure: ${name}` : name;
  if (reason.basic === 30 && !reason.vmEntryFailure) {
    const sizeCode = qualification & 7;
    if (sizeCode === 2 || sizeCode > 3) return prefix;
    const q = decodeIoQualification(qualification);
    const op = `${q.string ? (q.in ? 'INS' : 'OUTS') : q.in ? 'IN' : 'OUT'}${q.rep ? ' (REP)' : ''}`;
    return `${prefix}: ${op} 0x${q.port.toString(16)}, ${q.size} byte${q.size > 1 ? 's' : ''}`;
  }
  if (reason.basic === 28 && !reason.vmEntryFailure) {
    const q = decodeCrAccessQualification(qualification);
    const what = CR_ACCESS[q.accessType];
    if (q.accessType === 0)
      return `${prefix}: ${what}${q.controlRegister} from ${gprName(q.generalPurposeRegister)}`;
    if (q.accessType === 1)
      return `${prefix}: ${what}${q.controlRegister} to ${gprName(q.generalPurposeRegister)}`;
    if (q.accessType === 3) return `${prefix}: ${what} 0x${q.lmswSourceData.toString(16)}`;
    return `${prefix}: ${what}`;
  }
  return prefix;
}
