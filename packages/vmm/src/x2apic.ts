// x2APIC registers as MSRs: SDM Vol. 3A §11.12.1.2, Table 11-6 (MSR address = 0x800 +
// (xAPIC MMIO offset >> 4)).
/** x2APIC MSR indices this model serves. */
export const X2APIC_MSR = {
  /** Local APIC ID (read-only; = the vCPU id). */
  id: 0x802,
  /** Version register (read-only). */
  version: 0x803,
  /** Task-priority register. */
  tpr: 0x808,
  /** End of interrupt (write-only). */
  eoi: 0x80b,
  /** Spurious-interrupt vector register; bit 8 enables the APIC. */
  svr: 0x80f,
  /** Interrupt command register (64 bits in x2APIC mode): sends IPIs. */
  icr: 0x830,
  /** LVT timer entry: vector, mask, mode. */
  lvtTimer: 0x832,
  /** Timer initial count: writing it starts the timer. */
  timerInitialCount: 0x838,
  /** Timer current count (read-only). */
  timerCurrentCount: 0x839,
  /** Timer divide configuration. */
  timerDivide: 0x83e,
} as const;

/** First and last MSR index of the x2APIC range (SDM Vol. 3A §11.12.1.2). */
export const X2APIC_MSR_FIRST = 0x800;
/** Last MSR index of the x2APIC range. */
export const X2APIC_MSR_LAST = 0x8ff;

// LVT timer fields, SDM Vol. 3A Figure 11-8: vector in 7:0, mask in 16, mode in 18:17
// (00 one-shot, 01 periodic).
const LVT_MASK = 1 << 16;
const LVT_PERIODIC = 1 << 17;
// SVR bit 8: APIC software enable (§11.4.7.2); while clear, LVT entries stay masked.
const SVR_ENABLE = 1 << 8;
// ICR, §11.12.9: vector 7:0, delivery mode 10:8 (000 fixed), destination in 63:32.
const ICR_DELIVERY_MODE = 0x700;
/** Version register: an integrated APIC (0x14) with 6 LVT entries (max LVT 5 in bits 23:16). */
const VERSION = 0x0005_0014;

/**
 * One vCPU's local APIC in x2APIC mode, reached through RDMSR/WRMSR. The timer does not count
 * wall-clock time: it expires every `quantum` units of the VM's deterministic clock
 * (instructions retired plus idle time skipped in HLT), whatever initial count the guest
 * programmed, so a run's interrupts land at the same instruction every time.
 *
 * @example
 * ```ts
 * const apic = new X2Apic(0, 1_000_000);
 * apic.writeMsr(0x80f, 0x1ffn, 0); // software enable
 * apic.writeMsr(0x832, 0x20020n, 0); // periodic, vector 32
 * apic.writeMsr(0x838, 10_000_000n, 0);
 * console.log(apic.deadline); // 1000000
 * ```
 */
export class X2Apic {
  private readonly regs = new Map<number, bigint>();
  /** The clock value at which the timer next expires, or undefined while it is stopped. */
  deadline: number | undefined;
  /** Vectors accepted for delivery (timer expiries, self-IPIs), oldest first. */
  readonly pending: number[] = [];
  /** Timer expiries so far. */
  timerExpiries = 0;
  /** IPIs no APIC accepted (no such APIC id, or not a fixed interrupt with a vector >= 16). */
  droppedIpis = 0;
  /** IPIs this APIC sent that another APIC accepted. */
  sentIpis = 0;

  /**
   * @param apicId - this APIC's id (= the vCPU id, boot protocol)
   * @param quantum - timer period in clock units (instructions), at least 1
   * @param route - hands a fixed IPI to another APIC id; returns whether such an APIC exists
   */
  constructor(
    readonly apicId: number,
    readonly quantum: number,
    private readonly route?: (destination: number, vector: number) => boolean,
  ) {}

  /**
   * Accepts a fixed interrupt sent by another APIC (one IRR bit per vector, §11.8.4: a vector
   * already waiting is not queued twice).
   *
   * @param vector - the vector, 16..255
   */
  accept(vector: number): void {
    if (!this.pending.includes(vector)) this.pending.push(vector);
  }

