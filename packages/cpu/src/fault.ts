import { Vector } from '@vmkit/x86';

/**
 * An architectural exception raised while executing one instruction (SDM Vol. 3A §6.3.1).
 * Thrown inside the interpreter and caught at the instruction boundary, where the
 * instruction's partial effects are rolled back (faults leave RIP at the instruction).
 *
 * @example
 * ```ts
 * throw new CpuFault(Vector.GP, 0);
 * ```
 */
export class CpuFault {
  /** The exception vector (Table 6-1). */
  readonly vector: number;
  /** The error code pushed by the exception, or undefined when it has none. */
  readonly errorCode: number | undefined;
  /** For #PF, the faulting linear address (what CR2 receives; SDM Vol. 3A §4.7). */
  readonly address: number | undefined;

  /**
   * @param vector - the exception vector
   * @param errorCode - the error code, for exceptions that push one
   * @param address - the faulting linear address for #PF
   */
  constructor(vector: number, errorCode?: number, address?: number) {
    this.vector = vector;
    this.errorCode = errorCode;
    this.address = address;
  }
}

/** #UD: the opcode is invalid or not implemented by vmkit (SDM Vol. 3A §6.15, Interrupt 6). */
export function undefinedOpcode(): CpuFault {
  return new CpuFault(Vector.UD);
}

/** #GP(0) (SDM Vol. 3A §6.15, Interrupt 13). */
export function generalProtection(): CpuFault {
  return new CpuFault(Vector.GP, 0);
}
