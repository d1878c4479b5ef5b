import { InterruptError } from './errors.js';
import { type ApicInterrupt, DeliveryMode } from './msi.js';

/** x2APIC MSR addresses (Intel SDM Vol. 3A §11.12.1.2, Table 11-6). */
export const X2ApicMsr = {
  /** Local APIC ID (RO). */
  ID: 0x802,
  /** Local APIC Version (RO). */
  VERSION: 0x803,
  /** Task Priority Register (RW). */
  TPR: 0x808,
  /** Processor Priority Register (RO). */
  PPR: 0x80a,
  /** EOI (WO; a non-zero write is #GP). */
  EOI: 0x80b,
  /** Logical Destination Register (RO in x2APIC mode). */
  LDR: 0x80d,
  /** Spurious Interrupt Vector Register (RW). */
  SVR: 0x80f,
  /** In-Service Register bits 31:0; ISR n at 0x810 + n. */
  ISR0: 0x810,
  /** Trigger Mode Register bits 31:0; TMR n at 0x818 + n. */
  TMR0: 0x818,
  /** Interrupt Request Register bits 31:0; IRR n at 0x820 + n. */
  IRR0: 0x820,
  /** Error Status Register (RW, write 0). */
  ESR: 0x828,
  /** Interrupt Command Register (RW, 64-bit). */
  ICR: 0x830,
  /** SELF IPI (WO). */
  SELF_IPI: 0x83f,
} as const;

/** SVR bit 8: APIC software enable; bit 12: suppress EOI broadcast (SDM §11.9, §11.8.5). */
const SVR_ENABLE = 1 << 8;
const SVR_SUPPRESS_EOI_BROADCAST = 1 << 12;
/** ESR bit 6: Received Illegal Vector (SDM §11.5.3). */
const ESR_RECEIVED_ILLEGAL_VECTOR = 1 << 6;

/** What a local APIC needs from the platform. */
export interface LocalApicBus {
  /** Broadcasts an EOI for a level-triggered `vector` to the I/O APICs (SDM §11.8.5). */
  broadcastEoi(vector: number): void;
  /** Sends an IPI written to the ICR. */
  sendIpi(from: LocalApic, irq: ApicInterrupt, shorthand: number): void;
}

/** Counters of one local APIC. */
export interface LocalApicStats {
  /** Fixed interrupts accepted into the IRR. */
  accepted: number;
  /** Interrupts whose vector was already pending in the IRR (coalesced into one). */
  coalesced: number;
  /** NMIs received. */
  nmis: number;
  /** EOIs written. */
  eois: number;
}

/**
 * A local APIC in x2APIC mode, with the state a guest kernel and the VMM use (Intel SDM Vol. 3A
 * Chapter 11): IRR, ISR and TMR (256 bits each), TPR and PPR, EOI with broadcast to the I/O APICs
 * for level-triggered vectors, the Spurious Vector Register, ESR, ICR/SELF IPI, and the x2APIC
 * MSR interface. Vectors 0-15 are illegal for fixed delivery and set ESR bit 6 instead (§11.5.3).
 *
 * Priority (§11.8.3.1): PPR = TPR when TPR[7:4] >= ISRV[7:4], else ISRV[7:4]:0; the highest IRR
 * vector is presented to the processor when its class exceeds PPR[7:4].
 */
export class LocalApic {
  /** x2APIC ID. */
  readonly id: number;
  /** Counters. */
  readonly stats: LocalApicStats = { accepted: 0, coalesced: 0, nmis: 0, eois: 0 };
  private readonly irr = new Uint32Array(8);
  private readonly isr = new Uint32Array(8);
  private readonly tmr = new Uint32Array(8);
  private tpr = 0;
  private svr = 0xff;
  private esr = 0;
  private icr = 0n;
  private readonly bus: LocalApicBus;

