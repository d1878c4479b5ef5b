// PAUSE and PAUSE-loop exiting: SDM Vol. 3C §25.6.13 ("Controls for PAUSE-Loop Exiting":
// PLE_Gap and PLE_Window, 32-bit fields counted at the TSC rate) and §26.1.3 ("Instructions
// That Cause VM Exits Conditionally", PAUSE).
import { VmxError } from './errors.js';

/** What a PAUSE does given CPL and the two controls (see {@link pauseAction}). */
export type PauseAction = 'EXIT' | 'PAUSE_LOOP_CHECK' | 'EXECUTE';

/**
 * What PAUSE does in VMX non-root operation (SDM Vol. 3C §26.1.3). At CPL 0: "PAUSE exiting" =
 * 1 exits (PAUSE-loop exiting is then ignored); otherwise "PAUSE-loop exiting" = 1 applies the
 * PLE rule ({@link pleStep}); otherwise PAUSE executes. At CPL > 0: "PAUSE exiting" decides
 * alone; PAUSE-loop exiting is ignored.
 *
 * @param cpl - the current privilege level, 0..3
 * @param pauseExiting - the primary control "PAUSE exiting"
 * @param pauseLoopExiting - the secondary control "PAUSE-loop exiting" (0 if secondary
 *   controls are not activated)
 * @returns what happens
 * @example
 * ```ts
 * pauseAction(0, false, true); // 'PAUSE_LOOP_CHECK'
 * pauseAction(3, false, true); // 'EXECUTE'
 * ```
 */
export function pauseAction(
  cpl: number,
  pauseExiting: boolean,
  pauseLoopExiting: boolean,
): PauseAction {
  if (pauseExiting) return 'EXIT';
  return cpl === 0 && pauseLoopExiting ? 'PAUSE_LOOP_CHECK' : 'EXECUTE';
}

/**
 * The PLE state of one logical processor: the TSC of the previous PAUSE at CPL 0 and of the
 * first PAUSE of the current loop, or -1 for "none since VM entry".
 */
export interface PleState {
  /** TSC of the previous execution of PAUSE at CPL 0, or -1. */
  readonly lastPause: number;
  /** TSC of the PAUSE considered the first of the current loop, or -1. */
  readonly loopStart: number;
}

/** The state after VM entry: the next PAUSE at CPL 0 is the first in a loop. */
export const PLE_INITIAL_STATE: PleState = Object.freeze({ lastPause: -1, loopStart: -1 });

/** One PLE decision: whether the PAUSE exits, and the state after it. */
export interface PleStep {
  /** The PAUSE causes a VM exit (basic exit reason 40, PAUSE). */
  readonly exit: boolean;
  /** The PAUSE was considered the first execution of PAUSE in a loop. */
  readonly firstInLoop: boolean;
  /** The state to pass to the next call. */
  readonly state: PleState;
}

/**
 * The PLE rule for one PAUSE at CPL 0 with PAUSE exiting 0 and PAUSE-loop exiting 1 (SDM Vol.
 * 3C §26.1.3), as a pure state machine. If the time since the previous PAUSE at CPL 0 exceeds
 * PLE_Gap (or there was none since VM entry), this PAUSE is the first in a loop. Otherwise, if
 * the time since the loop's first PAUSE exceeds PLE_Window, the PAUSE exits. "Exceeds" is
 * strict; time is in TSC cycles. After a VM exit, start again from {@link PLE_INITIAL_STATE}
 * at the next VM entry.
 *
 * @param state - the state before this PAUSE
 * @param tsc - the TSC value at this PAUSE (non-decreasing from call to call)
 * @param pleGap - the PLE_Gap field
 * @param pleWindow - the PLE_Window field
 * @returns the decision and the next state
 * @example
 * ```ts
 * let s = pleStep(PLE_INITIAL_STATE, 1000, 128, 4096); // first in a loop
 * s = pleStep(s.state, 1100, 128, 4096); // 100 <= gap: same loop, 100 <= window
 * ```
 */
export function pleStep(state: PleState, tsc: number, pleGap: number, pleWindow: number): PleStep {
  if (state.lastPause < 0 || tsc - state.lastPause > pleGap) {
    return { exit: false, firstInLoop: true, state: { lastPause: tsc, loopStart: tsc } };
  }
  return {
    exit: tsc - state.loopStart > pleWindow,
    firstInLoop: false,
    state: { lastPause: tsc, loopStart: state.loopStart },
  };
}

function checkField(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new VmxError('INVALID_FIELD', `${name} ${value} is not a 32-bit value`, name);
  }
  return value;
}

/**
 * The PLE rule of {@link pleStep} as a mutable, allocation-free detector for a CPU's PAUSE
 * path. Call {@link PauseLoopDetector.vmEntry} at each VM entry and
 * {@link PauseLoopDetector.pause} for each PAUSE that {@link pauseAction} sends to the check.
 *
 * @example
 * ```ts
 * const ple = new PauseLoopDetector(128, 4096);
 * ple.vmEntry();
 * for (let tsc = 0; !ple.pause(tsc); tsc += 100);
 * ```
 */
export class PauseLoopDetector {
  /** The PLE_Gap field. */
  readonly gap: number;
  /** The PLE_Window field. */
  readonly window: number;
  /** TSC of the previous PAUSE at CPL 0, or -1. */
  lastPause = -1;
  /** TSC of the first PAUSE of the current loop, or -1. */
  loopStart = -1;

  /**
   * @param gap - PLE_Gap, 0..2^32-1
   * @param window - PLE_Window, 0..2^32-1
   * @throws {@link VmxError} `INVALID_FIELD` for a value that is not a 32-bit unsigned integer
   */
  constructor(gap: number, window: number) {
    this.gap = checkField(gap, 'PLE_Gap');
    this.window = checkField(window, 'PLE_Window');
  }

  /** Forgets the previous PAUSE: the next one starts a loop (SDM Vol. 3C §26.1.3). */
  vmEntry(): void {
    this.lastPause = -1;
    this.loopStart = -1;
  }

  /**
   * Applies the PLE rule to a PAUSE at CPL 0.
   *
   * @param tsc - the TSC value at this PAUSE
   * @returns true when the PAUSE causes a VM exit
   */
  pause(tsc: number): boolean {
    if (this.lastPause < 0 || tsc - this.lastPause > this.gap) {
      this.lastPause = tsc;
      this.loopStart = tsc;
      return false;
    }
    this.lastPause = tsc;
    return tsc - this.loopStart > this.window;
  }
}
