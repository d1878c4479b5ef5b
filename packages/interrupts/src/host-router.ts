import type { ApicBus } from './apic-bus.js';
import { InterruptError } from './errors.js';
import { composeMsi, DeliveryMode, type MsiAddressData } from './msi.js';
import type { VectorAllocator, VectorHandle } from './vectors.js';

/** The guest interrupt a host interrupt stands for. */
export interface GuestTarget {
  /** Guest (domain) number. */
  readonly vm: number;
  /** Virtual CPU in that guest. */
  readonly vcpu: number;
  /** Guest vector to inject. */
  readonly vector: number;
}

/** A host interrupt source bound to a guest target. */
export interface Binding {
  /** The host vector and where it is reserved. */
  readonly handle: VectorHandle;
  /** The PCPU the source is directed at. */
  readonly pcpu: number;
  /** The guest interrupt. */
  readonly target: GuestTarget;
  /** Edge (MSI) or level (I/O APIC pin). */
  readonly trigger: 'edge' | 'level';
  /** For MSI sources: the message the device must be programmed with. */
  readonly message?: MsiAddressData;
  /** For I/O APIC sources: the pin. */
  readonly pin?: number;
}

/** Counters of the router. */
export interface RouterStats {
  /** Guest interrupts injected. */
  injected: number;
  /**
   * Injections of a level-triggered source that the guest has nothing to service for: its previous
   * injection is still in service, or its line is no longer asserted (the interrupt was already
   * handled). These are seed 003's redundant I/O APIC messages.
   */
  redundant: number;
  /** Host interrupts with no binding for (PCPU, vector). */
  spurious: number;
}

/**
 * The hypervisor side of seed 003's vectoring: binds device interrupts to guest interrupts,
 * allocating host vectors with a {@link VectorAllocator}, and dispatches host interrupts through a
 * remap table keyed by vector (global vectors) or by (PCPU, vector) (per-PCPU vectors). MSI sources
 * are edge-triggered: the host EOIs at once. I/O APIC sources are level-triggered: the host EOI,
 * which the local APIC broadcasts to the I/O APIC with only the vector, is sent when the guest EOIs
 * its virtual interrupt.
 */
export class HostInterruptRouter {
  /** Counters. */
  readonly stats: RouterStats = { injected: 0, redundant: 0, spurious: 0 };
  /** Guest injections, in order (for tests and traces). */
  readonly log: GuestTarget[] = [];
  private readonly bus: ApicBus;
  private readonly allocator: VectorAllocator;
  private readonly table = new Map<string, Binding>();
  private readonly inService = new Map<Binding, number>();

  /**
   * @param bus - the host's APICs and I/O APIC
   * @param allocator - the vector policy
   */
  constructor(bus: ApicBus, allocator: VectorAllocator) {
    if (allocator.pcpus !== bus.cpus.length) {
      throw new InterruptError('INVALID_CONFIG', 'allocator and bus disagree on the PCPU count');
    }
    this.bus = bus;
    this.allocator = allocator;
  }

  /**
   * Binds an MSI/MSI-X source (edge-triggered) to a guest interrupt, directed at `pcpu`.
   *
   * @param target - the guest interrupt
   * @param pcpu - the PCPU that takes it (normally where the target VCPU runs)
   * @returns the binding, with the message to program into the device
   */
  bindMsi(target: GuestTarget, pcpu: number): Binding {
    const handle = this.allocator.allocate({
      trigger: 'edge',
      pcpu: this.allocator.isGlobal('edge') ? undefined : pcpu,
    });
    const message = composeMsi({
      vector: handle.vector,
      destination: this.bus.cpus[pcpu]!.id,
      destinationMode: 'physical',
      deliveryMode: DeliveryMode.FIXED,
      triggerMode: 'edge',
    });
    return this.add({ handle, pcpu, target, trigger: 'edge', message });
  }

  /**
   * Binds an I/O APIC pin (level-triggered) to a guest interrupt and programs its entry.
   *
   * @param pin - I/O APIC pin
   * @param target - the guest interrupt
   * @param pcpu - the PCPU that takes it
   * @returns the binding
   */
  bindIoApicPin(pin: number, target: GuestTarget, pcpu: number): Binding {
    const io = this.bus.ioApic;
    if (io === undefined || pin < 0 || pin >= io.pins)
      throw new InterruptError('INVALID_CONFIG', `no I/O APIC pin ${pin}`);
    const handle = this.allocator.allocate({
      trigger: 'level',
      pcpu: this.allocator.isGlobal('level') ? undefined : pcpu,
    });
    io.setEntry(pin, handle.vector | (1 << 15), (this.bus.cpus[pcpu]!.id & 0xff) << 24);
    return this.add({ handle, pcpu, target, trigger: 'level', pin });
  }

  /**
   * Unbinds a source and frees its vector.
   *
   * @param b - the binding
   */
  unbind(b: Binding): void {
    this.table.delete(key(b));
    this.inService.delete(b);
    if (b.pin !== undefined) this.bus.ioApic?.setEntry(b.pin, 1 << 16, 0);
    this.allocator.free(b.handle);
  }

  /**
   * Runs PCPU `pcpu`'s interrupt handling: takes every deliverable host interrupt, looks it up in
   * the remap table and injects the guest interrupt; EOIs edge-triggered ones at once.
   *
   * @param pcpu - PCPU index
   * @returns guest interrupts injected
   */
  dispatch(pcpu: number): number {
    const apic = this.bus.cpus[pcpu]!;
    let n = 0;
    for (let v = apic.acknowledge(); v >= 0; v = apic.acknowledge()) {
      const b = this.lookup(pcpu, v);
      if (b === undefined) {
        this.stats.spurious++;
        apic.eoi();
        continue;
      }
      if (
        b.trigger === 'level' &&
        (this.inService.has(b) || !this.bus.ioApic?.isAsserted(b.pin!))
      ) {
        this.stats.redundant++;
      }
      this.stats.injected++;
      this.log.push(b.target);
      n++;
      if (b.trigger === 'edge') apic.eoi();
      else this.inService.set(b, pcpu);
    }
    return n;
  }

  /**
   * The guest EOIs the virtual interrupt of a level-triggered binding: the host EOIs on the PCPU
   * that took it, which broadcasts the vector (and only the vector) to the I/O APIC.
   *
   * @param b - the binding
   */
  guestEoi(b: Binding): void {
    const pcpu = this.inService.get(b);
    if (pcpu === undefined) return;
    this.inService.delete(b);
    this.bus.cpus[pcpu]!.eoi();
  }

  private add(b: Binding): Binding {
    this.table.set(key(b), b);
    return b;
  }

  private lookup(pcpu: number, vector: number): Binding | undefined {
    return this.table.get(`${pcpu}:${vector}`) ?? this.table.get(`*:${vector}`);
  }
}

/** Remap-table key: the vector alone for global vectors, (PCPU, vector) for per-PCPU ones. */
function key(b: Binding): string {
  return `${b.handle.global ? '*' : b.pcpu}:${b.handle.vector}`;
}
