import { bootProtocol } from '@vmkit/guest';
import type { GuestPhysicalMemory } from '@vmkit/memory';
import { VmmError } from './errors.js';

/** What a hypercall handler sees: its arguments and the guest's memory. */
export interface HypercallContext {
  /** RDI, RSI, RDX, R10 (the protocol's argument registers), as unsigned 64-bit values. */
  readonly args: readonly [bigint, bigint, bigint, bigint];
  /** Guest-physical memory. */
  readonly memory: GuestPhysicalMemory;
}

/**
 * What a hypercall handler returns: `{ result }` (placed in RAX, negative = error) or
 * `{ exit }` to end the run with that status (the debug-exit encoding).
 */
export type HypercallOutcome =
  | {
      /** The value for RAX; negative numbers are errors. */
      readonly result: bigint;
    }
  | {
      /** End the run with this status. */
      readonly exit: number;
    };

/** A hypercall handler, registered under a number in a {@link HypercallTable}. */
export type HypercallHandler = (context: HypercallContext) => HypercallOutcome;

/** RAX for an unknown hypercall number: -1000, what KVM answers (`-KVM_ENOSYS`). */
export const HYPERCALL_UNKNOWN = -1000n;
/** RAX for a buffer outside guest RAM: -EFAULT. */
export const HYPERCALL_FAULT = -14n;
/** RAX for an argument out of range (a print longer than {@link MAX_PRINT}): -EINVAL. */
export const HYPERCALL_INVALID = -22n;
/** Longest buffer one print hypercall accepts, in bytes. */
export const MAX_PRINT = 0x1_0000;

/**
 * The VMCALL table: numbers to handlers. Mechanisms add their own numbers with
 * {@link HypercallTable.register}; `print` and `exit` of the boot protocol are built in.
 *
 * @example
 * ```ts
 * vm.hypercalls.register(0x2000, ({ args }) => ({ result: args[0] + 1n }));
 * ```
 */
export class HypercallTable {
  private readonly handlers = new Map<number, HypercallHandler>();

  /** @param print - receives the bytes of the `print` hypercall */
  constructor(print: (bytes: Uint8Array) => void) {
    this.register(bootProtocol.hypercalls.print, ({ args, memory }) => {
      const [address, length] = args;
      if (length > BigInt(MAX_PRINT)) return { result: HYPERCALL_INVALID };
      if (length === 0n) return { result: 0n };
      const bytes = new Uint8Array(Number(length));
      try {
        memory.readBytes(Number(address), bytes);
      } catch {
        // Not (all) RAM, or an address beyond 2^52: the guest's error, not the host's.
        return { result: HYPERCALL_FAULT };
      }
      print(bytes);
      return { result: length };
    });
    this.register(bootProtocol.hypercalls.exit, ({ args }) => ({
      exit: Number(args[0] & 0xffff_ffffn),
    }));
  }

  /**
   * Registers `handler` for hypercall number `nr`.
   *
   * @param nr - the number (RAX), 0..2^32-1
   * @param handler - the handler
   * @throws VmmError `BAD_CONFIG` when the number is out of range or already taken
   */
  register(nr: number, handler: HypercallHandler): void {
    if (!Number.isInteger(nr) || nr < 0 || nr > 0xffff_ffff)
      throw new VmmError('BAD_CONFIG', `hypercall number must be a u32, got ${nr}`);
    if (this.handlers.has(nr))
      throw new VmmError('BAD_CONFIG', `hypercall 0x${nr.toString(16)} is already registered`);
    this.handlers.set(nr, handler);
  }

  /**
   * Serves one hypercall.
   *
   * @param nr - RAX
   * @param context - arguments and memory
   * @returns the outcome; unknown numbers give {@link HYPERCALL_UNKNOWN}
   */
  call(nr: bigint, context: HypercallContext): HypercallOutcome {
    const handler = nr <= 0xffff_ffffn ? this.handlers.get(Number(nr)) : undefined;
    return handler === undefined ? { result: HYPERCALL_UNKNOWN } : handler(context);
  }
}
