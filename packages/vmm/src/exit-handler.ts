// The VMM's VM-exit handlers, by basic exit reason (SDM Vol. 3C chapter 28 for what each exit
// reports; §27.6 for the event injection that resumes the guest).
import { CpuFault, defaultCpuid, GPR_NAMES, type StopReason } from '@vmkit/cpu';
import type { GuestPhysicalMemory } from '@vmkit/memory';
import { ShadowFaultKind } from '@vmkit/shadow-paging';
import type { ShadowKind } from '@vmkit/sim';
import {
  BasicExitReason,
  CrAccessType,
  decodeCrAccessQualification,
  decodeIoQualification,
  InterruptionType,
  type VmExitInformation,
} from '@vmkit/vmx';
import { PF, withInterruptWindow } from './controls.js';
import type { HypercallTable } from './hypercalls.js';
import type { PioBus, PortSize } from './pio-bus.js';
import { SHADOW_WORK } from './pricing.js';
import { emulateStringIo, type StringIoServices } from './string-io.js';
import type { Vcpu } from './vcpu.js';
import { X2APIC_MSR_FIRST, X2APIC_MSR_LAST } from './x2apic.js';

/** How a handled stop ends the run: undefined to go on. */
export type ExitEnd = 'exit' | 'triple-fault' | 'ept-violation' | undefined;

/** What the handlers need from the VM. */
export interface VmServices {
  /** The port-I/O bus. */
  readonly pio: PioBus;
  /** The hypercall table. */
  readonly hypercalls: HypercallTable;
  /** Guest-physical memory (for hypercall arguments). */
  readonly memory: GuestPhysicalMemory;
  /** The guest's MAXPHYADDR (CPUID leaves). */
  readonly maxPhyAddr: number;
  /** Whether the debug-exit device has been written (the run ends). */
  exited(): boolean;
  /** Records an exit status from the exit hypercall. */
  hypercallExit(status: number): void;
  /** Counts a VMM service by the kinds of `ExitCounters`. */
  count(kind: 'io' | 'msr' | 'hlt' | 'exceptions' | 'vmcall'): void;
  /**
   * Takes the simulated shadow lock for one piece of shadow work of a vCPU (its wait is
   * charged to the vCPU).
   */
  shadowWork(vcpu: Vcpu, work: ShadowKind): void;
  /** Records why the VMM stopped the guest. */
  stopWith(message: string): void;
  /** Puts a vCPU to sleep after HLT. */
  halt(vcpu: Vcpu): void;
  /** Serves a stop the handlers caused (a nested exit during an injection or emulation). */
  serve(vcpu: Vcpu, stop: Exclude<StopReason, { kind: 'budget' }>): ExitEnd;
  /**
   * Instructions a vCPU may still retire before the VMM must look at its timer, the next vCPU
   * or the run's budget (what bounds one string-I/O exit's elements).
   */
  budgetLeft(vcpu: Vcpu): number;
}

const U32 = 0xffff_ffffn;
/** SDM Vol. 3A Table 6-1. */
const DF = 8;
const UD = 6;
const GP = 13;
const SS = 12;
const MC = 18;
// Exceptions that make a #PF during their delivery a double fault (§6.15, Table 6-5): #PF
// itself and the contributory ones.
const CONTRIBUTORY_OR_PF = new Set([0, 10, 11, 12, 13, PF]);
const VALID = 0x8000_0000;
const ERROR_VALID = 0x800;

/** Handles VM exits of the vCPUs of one VM. */
export class ExitHandler {
  private readonly strings: StringIoServices;

  /** @param vm - the VM's services */
  constructor(private readonly vm: VmServices) {
    this.strings = {
      pio: vm.pio,
      isDevice: (gpa) => this.isDevice(gpa),
      exited: () => vm.exited(),
      shadowFault: (vcpu, kind) => {
        vcpu.shadowFaults[kind]!++;
        const work = SHADOW_WORK[kind];
        if (work !== undefined) vm.shadowWork(vcpu, work);
      },
    };
  }

