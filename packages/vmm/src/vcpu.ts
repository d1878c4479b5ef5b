// One virtual CPU: the interpreter's Cpu behind the strategy's MMU, its local x2APIC, and the
// counters the Vm reports per vCPU.
import { Cpu, type CpuidFunction, MmuMemory } from '@vmkit/cpu';
import type { GuestMemory } from '@vmkit/memory';
import { BasicExitReason } from '@vmkit/vmx';
import { ExitLog } from './exit-log.js';
import type { VcpuTranslation } from './strategy.js';
import { X2APIC_MSR_FIRST, X2APIC_MSR_LAST, X2Apic } from './x2apic.js';

/** What a {@link Vcpu} needs from its VM. */
export interface VcpuSetup {
  /** The vCPU id (= APIC id, boot protocol). */
  readonly id: number;
  /** Guest RAM (guest-physical = host-physical). */
  readonly ram: GuestMemory;
  /** The strategy's translation for this vCPU. */
  readonly translation: VcpuTranslation;
  /** The guest's MAXPHYADDR. */
  readonly maxPhyAddr: number;
  /** The CPUID the guest sees. */
  readonly cpuid: CpuidFunction;
  /** APIC timer period in instructions. */
  readonly timerQuantum: number;
  /** Whether exits are VM exits (every strategy but `native`). */
  readonly virtualized: boolean;
  /** Routes a fixed IPI to another vCPU's APIC; false when no such APIC id exists. */
  readonly route: (destination: number, vector: number) => boolean;
  /** Called for every guest exception the CPU raises (before delivery). */
  readonly onException: (vcpu: Vcpu, vector: number) => boolean;
}

/** One vCPU of a {@link Vm}. */
export class Vcpu {
  /** The vCPU id. */
  readonly id: number;
  /** The interpreter. */
  readonly cpu: Cpu;
  /** The local APIC. */
  readonly apic: X2Apic;
  /** Linear memory of the vCPU (through its MMU). */
  readonly linear: MmuMemory;
  /** The strategy's translation and its counters. */
  readonly translation: VcpuTranslation;
  /** VM exits of this vCPU (empty under `native`). */
  readonly exits = new ExitLog();
  /** Whether exits are recorded as VM exits. */
  readonly virtualized: boolean;
  /** Clock units skipped while the vCPU idled in HLT. */
  idle = 0;
  /** Interrupts handed to the CPU. */
  interrupts = 0;
  /**
   * `running`; `halted`: in HLT with IF = 1, waiting for an interrupt; `stopped`: in HLT with
   * IF = 0, which nothing this VMM sends can end.
   */
  state: 'running' | 'halted' | 'stopped' = 'running';

  /**
   * @param setup - id, translation, CPUID, timer, exception hook
   */
  constructor(setup: VcpuSetup) {
    this.id = setup.id;
    this.translation = setup.translation;
    this.virtualized = setup.virtualized;
    this.apic = new X2Apic(setup.id, setup.timerQuantum, setup.route);
    const flags = { cpu: undefined as Cpu | undefined };
    this.linear = new MmuMemory(setup.translation.mmu, setup.ram, {
      rflags: () => flags.cpu?.flags ?? 0,
    });
    const cpuid = setup.cpuid;
    this.cpu = new Cpu({
      memory: this.linear,
      exceptionDelivery: 'idt',
      maxPhyAddr: setup.maxPhyAddr,
      // CPUID always exits in VMX non-root operation (SDM Vol. 3C §26.1.2).
      cpuid: (leaf, subleaf) => {
        this.exit(BasicExitReason.CPUID);
        return cpuid(leaf, subleaf);
      },
      hostMsr: (i) => i >= X2APIC_MSR_FIRST && i <= X2APIC_MSR_LAST,
      interceptException: (vector) => setup.onException(this, vector),
    });
    flags.cpu = this.cpu;
  }

  /** The vCPU's clock: instructions retired plus idle time skipped in HLT. */
  get clock(): number {
    return this.cpu.instructions + this.idle;
  }

  /**
   * Records a VM exit at the current RIP (nothing under `native`).
   *
   * @param reason - the basic exit reason
   */
  exit(reason: number): void {
    if (this.virtualized) this.exits.record(reason, this.cpu.rip);
  }

  /**
   * Hands the APIC's oldest accepted vector to the CPU when its one pending slot is free.
   *
   * @returns whether an interrupt was handed over
   */
  deliverPending(): boolean {
    if (this.cpu.pendingInterrupt !== undefined) return false;
    const vector = this.apic.pending.shift();
    if (vector === undefined) return false;
    this.cpu.requestInterrupt(vector);
    this.interrupts++;
    return true;
  }
}
