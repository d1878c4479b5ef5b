import { readFileSync } from 'node:fs';
import { Cpu, CpuFault, MmuMemory, type StopReason } from '@vmkit/cpu';
import { bootProtocol, guestImagePath } from '@vmkit/guest';
import { GuestPhysicalMemory } from '@vmkit/memory';
import { Mmu } from '@vmkit/paging';
import { enterLongMode, writeBootStructures } from './boot.js';
import { vmkitCpuid } from './cpuid.js';
import { DebugExit } from './debug-exit.js';
import { VmmError } from './errors.js';
import { HypercallTable } from './hypercalls.js';
import { checkImage, loadImage } from './loader.js';
import { PioBus, type PortSize } from './pio-bus.js';
import { Uart16550 } from './uart16550.js';
import { X2APIC_MSR_FIRST, X2APIC_MSR_LAST, X2Apic } from './x2apic.js';

/** Configuration of a {@link Vm}. */
export interface VmConfig {
  /** The guest image (an ELF64 file); default: `@vmkit/guest`'s kernel image. */
  readonly image?: Uint8Array;
  /** The kernel command line: printable ASCII, at most 1023 bytes; default `hello`. */
  readonly command?: string;
  /** Guest RAM in MiB, 4..1024; default 128 (as `kvm-run`). */
  readonly memoryMiB?: number;
  /**
   * Period of the APIC timer in instructions retired (plus idle time skipped in HLT), a
   * positive integer; default 1 000 000. Time is counted, never measured, so runs repeat.
   */
  readonly timerQuantum?: number;
  /** Called with each console byte as a one-character string, as the guest writes it. */
  readonly onConsole?: (text: string) => void;
}

/** Why {@link Vm.run} returned. */
export type VmEnd =
  /** The guest wrote its status to the debug-exit port. */
  | 'exit'
  /** The instruction budget ran out; `run` may be called again to go on. */
  | 'budget'
  /** HLT with interrupts disabled or nothing that could ever wake the vCPU. */
  | 'idle'
  /** The vCPU shut down (a fault while delivering #DF). */
  | 'triple-fault';

/** VM exits by kind: each is one return from the CPU to the VMM (or, for exceptions, a guest exception the VMM observed). */
export interface ExitCounters {
  /** IN/OUT instructions. */
  io: number;
  /** RDMSR/WRMSR of host-handled (x2APIC) MSRs. */
  msr: number;
  /** HLT instructions. */
  hlt: number;
  /** Exceptions the guest raised (seen through the CPU's interceptor, then delivered through the guest's IDT). */
  exceptions: number;
  /** VMCALLs served from the {@link HypercallTable}. */
  vmcall: number;
}

/** What {@link Vm.run} reports. */
export interface VmRunResult {
  /** Why the run ended. */
  readonly end: VmEnd;
  /** The debug-exit status, when `end` is `exit`. */
  readonly status: number | undefined;
  /** Everything the guest wrote to the UART so far (bytes as Latin-1 characters). */
  readonly console: string;
  /** Instructions retired since boot. */
  readonly instructions: number;
  /** VM exits since boot, by kind. */
  readonly exits: Readonly<ExitCounters>;
  /** External interrupts handed to the vCPU since boot (timer expiries and self-IPIs). */
  readonly interrupts: number;
}

const MIB = 0x10_0000;
const MAX_COMMAND = 1023;
const MAX_PHY_ADDR = 36;
/** #UD, SDM Vol. 3A Table 6-1. */
const UD = 6;
/** The VMCALL encoding, SDM Vol. 2B "VMCALL". */
const VMCALL = [0x0f, 0x01, 0xc1] as const;

function checkConfig(config: VmConfig): { command: string; memoryMiB: number; quantum: number } {
  const command = config.command ?? 'hello';
  const memoryMiB = config.memoryMiB ?? 128;
  const quantum = config.timerQuantum ?? 1_000_000;
  if (command.length > MAX_COMMAND || !/^[\x20-\x7e]*$/.test(command))
    throw new VmmError(
      'BAD_CONFIG',
      `command must be printable ASCII of at most ${MAX_COMMAND} bytes`,
    );
  if (!Number.isInteger(memoryMiB) || memoryMiB < 4 || memoryMiB > 1024)
    throw new VmmError('BAD_CONFIG', `memoryMiB must be an integer in 4..1024, got ${memoryMiB}`);
  if (!Number.isSafeInteger(quantum) || quantum < 1)
    throw new VmmError('BAD_CONFIG', `timerQuantum must be a positive integer, got ${quantum}`);
  return { command, memoryMiB, quantum };
}

/**
 * A virtual machine booting `@vmkit/guest`'s protocol: guest RAM, one vCPU on the interpreter
 * behind 4-level paging, a PIO bus with a 16550 UART and the debug-exit device, an x2APIC with
 * a deterministic timer, and a run loop that serves the CPU's exits.
 *
 * @example
 * ```ts
 * const vm = new Vm({ command: 'hello' });
 * const r = vm.run({ maxInstructions: 20_000_000 });
 * console.log(r.end, r.status, r.console);
 * ```
 */