  /**
   * @param id - x2APIC ID
   * @param bus - EOI broadcast and IPI routing
   */
  constructor(id: number, bus: LocalApicBus) {
    if (!Number.isInteger(id) || id < 0 || id > 0xffff_fffe) {
      throw new InterruptError('INVALID_CONFIG', `x2APIC ID ${id} is out of range`);
    }
    this.id = id;
    this.bus = bus;
  }

  /** Logical Destination Register in x2APIC mode: cluster (ID 19:4) in 31:16, bit (ID 3:0) in 15:0 (§11.12.10.2). */
  get ldr(): number {
    return (((this.id >>> 4) << 16) | (1 << (this.id & 0xf))) >>> 0;
  }

  /** Whether the APIC is software-enabled (SVR bit 8). */
  get enabled(): boolean {
    return (this.svr & SVR_ENABLE) !== 0;
  }

  /** Processor Priority Register (§11.8.3.1). */
  get ppr(): number {
    const isrv = highest(this.isr);
    const isrClass = isrv < 0 ? 0 : isrv & 0xf0;
    return (this.tpr & 0xf0) >= isrClass ? this.tpr & 0xff : isrClass;
  }

  /**
   * Accepts an interrupt message addressed to this APIC (§11.6 / §11.11 delivery).
   *
   * @param irq - the interrupt
   */
  accept(irq: ApicInterrupt): void {
    if (irq.deliveryMode === DeliveryMode.NMI) {
      this.stats.nmis++;
      return;
    }
    if (
      irq.deliveryMode !== DeliveryMode.FIXED &&
      irq.deliveryMode !== DeliveryMode.LOWEST_PRIORITY
    )
      return;
    const v = irq.vector & 0xff;
    if (v < 16) {
      this.esr |= ESR_RECEIVED_ILLEGAL_VECTOR;
      return;
    }
    if (testBit(this.irr, v)) this.stats.coalesced++;
    this.stats.accepted++;
    setBit(this.irr, v, true);
    setBit(this.tmr, v, irq.triggerMode === 'level');
  }

  /** The vector the processor would take now, or -1 (highest IRR above PPR's class). */
  pendingVector(): number {
    const v = highest(this.irr);
    if (v < 0 || (v & 0xf0) <= (this.ppr & 0xf0)) return -1;
    return v;
  }

  /**
   * The processor acknowledges the pending interrupt (INTA): the vector moves from IRR to ISR.
   *
   * @returns the vector delivered, or -1 if none was deliverable
   */
  acknowledge(): number {
    const v = this.pendingVector();
    if (v < 0) return -1;
    setBit(this.irr, v, false);
    setBit(this.isr, v, true);
    return v;
  }

  /**
   * EOI: clears the highest ISR bit; for a level-triggered vector (TMR set) broadcasts the EOI to
   * the I/O APICs unless SVR bit 12 suppresses it (§11.8.5). The broadcast carries only the vector.
   */
  eoi(): void {
    this.stats.eois++;
    const v = highest(this.isr);
    if (v < 0) return;
    setBit(this.isr, v, false);
    if (testBit(this.tmr, v) && (this.svr & SVR_SUPPRESS_EOI_BROADCAST) === 0)
      this.bus.broadcastEoi(v);
  }

  /** Whether `vector` is in the IRR. */
  isRequested(vector: number): boolean {
    return testBit(this.irr, vector);
  }

  /** Whether `vector` is in the ISR. */
  isInService(vector: number): boolean {
    return testBit(this.isr, vector);
  }