  /**
   * Serves one VM exit: records it, emulates what exited, resumes (possibly with an injection).
   *
   * @param vcpu - the vCPU that exited
   * @param info - the exit information
   * @returns how the run ends, or undefined to go on
   */
  handle(vcpu: Vcpu, info: VmExitInformation): ExitEnd {
    const reason = info.exitReason & 0xffff;
    vcpu.exit(reason);
    const cpu = vcpu.cpu;
    switch (reason) {
      case BasicExitReason.EXCEPTION_OR_NMI:
        return this.exception(vcpu, info);
      case BasicExitReason.EXTERNAL_INTERRUPT:
        // Acknowledged on exit (§28.2.2): the vector is the VMM's to inject.
        vcpu.injecting = info.interruptionInfo & 0xff;
        return this.injectPending(vcpu);
      case BasicExitReason.INTERRUPT_WINDOW:
        return this.injectPending(vcpu);
      case BasicExitReason.TRIPLE_FAULT:
        return 'triple-fault';
      case BasicExitReason.CPUID: {
        const leaf = Number(cpu.getReg('rax') & U32);
        const sub = Number(cpu.getReg('rcx') & U32);
        const r = vcpu.cpuid(leaf, sub) ?? defaultCpuid(leaf, sub, this.vm.maxPhyAddr);
        // CPUID writes EAX..EDX and clears bits 63:32 of RAX..RDX (SDM Vol. 2A "CPUID").
        cpu.setReg('rax', BigInt(r[0] >>> 0));
        cpu.setReg('rbx', BigInt(r[1] >>> 0));
        cpu.setReg('rcx', BigInt(r[2] >>> 0));
        cpu.setReg('rdx', BigInt(r[3] >>> 0));
        return this.skip(vcpu, info);
      }
      case BasicExitReason.HLT:
        this.vm.count('hlt');
        this.skip(vcpu, info);
        this.vm.halt(vcpu);
        return undefined;
      case BasicExitReason.INVLPG: {
        const linear = Number(BigInt.asIntN(64, info.exitQualification));
        vcpu.linear.invlpg?.(linear);
        return this.skip(vcpu, info);
      }
      case BasicExitReason.INVPCID:
        // The shadow MMU has no per-PCID invalidation: drop every shadow table and re-root.
        vcpu.linear.invpcid?.(0, 0, 0);
        cpu.syncPaging();
        return this.skip(vcpu, info);
      case BasicExitReason.VMCALL:
        return this.vmcall(vcpu, info);
      case BasicExitReason.EPT_VIOLATION:
      case BasicExitReason.EPT_MISCONFIGURATION: {
        // EPT maps all of guest RAM and nothing else. A data access (GLA valid, bit 7, and an
        // access to the translated linear address, bit 8: SDM Vol. 3C Table 28-7) to a device
        // region is emulated; anything else reached for memory that does not exist: stop.
        const q = Number(info.exitQualification & 0x1ffn);
        if (
          reason === BasicExitReason.EPT_VIOLATION &&
          (q & 0x180) === 0x180 &&
          (q & 0x4) === 0 &&
          this.isDevice(info.guestPhysicalAddress)
        ) {
          const linear = Number(BigInt.asIntN(64, info.guestLinearAddress));
          return this.emulateMmio(vcpu, info, linear, info.guestPhysicalAddress);
        }
        const what =
          reason === BasicExitReason.EPT_VIOLATION ? 'EPT violation' : 'EPT misconfiguration';
        const gpa = info.guestPhysicalAddress.toString(16);
        this.vm.stopWith(
          `${what} at guest-physical 0x${gpa} (RIP 0x${cpu.rip.toString(16)}, qualification 0x${info.exitQualification.toString(16)}): no memory behind it`,
        );
        return 'ept-violation';
      }
      case BasicExitReason.CONTROL_REGISTER_ACCESSES:
        return this.crAccess(vcpu, info);
      case BasicExitReason.IO_INSTRUCTION:
        return this.io(vcpu, info);
      case BasicExitReason.RDMSR:
      case BasicExitReason.WRMSR:
        return this.msr(vcpu, info, reason === BasicExitReason.RDMSR);
      default:
        // Nothing else is enabled; an instruction that exited anyway is #UD for the guest.
        return this.injectException(vcpu, UD);
    }
  }

  /** Moves RIP past the instruction that exited (it retires; an STI shadow ends with it). */
  private skip(vcpu: Vcpu, info: VmExitInformation): undefined {
    vcpu.emulated++;
    vcpu.cpu.rip = BigInt.asUintN(64, vcpu.cpu.rip + BigInt(info.instructionLength));
    vcpu.cpu.interruptShadow = false;
    return undefined;
  }

  /** Re-enters the guest with an event (§27.6); a nested stop of the delivery is served. */
  private enter(
    vcpu: Vcpu,
    injection: { type: number; vector: number; errorCode?: number; instructionLength?: number },
  ): ExitEnd {
    const stop = vcpu.cpu.vmEntry(vcpu.controls!, injection);
    return stop === undefined || stop.kind === 'budget' ? undefined : this.vm.serve(vcpu, stop);
  }

