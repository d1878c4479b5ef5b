// Exit qualification for task switches (basic exit reason 9), SDM Vol. 3C §28.2.1,
// Table 28-2 "Exit Qualification for Task Switches".
import { fit, low32 } from '../bits.js';

/** Source of task switch initiation, bits 31:30 (SDM Vol. 3C §28.2.1, Table 28-2). */
export const TaskSwitchSource = {
  /** 0: CALL instruction. */
  CALL: 0,
  /** 1: IRET instruction. */
  IRET: 1,
  /** 2: JMP instruction. */
  JMP: 2,
  /** 3: Task gate in IDT. */
  TASK_GATE_IN_IDT: 3,
} as const;

/**
 * The exit qualification for a task switch (SDM Vol. 3C §28.2.1, Table 28-2). Bits 29:16 and
 * 63:32 are not defined.
 */
export interface TaskSwitchQualification {
  /** Bits 15:0: selector of the TSS to which the guest attempted to switch. */
  readonly selector: number;
  /** Bits 31:30: {@link TaskSwitchSource}. */
  readonly source: 0 | 1 | 2 | 3;
}

/**
 * Encodes a task-switch exit qualification.
 *
 * @param q - the fields
 * @returns the qualification
 * @throws {@link VmxError} `INVALID_FIELD` when a field does not fit
 * @example
 * ```ts
 * encodeTaskSwitchQualification({ selector: 0x28, source: TaskSwitchSource.JMP }); // 0x80000028
 * ```
 */
export function encodeTaskSwitchQualification(q: TaskSwitchQualification): number {
  return (fit(q.selector, 16, 'selector') | (fit(q.source, 2, 'source') << 30)) >>> 0;
}

/**
 * Decodes a task-switch exit qualification. Undefined bits are ignored.
 *
 * @param value - the qualification (a number, or the natural-width field as a bigint)
 * @returns the fields
 * @throws {@link VmxError} `INVALID_VALUE` for a negative or non-integer value
 * @example
 * ```ts
 * decodeTaskSwitchQualification(0xc000_0030).source; // 3 (task gate in IDT)
 * ```
 */
export function decodeTaskSwitchQualification(value: number | bigint): TaskSwitchQualification {
  const v = low32(value, 'task-switch qualification');
  return { selector: v & 0xffff, source: (v >>> 30) as 0 | 1 | 2 | 3 };
}