export class Vm {
  /** Guest-physical memory: RAM from 0. */
  readonly memory: GuestPhysicalMemory;
  /** The vCPU. */
  readonly cpu: Cpu;
  /** The port-I/O bus. */
  readonly pio = new PioBus();
  /** The console UART (at the protocol's 0x3F8). */
  readonly uart: Uart16550;
  /** The debug-exit device (at the protocol's 0xF4). */
  readonly debugExit = new DebugExit();
  /** The vCPU's local APIC. */
  readonly apic: X2Apic;
  /** The VMCALL table: `print` and `exit` built in; register more numbers here. */
  readonly hypercalls: HypercallTable;
  private readonly linear: MmuMemory;
  private hypercallExit: number | undefined;
  private readonly exitCounts: ExitCounters = { io: 0, msr: 0, hlt: 0, exceptions: 0, vmcall: 0 };
  private output = '';
  /** Time skipped while the vCPU idled in HLT, in clock units. */
  private idle = 0;
  private interrupts = 0;
  private last: VmRunResult | undefined;
  private readonly sink: ((text: string) => void) | undefined;

  /**
   * Creates the VM and boots it to the protocol's entry state (nothing runs yet).
   *
   * @param config - image, command line, RAM, timer quantum, console sink
   * @throws VmmError `BAD_CONFIG` for bad options, `BAD_IMAGE` for an image that cannot boot
   */
  constructor(config: VmConfig = {}) {
    const { command, memoryMiB, quantum } = checkConfig(config);
    const ramSize = memoryMiB * MIB;
    const image = checkImage(config.image ?? new Uint8Array(readFileSync(guestImagePath)), ramSize);
    this.memory = new GuestPhysicalMemory({ ram: [{ base: 0, size: ramSize }] });
    loadImage(this.memory, image);
    const bootInfo = writeBootStructures(this.memory, {
      ramSize,
      command,
      uartBase: bootProtocol.uartPort,
      debugExitBase: bootProtocol.debugExitPort,
    });

    this.sink = config.onConsole;
    this.uart = new Uart16550((b) => this.emit(b));
    this.pio.register(bootProtocol.uartPort, 8, this.uart);
    this.pio.register(bootProtocol.debugExitPort, 4, this.debugExit);
    this.apic = new X2Apic(0, quantum);
    this.hypercalls = new HypercallTable((bytes) => {
      for (const b of bytes) this.emit(b);
    });

    const mmu = new Mmu(this.memory, { features: { maxPhyAddr: MAX_PHY_ADDR } });
    const flags = { cpu: undefined as Cpu | undefined };
    this.linear = new MmuMemory(mmu, this.memory, { rflags: () => flags.cpu?.flags ?? 0 });
    this.cpu = new Cpu({
      memory: this.linear,
      exceptionDelivery: 'idt',
      maxPhyAddr: MAX_PHY_ADDR,
      cpuid: vmkitCpuid(MAX_PHY_ADDR),
      hostMsr: (i) => i >= X2APIC_MSR_FIRST && i <= X2APIC_MSR_LAST,
      // #UD stops the CPU so the VMM can recognise VMCALL (which the interpreter does not
      // execute: a VM exit in VMX terms, SDM Vol. 3C §25.1.3); everything else is delivered.
      interceptException: (vector) => {
        if (vector === UD) return true;
        this.exitCounts.exceptions++;
        return false;
      },
    });
    flags.cpu = this.cpu;
    enterLongMode(this.cpu, image.entry, bootInfo);
  }

  /** Appends one console byte (UART or print hypercall) and forwards it. */
  private emit(byte: number): void {
    const c = String.fromCharCode(byte);
    this.output += c;
    this.sink?.(c);
  }

  /** The VM clock: instructions retired plus idle time skipped in HLT. */
  get clock(): number {
    return this.cpu.instructions + this.idle;
  }

