import type { AccessSize, MmioHandler } from '@vmkit/memory';
import { InterruptError } from './errors.js';
import type { ApicInterrupt } from './msi.js';

/** Redirection-table entry bits (82093AA I/O APIC datasheet §3.2.4). */
export const Redirection = {
  /** Delivery Status (bit 12, RO). */
  DELIVERY_STATUS: 1 << 12,
  /** Interrupt Input Pin Polarity (bit 13): 1 = active low. */
  POLARITY_LOW: 1 << 13,
  /** Remote IRR (bit 14, RO): a level-triggered interrupt was accepted and awaits EOI. */
  REMOTE_IRR: 1 << 14,
  /** Trigger Mode (bit 15): 1 = level. */
  LEVEL: 1 << 15,
  /** Interrupt Mask (bit 16). */
  MASK: 1 << 16,
} as const;

/** Where the I/O APIC sends interrupt messages. */
export interface IoApicSink {
  /** Delivers one message from pin `pin`. */
  deliver(irq: ApicInterrupt, pin: number): void;
}

/** Counters of an I/O APIC. */
export interface IoApicStats {
  /** Messages sent per pin. */
  readonly sent: number[];
  /** EOIs received. */
  eois: number;
}

/**
 * An I/O APIC in the 82093AA model: IOREGSEL (offset 00h) and IOWIN (10h) registers, ID (00h),
 * Version (01h: 11h with Maximum Redirection Entry in 23:16), Arbitration (02h) and a 64-bit
 * redirection entry per pin at 10h + 2n (vector 7:0, delivery mode 10:8, destination mode 11,
 * delivery status 12 RO, polarity 13, Remote IRR 14 RO, trigger mode 15, mask 16, destination
 * 63:56; x2APIC-style 32-bit destinations are the job of interrupt remapping).
 *
 * Edge-triggered pins send on an inactive-to-active transition. Level-triggered pins send while
 * active, unmasked and Remote IRR is clear, then set Remote IRR; an EOI for vector V clears
 * Remote IRR of every level-triggered entry whose vector is V and re-sends those still active.
 * The EOI names only the vector, not the CPU: seed 003's per-PCPU vectoring problem.
 */
export class IoApic implements MmioHandler {
  /** Number of pins (redirection entries). */
  readonly pins: number;
  /** Counters. */
  readonly stats: IoApicStats;
  private readonly entries: Uint32Array;
  private readonly level: Uint8Array;
  private select = 0;
  private id = 0;
  private readonly sink: IoApicSink;

  /**
   * @param sink - the APIC bus
   * @param pins - redirection entries (default 24)
   */
  constructor(sink: IoApicSink, pins = 24) {
    if (!Number.isInteger(pins) || pins < 1 || pins > 240) {
      throw new InterruptError('INVALID_CONFIG', `I/O APIC pin count ${pins} is not 1-240`);
    }
    this.pins = pins;
    this.sink = sink;
    this.entries = new Uint32Array(pins * 2);
    for (let p = 0; p < pins; p++) this.entries[p * 2] = Redirection.MASK;
    this.level = new Uint8Array(pins);
    this.stats = { sent: new Array(pins).fill(0), eois: 0 };
  }

  /**
   * Programs a redirection entry (as a driver writes it through IOWIN, low then high).
   *
   * @param pin - pin number
   * @param low - bits 31:0 (RO bits 12 and 14 are ignored)
   * @param high - bits 63:32
   */
  setEntry(pin: number, low: number, high: number): void {
    this.writeRegister(0x10 + 2 * pin + 1, high);
    this.writeRegister(0x10 + 2 * pin, low);
  }

  /**
   * Reads a redirection entry.
   *
   * @param pin - pin number
   * @returns [low, high]
   */
  entry(pin: number): [number, number] {
    return [this.entries[pin * 2]!, this.entries[pin * 2 + 1]!];
  }

