/**
 * The cost-accounting seam of the backends: every payload byte a reader or writer copies and
 * every chain a queue hands out is reported here. A simulator charges it to simulated CPU time
 * (seed 003 attributes the PV NIC's ceiling to the copy work of the backend thread); the default
 * meter does nothing.
 */
export interface WorkMeter {
  /** `bytes` of payload were copied between guest memory and the backend. */
  copied(bytes: number): void;
  /** One descriptor chain was popped for processing. */
  chain(): void;
}

/** A {@link WorkMeter} that keeps totals, for tests and simple accounting. */
export class CountingWorkMeter implements WorkMeter {
  /** Total payload bytes copied. */
  bytes = 0;
  /** Total chains processed. */
  chains = 0;

  copied(bytes: number): void {
    this.bytes += bytes;
  }

  chain(): void {
    this.chains++;
  }
}

/** The meter used when none is given: counts nothing. */
export const NO_METER: WorkMeter = { copied: () => {}, chain: () => {} };