  /**
   * Runs the vCPU until the guest exits, idles for good, shuts down, or `maxInstructions` more
   * instructions have retired.
   *
   * @param options - `maxInstructions`: the budget of this call (default 100 000 000)
   * @returns the end, status, console output and counters since boot
   * @throws VmmError `BAD_RUN` for a bad budget or when the guest already ended
   */
  run(options: { maxInstructions?: number } = {}): VmRunResult {
    const budget = options.maxInstructions ?? 100_000_000;
    if (!Number.isSafeInteger(budget) || budget < 1)
      throw new VmmError('BAD_RUN', `maxInstructions must be a positive integer, got ${budget}`);
    if (this.last !== undefined && this.last.end !== 'budget')
      throw new VmmError('BAD_RUN', `the guest already ended (${this.last.end})`);
    const cpu = this.cpu;
    const limit = cpu.instructions + budget;
    let end: VmEnd = 'budget';
    while (cpu.instructions < limit) {
      this.apic.advance(this.clock);
      this.deliverPending();
      let slice = limit - cpu.instructions;
      const deadline = this.apic.deadline;
      if (deadline !== undefined) slice = Math.max(1, Math.min(slice, deadline - this.clock));
      const stop = cpu.run(slice);
      if (stop.kind === 'budget') continue;
      const ended = this.serve(stop);
      if (ended !== undefined) {
        end = ended;
        break;
      }
    }
    this.last = {
      end,
      status: end === 'exit' ? (this.hypercallExit ?? this.debugExit.status) : undefined,
      console: this.output,
      instructions: cpu.instructions,
      exits: { ...this.exitCounts },
      interrupts: this.interrupts,
    };
    return this.last;
  }

  /** Hands the APIC's oldest accepted vector to the CPU when its one pending slot is free. */
  private deliverPending(): void {
    if (this.cpu.pendingInterrupt !== undefined) return;
    const vector = this.apic.pending.shift();
    if (vector === undefined) return;
    this.cpu.requestInterrupt(vector);
    this.interrupts++;
  }

  /** Serves one exit; returns how the run ends, or undefined to go on. */
  private serve(stop: Exclude<StopReason, { kind: 'budget' }>): VmEnd | undefined {
    switch (stop.kind) {
      case 'io':
        this.exitCounts.io++;
        if (stop.direction === 'in') {
          this.cpu.completeIn(this.pio.read(stop.port, stop.size as PortSize));
          return undefined;
        }
        this.pio.write(stop.port, stop.size as PortSize, stop.value ?? 0);
        return this.debugExit.status !== undefined ? 'exit' : undefined;
      case 'msr':
        this.exitCounts.msr++;
        if (stop.direction === 'read')
          this.cpu.completeRdmsr(this.apic.readMsr(stop.index, this.clock));
        else this.apic.writeMsr(stop.index, stop.value ?? 0n, this.clock);
        return undefined;
      case 'hlt':
        this.exitCounts.hlt++;
        return this.idleUntilInterrupt();
      case 'triple-fault':
        return 'triple-fault';
      case 'exception':
        return this.serveException(stop.vector, stop.errorCode, stop.address);
    }
  }

  /** An intercepted exception (#UD only): a VMCALL at CPL 0 is served, anything else delivered. */
  private serveException(
    vector: number,
    errorCode: number | undefined,
    address: number | undefined,
  ): VmEnd | undefined {
    const cpu = this.cpu;
    if (vector === UD && cpu.cpl === 0 && this.atVmcall()) {
      this.exitCounts.vmcall++;
      const outcome = this.hypercalls.call(cpu.getReg('rax'), {
        args: [cpu.getReg('rdi'), cpu.getReg('rsi'), cpu.getReg('rdx'), cpu.getReg('r10')],
        memory: this.memory,
      });
      if ('exit' in outcome) {
        this.hypercallExit = outcome.exit >>> 0;
        return 'exit';
      }
      cpu.setReg('rax', BigInt.asUintN(64, outcome.result));
      cpu.rip = cpu.rip + BigInt(VMCALL.length);
      return undefined;
    }
    // The guest sees the exception as if nothing had intercepted it (a VMCALL at CPL 3 is #UD,
    // as the protocol allows hypercalls from CPL 0 only).
    this.exitCounts.exceptions++;
    const stop = cpu.injectException(vector, errorCode, address);
    return stop?.kind === 'triple-fault' ? 'triple-fault' : undefined;
  }

  /** Whether the instruction at RIP is VMCALL (0F 01 C1, SDM Vol. 2B). */
  private atVmcall(): boolean {
    const rip = Number(BigInt.asIntN(64, this.cpu.rip));
    try {
      for (let i = 0; i < VMCALL.length; i++)
        if (this.linear.fetch8(rip + i, 0) !== VMCALL[i]) return false;
    } catch (e) {
      if (e instanceof CpuFault) return false;
      throw e;
    }
    return true;
  }

  /**
   * HLT: the vCPU sleeps until an interrupt. With IF = 1 and the timer armed, the clock jumps
   * to the deadline (idle time costs no instructions); otherwise nothing can wake it.
   */
  private idleUntilInterrupt(): VmEnd | undefined {
    const interruptsEnabled = (this.cpu.flags & 0x200) !== 0; // RFLAGS.IF, SDM Vol. 1 §3.4.3
    if (!interruptsEnabled) return 'idle';
    if (this.cpu.pendingInterrupt !== undefined || this.apic.pending.length > 0) return undefined;
    const deadline = this.apic.deadline;
    if (deadline === undefined) return 'idle';
    this.idle += Math.max(0, deadline - this.clock);
    return undefined;
  }
}