  /** Injects a hardware exception. */
  private injectException(vcpu: Vcpu, vector: number, errorCode?: number): ExitEnd {
    this.vm.count('exceptions');
    return this.enter(vcpu, {
      type: InterruptionType.HARDWARE_EXCEPTION,
      vector,
      ...(errorCode !== undefined ? { errorCode } : {}),
    });
  }

  /**
   * Injects the vector the VMM holds when the guest can take it (IF = 1, no STI/MOV SS
   * shadow, §6.8.1); otherwise asks for an interrupt-window exit (§26.7.5) and waits.
   */
  private injectPending(vcpu: Vcpu): ExitEnd {
    const vector = vcpu.injecting;
    const cpu = vcpu.cpu;
    if (vector === undefined) {
      cpu.vmEntry(vcpu.controls!);
      return undefined;
    }
    if (!cpu.interruptible) {
      cpu.vmEntry(withInterruptWindow(vcpu.controls!));
      return undefined;
    }
    vcpu.injecting = undefined;
    return this.enter(vcpu, { type: InterruptionType.EXTERNAL_INTERRUPT, vector });
  }

  /** The event whose delivery the exit interrupted, to deliver again (§27.6, §28.2.4). */
  private reinject(vcpu: Vcpu, info: VmExitInformation): ExitEnd {
    const v = info.idtVectoringInfo;
    if ((v & VALID) === 0) return undefined;
    const type = (v >>> 8) & 7;
    const software =
      type === InterruptionType.SOFTWARE_INTERRUPT ||
      type === InterruptionType.SOFTWARE_EXCEPTION ||
      type === InterruptionType.PRIVILEGED_SOFTWARE_EXCEPTION;
    return this.enter(vcpu, {
      type,
      vector: v & 0xff,
      ...((v & ERROR_VALID) !== 0 ? { errorCode: info.idtVectoringErrorCode } : {}),
      ...(software ? { instructionLength: info.instructionLength } : {}),
    });
  }

  /** Exception exits: #PF under shadow paging (the only exception in the bitmap). */
  private exception(vcpu: Vcpu, info: VmExitInformation): ExitEnd {
    const vector = info.interruptionInfo & 0xff;
    const shadow = vcpu.translation.shadow;
    if (vector !== PF || shadow === undefined) {
      const hasError = (info.interruptionInfo & ERROR_VALID) !== 0;
      return this.injectException(vcpu, vector, hasError ? info.interruptionErrorCode : undefined);
    }
    const linear = Number(BigInt.asIntN(64, info.exitQualification));
    // The #PF error code's W, U/S and I/D bits are paging's ACCESS_WRITE, ACCESS_USER and
    // ACCESS_FETCH (SDM Vol. 3A §4.7, Figure 4-12).
    const access = info.interruptionErrorCode & 0x16;
    const port = shadow.port;
    const kind = port.handlePageFault(Math.floor(linear / 2 ** 32) >>> 0, linear >>> 0, access);
    vcpu.shadowFaults[kind]!++;
    const work = SHADOW_WORK[kind];
    if (work !== undefined) this.vm.shadowWork(vcpu, work);
    switch (kind) {
      case ShadowFaultKind.GUEST:
        return this.guestFault(vcpu, info, linear);
      case ShadowFaultKind.PAGE_TABLE_WRITE:
        return this.emulateStore(vcpu, linear, port.result.physical);
      case ShadowFaultKind.MMIO: {
        // A device region is emulated; a frame with nothing behind it is #MC, as on the bare
        // machine model. A fetch from a device is not emulated (I/D, bit 4 of the error code).
        const gpa = port.result.physical;
        if ((info.interruptionErrorCode & 0x10) === 0 && this.isDevice(gpa))
          return this.emulateMmio(vcpu, info, linear, gpa);
        return this.injectException(vcpu, MC);
      }
      default:
        // A hidden fault, now fixed: retry, delivering again what the fault interrupted.
        return this.reinject(vcpu, info);
    }
  }

