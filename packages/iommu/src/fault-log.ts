import { IommuError } from './errors.js';
import { type FaultReason, isInterruptFault } from './fault-reasons.js';

/** One recorded non-recoverable fault, as a Fault Recording Register holds it. */
export interface FaultRecord {
  /** Source ID (requester ID) of the faulting request (FRCD bits 79:64). */
  readonly sourceId: number;
  /** Fault reason (FRCD bits 103:96). */
  readonly reason: FaultReason;
  /** Whether the request was a read (FRCD Type bit 126 = 1) or a write (0). */
  readonly read: boolean;
  /**
   * Fault Info: for a DMA fault the page address of the request (bits 63:12); for an interrupt
   * remapping fault the interrupt_index (bits 63:48).
   */
  readonly faultInfo: number;
}

/**
 * Encodes a fault record in the 128-bit layout of a Fault Recording Register (VT-d spec,
 * "Fault Recording Registers"): FI in 63:12 (or the interrupt_index in 63:48 for interrupt
 * remapping faults), SID in 79:64, FR in 103:96, T in 126 (1 = read), F in 127. Address Type
 * (125:124) is 00b, untranslated; PASID fields are 0.
 *
 * @param r - the record
 * @param fault - the F bit (set while the record is pending)
 * @returns the 128-bit register value
 */
export function encodeFaultRecord(r: FaultRecord, fault = true): bigint {
  const fi = isInterruptFault(r.reason)
    ? BigInt(r.faultInfo & 0xffff) << 48n
    : BigInt(r.faultInfo) & 0xffff_ffff_ffff_f000n;
  return (
    fi |
    (BigInt(r.sourceId & 0xffff) << 64n) |
    (BigInt(r.reason & 0xff) << 96n) |
    ((r.read ? 1n : 0n) << 126n) |
    ((fault ? 1n : 0n) << 127n)
  );
}

/** Fault Status register bits (VT-d spec, "Fault Status Register"). */
export const FaultStatus = {
  /** PFO: Primary Fault Overflow (bit 0, RW1CS). */
  PRIMARY_FAULT_OVERFLOW: 1 << 0,
  /** PPF: Primary Pending Fault (bit 1, RO): some record has F set. */
  PRIMARY_PENDING_FAULT: 1 << 1,
  /** FRI: Fault Record Index (bits 15:8). */
  FAULT_RECORD_INDEX_SHIFT: 8,
} as const;

/**
 * The primary fault log: a fixed number of Fault Recording Registers used as a ring (VT-d spec
 * §7.2.1, "Primary Fault Logging"). A fault is recorded at the Fault Record Index if that record's
 * F bit is clear and Primary Fault Overflow is clear; the index then advances (wrapping). Otherwise
 * PFO is set and the fault is lost. Software clears a record by writing 1 to its F bit and clears
 * PFO by writing 1 to it. `onFaultEvent` runs when a fault is recorded or overflows (with the Fault
 * Status value from before), standing in for
 * the fault-event interrupt (VT-d §7.3).
 */
export class FaultLog {
  /** Number of fault recording registers (CAP.NFR + 1). */
  readonly size: number;
  /** Called after each recorded or overflowing fault: the VMM's fault-event interrupt. */
  onFaultEvent: (record: FaultRecord, recorded: boolean, previousStatus: number) => void = () => {};
  private readonly records: (FaultRecord | undefined)[];
  private index = 0;
  private overflow = false;
  private lost = 0;

  /** @param size - number of fault recording registers, 1-256 */
  constructor(size = 8) {
    if (!Number.isInteger(size) || size < 1 || size > 256) {
      throw new IommuError('INVALID_CONFIG', `fault recording register count ${size} is not 1-256`);
    }
    this.size = size;
    this.records = new Array(size).fill(undefined);
  }

  /**
   * Records a fault as the hardware does.
   *
   * @param r - the fault
   * @returns whether it was recorded (false: overflow)
   */
  record(r: FaultRecord): boolean {
    const before = this.status;
    const ok = !this.overflow && this.records[this.index] === undefined;
    if (ok) {
      this.records[this.index] = r;
      this.index = (this.index + 1) % this.size;
    } else {
      this.overflow = true;
      this.lost++;
    }
    this.onFaultEvent(r, ok, before);
    return ok;
  }

  /** The Fault Status register value: PFO, PPF and FRI. */
  get status(): number {
    const ppf = this.records.some((r) => r !== undefined);
    return (
      (this.overflow ? FaultStatus.PRIMARY_FAULT_OVERFLOW : 0) |
      (ppf ? FaultStatus.PRIMARY_PENDING_FAULT : 0) |
      (this.index << FaultStatus.FAULT_RECORD_INDEX_SHIFT)
    );
  }

  /** Faults lost to overflow since creation. */
  get lostFaults(): number {
    return this.lost;
  }

  /**
   * The fault recording register `n` (undefined when its F bit is clear).
   *
   * @param n - register number
   * @returns the record
   */
  at(n: number): FaultRecord | undefined {
    return this.records[n];
  }

  /** The pending records in recording order, oldest first. */
  pending(): FaultRecord[] {
    const out: FaultRecord[] = [];
    for (let k = 0; k < this.size; k++) {
      const r = this.records[(this.index + k) % this.size];
      if (r !== undefined) out.push(r);
    }
    return out;
  }

  /**
   * Software writes 1 to the F bit of register `n`, freeing it.
   *
   * @param n - register number
   */
  clear(n: number): void {
    if (Number.isInteger(n) && n >= 0 && n < this.size) this.records[n] = undefined;
  }

  /** Software writes 1 to Fault Status.PFO. */
  clearOverflow(): void {
    this.overflow = false;
  }

  /** Clears every record and PFO: what a fault handler does after reading them all. */
  drain(): FaultRecord[] {
    const out = this.pending();
    this.records.fill(undefined);
    this.overflow = false;
    return out;
  }
}