  /**
   * Serves RDMSR of an x2APIC MSR.
   *
   * @param index - the MSR index, 0x800..0x8ff
   * @param now - the VM clock
   * @returns the register value
   */
  readMsr(index: number, now: number): bigint {
    switch (index) {
      case X2APIC_MSR.id:
        return BigInt(this.apicId);
      case X2APIC_MSR.version:
        return BigInt(VERSION);
      case X2APIC_MSR.timerCurrentCount: {
        // Scaled to the programmed initial count so the guest sees it run down.
        const initial = this.regs.get(X2APIC_MSR.timerInitialCount) ?? 0n;
        if (this.deadline === undefined || initial === 0n) return 0n;
        const left = Math.max(0, this.deadline - now);
        return (initial * BigInt(left)) / BigInt(this.quantum);
      }
      default:
        return this.regs.get(index) ?? 0n;
    }
  }

  /**
   * Serves WRMSR of an x2APIC MSR.
   *
   * @param index - the MSR index, 0x800..0x8ff
   * @param value - EDX:EAX
   * @param now - the VM clock
   */
  writeMsr(index: number, value: bigint, now: number): void {
    switch (index) {
      case X2APIC_MSR.eoi:
        return;
      case X2APIC_MSR.icr:
        this.regs.set(index, value);
        this.sendIpi(value);
        return;
      case X2APIC_MSR.timerInitialCount:
        this.regs.set(index, value & 0xffff_ffffn);
        // §11.5.4: writing the initial count starts the timer; writing 0 stops it.
        this.deadline = value === 0n ? undefined : now + this.quantum;
        return;
      default:
        this.regs.set(index, value);
    }
  }

  // Physical destination mode, no shorthand (what the protocol's kernel sends): fixed delivery
  // of a vector >= 16 to the APIC whose x2APIC id is ICR[63:32] (§11.12.9, §11.6.1).
  private sendIpi(icr: bigint): void {
    const vector = Number(icr & 0xffn);
    const destination = Number(icr >> 32n);
    if ((Number(icr & 0xffffn) & ICR_DELIVERY_MODE) !== 0 || vector < 16) {
      this.droppedIpis++;
      return;
    }
    if (destination === this.apicId) this.pending.push(vector);
    else if (this.route?.(destination, vector) === true) this.sentIpis++;
    else this.droppedIpis++;
  }

  /**
   * Whether a timer expiry now would deliver an interrupt (LVT timer unmasked with a vector
   * >= 16 and the APIC software-enabled, §11.5.1, §11.4.7.2).
   *
   * @returns true when an expiry is delivered
   */
  timerDelivers(): boolean {
    const lvt = Number(this.regs.get(X2APIC_MSR.lvtTimer) ?? BigInt(LVT_MASK));
    const svr = Number(this.regs.get(X2APIC_MSR.svr) ?? 0n);
    return (lvt & LVT_MASK) === 0 && (svr & SVR_ENABLE) !== 0 && (lvt & 0xff) >= 16;
  }

  /**
   * Advances the timer to `now`: when the deadline has passed, the timer fires (if its LVT
   * entry is unmasked and the APIC software-enabled) and re-arms in periodic mode.
   *
   * @param now - the VM clock
   */
  advance(now: number): void {
    while (this.deadline !== undefined && now >= this.deadline) {
      const lvt = Number(this.regs.get(X2APIC_MSR.lvtTimer) ?? BigInt(LVT_MASK));
      this.timerExpiries++;
      if (this.timerDelivers()) {
        // A fixed interrupt already waiting is not queued twice (the IRR holds one bit per
        // vector, §11.8.4).
        if (!this.pending.includes(lvt & 0xff)) this.pending.push(lvt & 0xff);
      }
      this.deadline = (lvt & LVT_PERIODIC) !== 0 ? this.deadline + this.quantum : undefined;
    }
  }
}