  /**
   * Drives an input pin (active high after polarity: `asserted` is the logical state).
   *
   * @param pin - pin number
   * @param asserted - whether the line is active
   */
  setLine(pin: number, asserted: boolean): void {
    if (!Number.isInteger(pin) || pin < 0 || pin >= this.pins) return;
    const was = this.level[pin] === 1;
    this.level[pin] = asserted ? 1 : 0;
    const low = this.entries[pin * 2]!;
    if (low & Redirection.LEVEL) this.service(pin);
    else if (asserted && !was && (low & Redirection.MASK) === 0) this.send(pin);
  }

  /**
   * Whether input pin `pin` is active now.
   *
   * @param pin - pin number
   * @returns the logical line level
   */
  isAsserted(pin: number): boolean {
    return this.level[pin] === 1;
  }

  /**
   * An EOI message for `vector` from some local APIC (§11.8.5 of the SDM; the 82093AA has no EOI
   * register, newer I/O APICs do): clears Remote IRR of matching level-triggered entries.
   *
   * @param vector - the vector the CPU finished
   */
  eoi(vector: number): void {
    this.stats.eois++;
    for (let p = 0; p < this.pins; p++) {
      const low = this.entries[p * 2]!;
      if (
        (low & 0xff) !== vector ||
        (low & Redirection.LEVEL) === 0 ||
        (low & Redirection.REMOTE_IRR) === 0
      )
        continue;
      this.entries[p * 2] = low & ~Redirection.REMOTE_IRR;
      this.service(p);
    }
  }

  /** MMIO read: IOREGSEL at 00h, IOWIN at 10h (DWORD accesses). */
  read(offset: number, _size: AccessSize): bigint {
    if (offset === 0x00) return BigInt(this.select);
    if (offset === 0x10) return BigInt(this.readRegister(this.select));
    return 0n;
  }

  /** MMIO write: IOREGSEL at 00h, IOWIN at 10h. */
  write(offset: number, _size: AccessSize, value: bigint): void {
    const v = Number(value & 0xffff_ffffn);
    if (offset === 0x00) this.select = v & 0xff;
    else if (offset === 0x10) this.writeRegister(this.select, v);
  }

  private readRegister(index: number): number {
    if (index === 0x00) return this.id;
    if (index === 0x01) return (((this.pins - 1) << 16) | 0x11) >>> 0;
    if (index === 0x02) return this.id;
    const e = index - 0x10;
    if (e >= 0 && e < this.pins * 2) return this.entries[e]!;
    return 0;
  }

  private writeRegister(index: number, value: number): void {
    if (index === 0x00) {
      this.id = value & 0x0f00_0000;
      return;
    }
    const e = index - 0x10;
    if (e < 0 || e >= this.pins * 2) return;
    if (e % 2 === 1) {
      this.entries[e] = value & 0xff00_0000;
      return;
    }
    const keep = this.entries[e]! & (Redirection.REMOTE_IRR | Redirection.DELIVERY_STATUS);
    const writable = 0x1_afff; // bits 16, 15, 13, 11:0
    this.entries[e] = ((value & writable) | keep) >>> 0;
    const pin = e / 2;
    if ((value & Redirection.LEVEL) === 0)
      this.entries[e] = this.entries[e]! & ~Redirection.REMOTE_IRR;
    if (this.entries[e]! & Redirection.LEVEL) this.service(pin);
  }

  /** Sends a level-triggered pin's message if it is due. */
  private service(pin: number): void {
    const low = this.entries[pin * 2]!;
    if (this.level[pin] !== 1 || low & Redirection.MASK || low & Redirection.REMOTE_IRR) return;
    this.entries[pin * 2] = low | Redirection.REMOTE_IRR;
    this.send(pin);
  }

  private send(pin: number): void {
    const low = this.entries[pin * 2]!;
    const high = this.entries[pin * 2 + 1]!;
    this.stats.sent[pin]!++;
    this.sink.deliver(
      {
        vector: low & 0xff,
        deliveryMode: (low >>> 8) & 7,
        destinationMode: low & 0x800 ? 'logical' : 'physical',
        triggerMode: low & Redirection.LEVEL ? 'level' : 'edge',
        destination: high >>> 24,
      },
      pin,
    );
  }
}
