// Counts VM exits by basic exit reason (SDM Vol. 3D Appendix C, Table C-1) and by the guest
// RIP that caused them, and maps each reason to the cost model's exit kind.
import type { ExitKind } from '@vmkit/sim';
import { BasicExitReason, basicExitReasonName } from '@vmkit/vmx';

/** How many RIPs {@link ExitLog.topRips} reports. */
export const TOP_RIPS = 20;

// The cost model's handler kinds by basic exit reason (the kinds are named after these reasons,
// @vmkit/sim's EXIT_KINDS). Reasons without their own kind are priced as the round trip plus the
// closest handler.
const KIND_BY_REASON = new Map<number, ExitKind>([
  [BasicExitReason.EXCEPTION_OR_NMI, 'exception'],
  [BasicExitReason.EXTERNAL_INTERRUPT, 'external-interrupt'],
  [BasicExitReason.INTERRUPT_WINDOW, 'interrupt-window'],
  [BasicExitReason.CPUID, 'cpuid'],
  [BasicExitReason.HLT, 'hlt'],
  [BasicExitReason.INVLPG, 'invlpg'],
  [BasicExitReason.VMCALL, 'vmcall'],
  [BasicExitReason.CONTROL_REGISTER_ACCESSES, 'cr-access'],
  [BasicExitReason.IO_INSTRUCTION, 'io'],
  [BasicExitReason.RDMSR, 'msr'],
  [BasicExitReason.WRMSR, 'msr'],
  [BasicExitReason.PAUSE, 'pause'],
  [BasicExitReason.EPT_VIOLATION, 'ept-violation'],
  [BasicExitReason.EPT_MISCONFIGURATION, 'ept-violation'],
]);

/**
 * The cost model's exit kind for a basic exit reason.
 *
 * @param reason - the basic exit reason number
 * @returns the kind, or undefined for reasons the model does not price
 */
export function exitKindOf(reason: number): ExitKind | undefined {
  return KIND_BY_REASON.get(reason);
}

/** VM exits of one basic reason at one guest RIP. */
export interface RipExits {
  /** The guest RIP of the instruction (or event) that exited. */
  readonly rip: bigint;
  /** The SDM name of the basic exit reason. */
  readonly reason: string;
  /** How many exits. */
  readonly count: number;
}

/** Exit counters of one vCPU. */
export class ExitLog {
  /** Exits by basic exit reason number. */
  readonly byReason = new Map<number, number>();
  /** Exits by `reason:rip` key. */
  private readonly byRip = new Map<string, { rip: bigint; reason: number; count: number }>();
  /** Total exits. */
  total = 0;

  /**
   * Records one exit.
   *
   * @param reason - the basic exit reason
   * @param rip - the guest RIP of the instruction (or event) that exited
   */
  record(reason: number, rip: bigint): void {
    this.total++;
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    const key = `${reason}:${rip}`;
    const e = this.byRip.get(key);
    if (e === undefined) this.byRip.set(key, { rip, reason, count: 1 });
    else e.count++;
  }

  /**
   * Merges several logs into exits by reason name.
   *
   * @param logs - the vCPUs' logs
   * @returns counts keyed by the SDM name of the basic reason
   */
  static byName(logs: readonly ExitLog[]): Record<string, number> {
    const out: Record<string, number> = {};
    for (const log of logs)
      for (const [reason, n] of [...log.byReason].sort((a, b) => a[0] - b[0])) {
        const name = basicExitReasonName(reason) ?? `reason ${reason}`;
        out[name] = (out[name] ?? 0) + n;
      }
    return out;
  }

  /**
   * The RIPs that caused the most exits over several logs (ties: lower RIP, then lower reason).
   *
   * @param logs - the vCPUs' logs
   * @returns at most {@link TOP_RIPS} entries, most exits first
   */
  static topRips(logs: readonly ExitLog[]): RipExits[] {
    const merged = new Map<string, { rip: bigint; reason: number; count: number }>();
    for (const log of logs)
      for (const [key, e] of log.byRip) {
        const m = merged.get(key);
        if (m === undefined) merged.set(key, { ...e });
        else m.count += e.count;
      }
    return [...merged.values()]
      .sort((a, b) =>
        b.count !== a.count
          ? b.count - a.count
          : a.rip !== b.rip
            ? a.rip < b.rip
              ? -1
              : 1
            : a.reason - b.reason,
      )
      .slice(0, TOP_RIPS)
      .map((e) => ({
        rip: e.rip,
        reason: basicExitReasonName(e.reason) ?? `reason ${e.reason}`,
        count: e.count,
      }));
  }
}
