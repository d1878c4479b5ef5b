import { GuestMemoryError } from '@vmkit/memory';
import { VirtioError, type VirtioErrorCode } from './errors.js';
import type { FaultState } from './queue-state.js';

/**
 * The fault of one device-side queue, split or packed: the first guest fault is kept and
 * reported once, later ones are ignored, and guest memory errors become `ADDRESS_OUT_OF_RANGE`
 * faults instead of escaping to the host.
 */
export class QueueFault {
  /** The fault that stopped the queue, if any. */
  error: VirtioError | undefined;
  /** {@link QueueFault.fail} bound to this latch, for the chains the queue hands out. */
  readonly sink = (error: VirtioError): void => this.fail(error);

  /** @param onFault - called once with the first fault */
  constructor(private readonly onFault: ((error: VirtioError) => void) | undefined) {}

  /** Records a guest fault; later faults are ignored. */
  fail(error: VirtioError): void {
    if (this.error !== undefined) return;
    this.error = error;
    this.onFault?.(error);
  }

  /** Records a fault built from its parts; `undefined` so callers can return it. */
  reject(code: VirtioErrorCode, message: string, head?: number): undefined {
    this.fail(new VirtioError(code, message, head));
    return undefined;
  }

  /** Turns a guest memory error into a fault; anything else is a host bug and is rethrown. */
  memory(e: unknown): void {
    if (!(e instanceof GuestMemoryError)) throw e;
    this.fail(new VirtioError('ADDRESS_OUT_OF_RANGE', e.message));
  }

  /** Runs `body`, turning a guest memory error it raises into a fault. */
  guard(body: () => void): void {
    try {
      body();
    } catch (e) {
      this.memory(e);
    }
  }
}

/** A fault as plain data for a saved state. */
export function toFaultState(error: VirtioError): FaultState {
  return {
    code: error.code,
    message: error.message,
    ...(error.head === undefined ? {} : { head: error.head }),
  };
}

/** The fault a saved state recorded, or `undefined`. */
export function fromFaultState(state: FaultState | undefined): VirtioError | undefined {
  return state === undefined ? undefined : new VirtioError(state.code, state.message, state.head);
}