  /** A true guest fault: the guest's #PF (CR2 = address), or #DF if it hit a #PF delivery. */
  private guestFault(vcpu: Vcpu, info: VmExitInformation, linear: number): ExitEnd {
    const r = vcpu.translation.shadow!.port.result;
    // ShadowOutcome 2/3: the guest's walk refused a non-canonical address (#GP / #SS).
    if (r.outcome === 2) return this.injectException(vcpu, GP, 0);
    if (r.outcome === 3) return this.injectException(vcpu, SS, 0);
    const v = info.idtVectoringInfo;
    if (
      (v & VALID) !== 0 &&
      ((v >>> 8) & 7) === InterruptionType.HARDWARE_EXCEPTION &&
      CONTRIBUTORY_OR_PF.has(v & 0xff)
    )
      return this.injectException(vcpu, DF, 0);
    vcpu.cpu.cr2 = BigInt.asUintN(64, BigInt(linear));
    // A shadow fault while the CPU delivers this #PF exits with the #PF as IDT-vectoring
    // information (SDM Vol. 3C §26.2): fixed, then re-injected by `reinject`.
    return this.injectException(vcpu, PF, r.errorCode);
  }

  /**
   * A store to a write-protected guest page table: runs the one faulting instruction with its
   * stores to that page sent through `emulateWrite` (which updates the guest table and zaps
   * the shadow entries derived from it), then resumes.
   */
  private emulateStore(vcpu: Vcpu, linear: number, gpa: number): ExitEnd {
    const shadow = vcpu.translation.shadow!;
    shadow.arm(linear, gpa);
    let stop: StopReason;
    try {
      stop = vcpu.cpu.run(1);
    } finally {
      shadow.disarm();
    }
    return stop.kind === 'budget' ? undefined : this.vm.serve(vcpu, stop);
  }

  /** Whether a guest-physical address lies in a device (MMIO) region. */
  private isDevice(gpa: number): boolean {
    return this.vm.memory
      .regions()
      .some((r) => r.kind === 'mmio' && gpa >= r.base && gpa < r.base + r.size);
  }

  /**
   * An access to a device region: runs the one instruction that exited with its accesses to
   * that linear page sent to the region's MmioHandler (through guest-physical memory), then
   * resumes. If the instruction exits on a device again without retiring (an access that
   * crosses out of the page, or a second device page), the machine cannot perform it: #MC, as
   * on the bare machine model.
   */
  private emulateMmio(vcpu: Vcpu, info: VmExitInformation, linear: number, gpa: number): ExitEnd {
    // A device access during an event's delivery (the IDT or a stack in a device region), or a
    // second device exit while one is emulated, is not something the machine can do.
    if (vcpu.emulatingMmio || (info.idtVectoringInfo & VALID) !== 0)
      return this.injectException(vcpu, MC);
    const window = vcpu.translation.mmio!;
    vcpu.emulatingMmio = true;
    try {
      let stop: StopReason;
      window.openMmio(linear, gpa);
      try {
        stop = vcpu.cpu.run(1);
      } finally {
        window.closeMmio();
      }
      return stop.kind === 'budget' ? undefined : this.vm.serve(vcpu, stop);
    } finally {
      vcpu.emulatingMmio = false;
    }
  }

  /** VMCALL: the hypercall table at CPL 0; #UD from user mode (guest README, "Hypercalls"). */
  private vmcall(vcpu: Vcpu, info: VmExitInformation): ExitEnd {
    const cpu = vcpu.cpu;
    if (cpu.cpl !== 0) return this.injectException(vcpu, UD);
    this.vm.count('vmcall');
    const outcome = this.vm.hypercalls.call(cpu.getReg('rax'), {
      args: [cpu.getReg('rdi'), cpu.getReg('rsi'), cpu.getReg('rdx'), cpu.getReg('r10')],
      memory: this.vm.memory,
    });
    if ('exit' in outcome) {
      this.vm.hypercallExit(outcome.exit >>> 0);
      return 'exit';
    }
    cpu.setReg('rax', BigInt.asUintN(64, outcome.result));
    return this.skip(vcpu, info);
  }

