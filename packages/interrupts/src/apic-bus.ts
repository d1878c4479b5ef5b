import { InterruptError } from './errors.js';
import { IoApic } from './io-apic.js';
import { LocalApic } from './local-apic.js';
import { type ApicInterrupt, DeliveryMode, decodeMsi, type MsiAddressData } from './msi.js';

/** An MSI as a PCI function sends it, tagged with its requester ID (`@vmkit/pci`'s `MsiMessage`). */
export interface TaggedMsi extends MsiAddressData {
  /** Routing ID of the sender. */
  readonly requesterId: number;
}

/** Options of an {@link ApicBus}. */
export interface ApicBusOptions {
  /** x2APIC IDs of the CPUs (default 0..cpus-1). */
  readonly apicIds?: readonly number[];
  /** Number of CPUs when `apicIds` is omitted (default 1). */
  readonly cpus?: number;
  /** I/O APIC pins (default 24); 0 for none. */
  readonly ioApicPins?: number;
  /**
   * Which I/O APIC pin an INTx of (requester, pin 1-4) drives (default: the conventional swizzle
   * onto pins 16-19, `16 + (device + pin - 1) % 4`).
   */
  readonly intxRoute?: (requesterId: number, pin: number) => number;
}

/**
 * The platform's interrupt fabric: local APICs, an I/O APIC and message delivery between them.
 * It is the sink every interrupt source plugs into: `deliverMsi` and `setIntx` make it a
 * `@vmkit/pci` `InterruptSink`, `deliverInterrupt` a `@vmkit/iommu` `RemappedInterruptSink`.
 *
 * Destinations (SDM Vol. 3A §11.6.2, §11.12.10): physical mode matches the APIC ID, with 0xFF
 * (8-bit sources) or 0xFFFFFFFF broadcasting; logical mode uses x2APIC cluster addressing
 * (cluster in 31:16, member bitmap in 15:0) for 32-bit destinations and a flat bitmap of APIC IDs
 * 0-7 for 8-bit compatibility-format destinations. Lowest-priority delivery picks the matching
 * APIC with the lowest PPR (lowest ID on ties).
 */
export class ApicBus {
  /** The local APICs, in CPU order. */
  readonly cpus: readonly LocalApic[];
  /** The I/O APIC (undefined when built with 0 pins). */
  readonly ioApic: IoApic | undefined;
  /** Messages that matched no APIC. */
  undeliverable = 0;
  private readonly byId = new Map<number, LocalApic>();
  private readonly intxRoute: (rid: number, pin: number) => number;

  /** @param options - CPUs, I/O APIC size, INTx routing */
  constructor(options: ApicBusOptions = {}) {
    const ids = options.apicIds ?? Array.from({ length: options.cpus ?? 1 }, (_, i) => i);
    if (ids.length === 0 || new Set(ids).size !== ids.length) {
      throw new InterruptError('INVALID_CONFIG', 'APIC IDs must be distinct and non-empty');
    }
    const bus = {
      broadcastEoi: (vector: number) => this.ioApic?.eoi(vector),
      sendIpi: (from: LocalApic, irq: ApicInterrupt, shorthand: number) =>
        this.ipi(from, irq, shorthand),
    };
    this.cpus = ids.map((id) => new LocalApic(id, bus));
    for (const c of this.cpus) this.byId.set(c.id, c);
    const pins = options.ioApicPins ?? 24;
    this.ioApic =
      pins > 0 ? new IoApic({ deliver: (irq) => this.deliver(irq, true) }, pins) : undefined;
    this.intxRoute =
      options.intxRoute ?? ((rid, pin) => 16 + ((((rid >>> 3) & 0x1f) + pin - 1) % 4));
  }

  /**
   * The local APIC with x2APIC ID `id`.
   *
   * @param id - APIC ID
   * @returns the APIC or undefined
   */
  apic(id: number): LocalApic | undefined {
    return this.byId.get(id);
  }

  /**
   * Delivers an interrupt to its destination APIC(s).
   *
   * @param irq - the interrupt
   * @param compatibility - the destination is an 8-bit xAPIC-format field (MSI, I/O APIC)
   * @returns how many APICs accepted it
   */
  deliver(irq: ApicInterrupt, compatibility = false): number {
    const targets = this.match(irq, compatibility);
    if (targets.length === 0) {
      this.undeliverable++;
      return 0;
    }
    if (irq.deliveryMode === DeliveryMode.LOWEST_PRIORITY || irq.redirectionHint) {
      let best = targets[0]!;
      for (const t of targets)
        if (t.ppr < best.ppr || (t.ppr === best.ppr && t.id < best.id)) best = t;
      best.accept(irq);
      return 1;
    }
    for (const t of targets) t.accept(irq);
    return targets.length;
  }

  /**
   * Decodes and delivers a compatibility-format MSI (a write to 0xFEEx_xxxx).
   *
   * @param m - the message
   */
  deliverMsi(m: TaggedMsi): void {
    const irq = decodeMsi(m);
    if (irq === undefined) {
      this.undeliverable++;
      return;
    }
    this.deliver(irq, true);
  }

  /**
   * Delivers an interrupt that passed interrupt remapping (32-bit destinations).
   *
   * @param irq - the interrupt
   */
  deliverInterrupt(irq: ApicInterrupt): void {
    this.deliver(irq, false);
  }

  /**
   * Drives the I/O APIC pin that a function's INTx is wired to.
   *
   * @param requesterId - the function
   * @param pin - 1-4 (INTA#-INTD#)
   * @param asserted - line level
   */
  setIntx(requesterId: number, pin: number, asserted: boolean): void {
    if (pin < 1 || pin > 4) return;
    this.ioApic?.setLine(this.intxRoute(requesterId, pin), asserted);
  }

  private match(irq: ApicInterrupt, compatibility: boolean): LocalApic[] {
    const d = irq.destination >>> 0;
    if (irq.destinationMode === 'physical') {
      if ((compatibility && d === 0xff) || d === 0xffff_ffff) return [...this.cpus];
      const t = this.byId.get(d);
      return t === undefined ? [] : [t];
    }
    if (compatibility) return this.cpus.filter((c) => c.id < 8 && (d >>> c.id) & 1);
    if (d === 0xffff_ffff) return [...this.cpus];
    return this.cpus.filter((c) => c.ldr >>> 16 === d >>> 16 && (c.ldr & d & 0xffff) !== 0);
  }

  private ipi(from: LocalApic, irq: ApicInterrupt, shorthand: number): void {
    if (shorthand === 0) {
      this.deliver(irq, false);
      return;
    }
    // Shorthands (ICR bits 19:18): 01b self, 10b all including self, 11b all excluding self.
    for (const c of this.cpus) {
      if (shorthand === 1 ? c === from : shorthand === 2 || c !== from) c.accept(irq);
    }
  }
}