  /**
   * RDMSR of an x2APIC register. Throws `GENERAL_PROTECTION` for write-only or unknown MSRs.
   *
   * @param msr - MSR address 0x800-0x8FF
   * @returns the value
   */
  readMsr(msr: number): bigint {
    if (msr >= X2ApicMsr.ISR0 && msr < X2ApicMsr.ISR0 + 8)
      return BigInt(this.isr[msr - X2ApicMsr.ISR0]!);
    if (msr >= X2ApicMsr.TMR0 && msr < X2ApicMsr.TMR0 + 8)
      return BigInt(this.tmr[msr - X2ApicMsr.TMR0]!);
    if (msr >= X2ApicMsr.IRR0 && msr < X2ApicMsr.IRR0 + 8)
      return BigInt(this.irr[msr - X2ApicMsr.IRR0]!);
    switch (msr) {
      case X2ApicMsr.ID:
        return BigInt(this.id);
      case X2ApicMsr.VERSION:
        // Version 14h, Max LVT Entry 6 (bits 23:16), EOI-broadcast suppression supported (bit 24).
        return BigInt((1 << 24) | (6 << 16) | 0x14);
      case X2ApicMsr.TPR:
        return BigInt(this.tpr);
      case X2ApicMsr.PPR:
        return BigInt(this.ppr);
      case X2ApicMsr.LDR:
        return BigInt(this.ldr);
      case X2ApicMsr.SVR:
        return BigInt(this.svr);
      case X2ApicMsr.ESR:
        return BigInt(this.esr);
      case X2ApicMsr.ICR:
        return this.icr;
      default:
        throw new InterruptError(
          'GENERAL_PROTECTION',
          `RDMSR 0x${msr.toString(16)} is not readable`,
        );
    }
  }

  /**
   * WRMSR of an x2APIC register. Throws `GENERAL_PROTECTION` for read-only or unknown MSRs and
   * reserved bits (§11.12.1.2).
   *
   * @param msr - MSR address
   * @param value - the 64-bit value
   */
  writeMsr(msr: number, value: bigint): void {
    const gp = () =>
      new InterruptError(
        'GENERAL_PROTECTION',
        `WRMSR 0x${msr.toString(16)} <- 0x${value.toString(16)}`,
      );
    switch (msr) {
      case X2ApicMsr.TPR:
        if (value >> 8n !== 0n) throw gp();
        this.tpr = Number(value);
        return;
      case X2ApicMsr.EOI:
        if (value !== 0n) throw gp();
        this.eoi();
        return;
      case X2ApicMsr.SVR:
        if (value >> 13n !== 0n || (value & 0xc00n) !== 0n) throw gp();
        this.svr = Number(value);
        return;
      case X2ApicMsr.ESR:
        if (value !== 0n) throw gp();
        this.esr = 0;
        return;
      case X2ApicMsr.ICR: {
        this.icr = BigInt.asUintN(64, value);
        const low = Number(value & 0xffff_ffffn);
        this.bus.sendIpi(
          this,
          {
            vector: low & 0xff,
            deliveryMode: (low >>> 8) & 7,
            destinationMode: low & 0x800 ? 'logical' : 'physical',
            triggerMode: low & 0x8000 ? 'level' : 'edge',
            destination: Number((value >> 32n) & 0xffff_ffffn),
          },
          (low >>> 18) & 3,
        );
        return;
      }
      case X2ApicMsr.SELF_IPI:
        if (value >> 8n !== 0n) throw gp();
        this.accept({
          vector: Number(value),
          destination: this.id,
          destinationMode: 'physical',
          deliveryMode: 0,
          triggerMode: 'edge',
        });
        return;
      default:
        throw gp();
    }
  }
}

function testBit(words: Uint32Array, v: number): boolean {
  return ((words[v >>> 5]! >>> (v & 31)) & 1) === 1;
}

function setBit(words: Uint32Array, v: number, on: boolean): void {
  const w = v >>> 5;
  const bit = 1 << (v & 31);
  words[w] = on ? words[w]! | bit : words[w]! & ~bit;
}

/** Highest set bit in a 256-bit register, or -1. */
function highest(words: Uint32Array): number {
  for (let w = 7; w >= 0; w--) {
    const x = words[w]!;
    if (x !== 0) return w * 32 + 31 - Math.clz32(x);
  }
  return -1;
}