  /**
   * Control-register accesses (spt only): CR3 loads switch the shadow root, CR3 stores return
   * the guest's CR3, CR0/CR4 writes of paging bits reach the shadow MMU (Table 28-3).
   */
  private crAccess(vcpu: Vcpu, info: VmExitInformation): ExitEnd {
    const q = decodeCrAccessQualification(info.exitQualification);
    const cpu = vcpu.cpu;
    // Exit-qualification register numbers (SDM Vol. 3C Table 28-3) are the encoding order.
    const gpr = GPR_NAMES[q.generalPurposeRegister]!;
    if (q.accessType === CrAccessType.MOV_FROM_CR) {
      cpu.setReg(gpr, cpu.cr3);
      return this.skip(vcpu, info);
    }
    let cr0 = cpu.cr0;
    let cr4 = cpu.cr4;
    if (q.accessType === CrAccessType.MOV_TO_CR && q.controlRegister === 3) {
      // Bit 63 with CR4.PCIDE is "do not flush", not part of CR3 (SDM Vol. 3A §4.10.4.1).
      cpu.cr3 = cpu.getReg(gpr) & ~(1n << 63n);
      vcpu.cr3Loads++;
      this.vm.shadowWork(vcpu, 'cr3-switch');
    } else if (q.accessType === CrAccessType.MOV_TO_CR && q.controlRegister === 0) {
      cr0 = Number(cpu.getReg(gpr) & U32);
    } else if (q.accessType === CrAccessType.MOV_TO_CR && q.controlRegister === 4) {
      cr4 = Number(cpu.getReg(gpr) & U32);
    } else if (q.accessType === CrAccessType.LMSW) {
      // LMSW loads CR0 bits 3:0 but cannot clear PE (SDM Vol. 2A "LMSW").
      cr0 = ((cr0 & ~0xe) | (q.lmswSourceData & 0xf)) >>> 0;
    } else {
      return this.injectException(vcpu, UD);
    }
    const old = [cpu.cr0, cpu.cr4] as const;
    cpu.cr0 = cr0;
    cpu.cr4 = cr4;
    try {
      // The CPU hands its paging registers to its memory, which forwards changes to the
      // shadow MMU.
      cpu.syncPaging();
    } catch (e) {
      cpu.cr0 = old[0];
      cpu.cr4 = old[1];
      cpu.syncPaging();
      if (e instanceof CpuFault) return this.injectException(vcpu, GP, 0);
      throw e;
    }
    vcpu.updateControls();
    return this.skip(vcpu, info);
  }

  /** I/O instructions: the PIO bus (Table 28-5 qualification). */
  private io(vcpu: Vcpu, info: VmExitInformation): ExitEnd {
    const q = decodeIoQualification(info.exitQualification);
    const cpu = vcpu.cpu;
    this.vm.count('io');
    if (q.string) return this.stringIo(vcpu, info);
    const mask = q.size === 4 ? U32 : q.size === 2 ? 0xffffn : 0xffn;
    if (q.in) {
      const value = BigInt(this.vm.pio.read(q.port, q.size as PortSize) >>> 0) & mask;
      // A 32-bit IN zero-extends into RAX; 8/16-bit INs keep the other bits (SDM Vol. 1 §3.4.1.1).
      const rax = cpu.getReg('rax');
      cpu.setReg('rax', q.size === 4 ? value : (rax & ~mask) | value);
      return this.skip(vcpu, info);
    }
    this.vm.pio.write(q.port, q.size as PortSize, Number(cpu.getReg('rax') & mask));
    this.skip(vcpu, info);
    return this.vm.exited() ? 'exit' : undefined;
  }

  /**
   * INS/OUTS (with or without REP), emulated from the exit information (`string-io.ts`): a
   * bounded number of elements per exit, a guest fault injected with the completed elements'
   * registers and RIP on the instruction.
   */
  private stringIo(vcpu: Vcpu, info: VmExitInformation): ExitEnd {
    const r = emulateStringIo(vcpu, info, this.strings, this.vm.budgetLeft(vcpu));
    switch (r.kind) {
      case 'resume':
        return undefined;
      case 'exit':
        return 'exit';
      case 'no-memory':
        this.vm.stopWith(r.message);
        return 'ept-violation';
      case 'fault':
        // VM entry does not write CR2: the VMM loads the guest's (SDM Vol. 3C §27.6.3).
        if (r.vector === PF) vcpu.cpu.cr2 = BigInt.asUintN(64, BigInt(r.address ?? 0));
        return this.injectException(vcpu, r.vector, r.errorCode);
    }
  }

  /** RDMSR/WRMSR of the x2APIC range (the bitmap's intercepts); anything else is #GP. */
  private msr(vcpu: Vcpu, info: VmExitInformation, read: boolean): ExitEnd {
    const cpu = vcpu.cpu;
    const index = Number(cpu.getReg('rcx') & U32);
    if (index < X2APIC_MSR_FIRST || index > X2APIC_MSR_LAST)
      return this.injectException(vcpu, GP, 0);
    this.vm.count('msr');
    if (read) {
      const value = vcpu.apic.readMsr(index, vcpu.clock);
      cpu.setReg('rax', value & U32);
      cpu.setReg('rdx', (value >> 32n) & U32);
    } else {
      const value = ((cpu.getReg('rdx') & U32) << 32n) | (cpu.getReg('rax') & U32);
      vcpu.apic.writeMsr(index, value, vcpu.clock);
    }
    return this.skip(vcpu, info);
  }
}
