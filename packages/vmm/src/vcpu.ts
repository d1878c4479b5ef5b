// One virtual CPU: the interpreter's Cpu behind the strategy's MMU, its local x2APIC, and the
// counters the Vm reports per vCPU.
import {
  type CodeCache,
  Cpu,
  type CpuidFunction,
  type MmuMemory,
  type Translator,
  type VmxControls,
} from '@vmkit/cpu';
import { guestControls, withInterruptWindow } from './controls.js';
import { ExitLog } from './exit-log.js';
import type { MemoryStrategy, MmuStrategy, VcpuTranslation } from './strategy.js';
import { X2APIC_MSR_FIRST, X2APIC_MSR_LAST, X2Apic } from './x2apic.js';

/** What a {@link Vcpu} needs from its VM. */
export interface VcpuSetup {
  /** The vCPU id (= APIC id, boot protocol). */
  readonly id: number;
  /** The memory strategy (builds this vCPU's translation). */
  readonly strategy: MemoryStrategy;
  /** The guest's MAXPHYADDR. */
  readonly maxPhyAddr: number;
  /** The CPUID the guest sees. */
  readonly cpuid: CpuidFunction;
  /** APIC timer period in instructions. */
  readonly timerQuantum: number;
  /** Whether the guest runs in VMX non-root mode (every strategy but `native`). */
  readonly virtualized: boolean;
  /** Routes a fixed IPI to another vCPU's APIC; false when no such APIC id exists. */
  readonly route: (destination: number, vector: number) => boolean;
  /** Called for every guest exception the CPU raises (before delivery). */
  readonly onException: (vcpu: Vcpu, vector: number) => boolean;
  /**
   * The code cache the VM's vCPUs share: blocks are keyed by physical address, and a store by
   * any vCPU drops the blocks every vCPU would run (cross-modifying code).
   */
  readonly codeCache: CodeCache;
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
  readonly linear: MmuMemory<Translator>;
  /** The strategy's translation and its counters. */
  readonly translation: VcpuTranslation;
  /** VM exits of this vCPU (empty under `native`). */
  readonly exits = new ExitLog();
  /** Whether the guest runs in VMX non-root mode (every strategy but `native`). */
  readonly virtualized: boolean;
  /** The CPUID the guest sees (served on CPUID exits, or by the CPU in root mode). */
  readonly cpuid: CpuidFunction;
  /** The VM-execution controls (undefined under `native`). */
  controls: VmxControls | undefined;
  /** An external-interrupt vector the VMM holds for injection. */
  injecting: number | undefined;
  /** Shadow page faults handled for this vCPU, by `ShadowFaultKind`. */
  readonly shadowFaults = new Float64Array(5);
  /** Simulated cycles this vCPU waited for the shadow lock. */
  lockWait = 0;
  /** Whether the VMM is emulating a device access of this vCPU (one instruction). */
  emulatingMmio = false;
  /** Guest CR3 loads the VMM served (shadow-root switches under `spt`). */
  cr3Loads = 0;
  /** Clock units skipped while the vCPU idled in HLT. */
  idle = 0;
  /** Guest instructions the VMM emulated after they exited (they retire for the guest). */
  emulated = 0;
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
    this.virtualized = setup.virtualized;
    this.apic = new X2Apic(setup.id, setup.timerQuantum, setup.route);
    const flags = { cpu: undefined as Cpu | undefined };
    this.translation = setup.strategy.vcpu(setup.maxPhyAddr, () => flags.cpu?.flags ?? 0);
    this.linear = this.translation.memory;
    this.cpuid = setup.cpuid;
    this.cpu = new Cpu({
      memory: this.linear,
      exceptionDelivery: 'idt',
      maxPhyAddr: setup.maxPhyAddr,
      cpuid: setup.cpuid,
      hostMsr: (i) => i >= X2APIC_MSR_FIRST && i <= X2APIC_MSR_LAST,
      interceptException: (vector) => setup.onException(this, vector),
      codeCache: setup.codeCache,
    });
    flags.cpu = this.cpu;
  }

  /**
   * Enters VMX non-root operation with the strategy's controls (the CPU must be in its entry
   * state). Nothing under `native`.
   *
   * @param kind - the strategy
   */
  enterGuest(kind: MmuStrategy): void {
    if (!this.virtualized) return;
    this.kind = kind;
    this.controls = guestControls(kind, this.cpu.cr0, this.cpu.cr4);
    this.cpu.vmEntry(this.controls);
  }

  /** Reloads the controls after the guest's CR0/CR4 changed (new read shadows). */
  updateControls(): void {
    if (this.kind === undefined) return;
    this.controls = guestControls(this.kind, this.cpu.cr0, this.cpu.cr4);
    // A vector still waiting for its window keeps waiting for it.
    this.cpu.vmEntry(
      this.injecting !== undefined ? withInterruptWindow(this.controls) : this.controls,
    );
  }

  private kind: MmuStrategy | undefined;

  /** Guest instructions retired: by the CPU, or emulated by the VMM after an exit. */
  get instructions(): number {
    return this.cpu.instructions + this.emulated;
  }

  /** The vCPU's clock: instructions retired plus idle time skipped in HLT. */
  get clock(): number {
    return this.cpu.instructions + this.emulated + this.idle;
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
    if (this.cpu.pendingInterrupt !== undefined || this.injecting !== undefined) return false;
    const vector = this.apic.pending.shift();
    if (vector === undefined) return false;
    this.cpu.requestInterrupt(vector);
    this.interrupts++;
    return true;
  }
}
