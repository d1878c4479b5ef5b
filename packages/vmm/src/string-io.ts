// String I/O (INS, OUTS, with or without REP) emulated by the VMM after an I/O-instruction VM
// exit, from the exit information alone: the qualification (SDM Vol. 3C §28.2.1, Table 28-5:
// size, direction, REP, port), the guest-linear address of the first element (§28.2.1), the
// instruction information (§28.2.5, Table 28-8: address size) and the instruction length, plus
// the guest registers the instruction names (RCX, RSI or RDI, RFLAGS.DF). There is no decoder.
//
// Every element goes through the vCPU's own linear memory, so the guest's page tables, rights,
// A/D flags, SMAP and the second stage apply exactly as to an instruction the CPU executes:
// the emulation never reaches memory the guest could not reach. Faults are resolved the way the
// VMM resolves them for the CPU (hidden shadow faults fixed and retried, guest page-table
// stores sent through the shadow window, device regions through the MMIO window); a true
// guest fault stops the emulation with RCX/RSI/RDI reflecting the elements done and RIP on the
// instruction, which is the interruptible REP semantics of SDM Vol. 2 "REP/REPE/REPZ/REPNE/
// REPNZ" ("the instruction can be resumed").
//
// One exit emulates at most STRING_IO_CHUNK elements, and never more than the vCPU may retire
// before the VMM must look at its timer or the next vCPU: with elements left, RIP stays on the
// instruction, the guest resumes it and exits again (KVM also works in bounded pieces). So the
// work per exit is bounded whatever RCX says, and interrupts land between the same elements as
// when the CPU runs the instruction itself.
import { CpuFault, VmExit } from '@vmkit/cpu';
import { ShadowFaultKind } from '@vmkit/shadow-paging';
import {
  AddressSize,
  BasicExitReason,
  decodeIoQualification,
  decodeStringIoInfo,
  type VmExitInformation,
} from '@vmkit/vmx';
import type { PioBus, PortSize } from './pio-bus.js';
import type { Vcpu } from './vcpu.js';

/** The most elements one I/O exit emulates (4 KiB of dwords). */
export const STRING_IO_CHUNK = 1024;

/** SDM Vol. 3A Table 6-1. */
const GP = 13;
const SS = 12;
const PF = 14;
const MC = 18;
/** RFLAGS.IF, SDM Vol. 1 §3.4.3.3. */
const IF = 0x200;
/** RFLAGS.DF, SDM Vol. 1 §3.4.3.2. */
const DF = 1n << 10n;
const U64 = (1n << 64n) - 1n;
const CANONICAL = 2 ** 47;
/** #PF error-code bits W, U/S and I/D: paging's access bits (SDM Vol. 3A §4.7). */
const ACCESS_BITS = 0x16;
/** Fault resolutions one element may need (shadow fills of two pages, a window) before #MC. */
const MAX_ATTEMPTS = 8;

/** What the emulation needs from the VMM around it. */
export interface StringIoServices {
  /** The port-I/O bus. */
  readonly pio: PioBus;
  /** Whether a guest-physical address lies in a device (MMIO) region. */
  isDevice(gpa: number): boolean;
  /** Records a shadow page fault the emulation handled for a vCPU (`ShadowFaultKind`). */
  shadowFault(vcpu: Vcpu, kind: number): void;
  /** Whether the debug-exit device has been written (the run ends after that element). */
  exited(): boolean;
}

/**
 * How an emulated string-I/O exit ends:
 * - `resume`: registers (and RIP when the instruction completed) are updated; run on.
 * - `exit`: an element wrote the debug-exit device; the run ends.
 * - `fault`: inject this exception (for #PF, CR2 = `address`); the elements before it are done.
 * - `no-memory`: an element reached guest-physical memory with nothing behind it; `message`
 *   says where.
 */
export type StringIoResult =
  | {
      /** `resume` to run on, `exit` when the debug-exit device was written. */
      readonly kind: 'resume' | 'exit';
    }
  | {
      /** An exception for the guest. */
      readonly kind: 'fault';
      /** Its vector. */
      readonly vector: number;
      /** Its error code, if it has one. */
      readonly errorCode?: number;
      /** For #PF, the faulting linear address (the guest's CR2). */
      readonly address?: number;
    }
  | {
      /** Guest-physical memory with nothing behind it. */
      readonly kind: 'no-memory';
      /** Where, for the run's `error`. */
      readonly message: string;
    };

type Fault = Extract<StringIoResult, { kind: 'fault' | 'no-memory' }>;

const RESUME: StringIoResult = { kind: 'resume' };
const EXIT: StringIoResult = { kind: 'exit' };

function fault(vector: number, errorCode?: number, address?: number): Fault {
  return {
    kind: 'fault',
    vector,
    ...(errorCode !== undefined ? { errorCode } : {}),
    ...(address !== undefined ? { address } : {}),
  };
}

/** A register written at an address size: 64 bits, 32 (zero-extends, SDM Vol. 1 §3.4.1.1), 16. */
function writeAt(old: bigint, value: bigint, bits: number): bigint {
  if (bits === 64) return value & U64;
  if (bits === 32) return value & 0xffff_ffffn;
  return (old & ~0xffffn) | (value & 0xffffn);
}

/**
 * Emulates the INS or OUTS that caused `info` (an I/O-instruction exit with the string bit) on
 * `vcpu`: at most `min(STRING_IO_CHUNK, budget)` elements, each translated through the vCPU's
 * linear memory and streamed to or from the port bus. INS translates each destination for the
 * write before it reads the port, so a faulting element costs the device nothing.
 *
 * @param vcpu - the vCPU that exited (its registers are the guest's)
 * @param info - the exit information
 * @param services - the port bus and the VMM's fault bookkeeping
 * @param budget - instructions the vCPU may still retire before the VMM must look at its
 *   timer or the next vCPU (each element retires as one instruction); at least one element
 *   runs
 * @returns how the exit ends (see {@link StringIoResult})
 * @example
 * ```ts
 * const r = emulateStringIo(vcpu, info, services, 10_000);
 * if (r.kind === 'fault') inject(r.vector, r.errorCode);
 * ```
 */
export function emulateStringIo(
  vcpu: Vcpu,
  info: VmExitInformation,
  services: StringIoServices,
  budget: number,
): StringIoResult {
  const q = decodeIoQualification(info.exitQualification);
  const size = q.size;
  const port = q.port;
  const cpu = vcpu.cpu;
  // Table 28-8, bits 9:7: 0 = 16-bit, 1 = 32-bit, 2 = 64-bit address size.
  const code = decodeStringIoInfo(info.instructionInformation).addressSize;
  const bits = code === AddressSize.BITS_16 ? 16 : code === AddressSize.BITS_32 ? 32 : 64;
  const mask = (1n << BigInt(bits)) - 1n;
  const pointer = q.in ? 'rdi' : 'rsi';
  const pointerReg = cpu.getReg(pointer);
  const first = pointerReg & mask;
  // The segment base (ES for INS; DS, FS or GS for OUTS) is what the linear address adds to
  // the pointer: elements after the first wrap the pointer at the address size, not the sum.
  const base = (info.guestLinearAddress - first) & U64;
  const rcx = cpu.getReg('rcx');
  const count = q.rep ? rcx & mask : 1n;
  const delta = (cpu.rflags & DF) !== 0n ? -size : size;
  let limit = Math.min(STRING_IO_CHUNK, Math.max(1, budget));
  // An interrupt held back only by an STI or MOV SS shadow (SDM Vol. 3A §6.8.3) is taken as
  // soon as the first element retires, as when the CPU runs the instruction: one element.
  if (
    cpu.interruptShadow &&
    (cpu.flags & IF) !== 0 &&
    (vcpu.injecting !== undefined ||
      cpu.pendingInterrupt !== undefined ||
      vcpu.apic.pending.length > 0)
  )
    limit = 1;
  const n = count < BigInt(limit) ? Number(count) : limit;
  const memory = vcpu.linear;
  const cpl = cpu.cpl;

  let done = 0;
  let result: StringIoResult = RESUME;
  while (done < n) {
    const linear = BigInt.asIntN(64, (base + ((first + BigInt(done * delta)) & mask)) & U64);
    // A non-canonical element, or one running past the lower half, is #GP(0) (SDM Vol. 1
    // §3.3.7.1); the exit came before that check (SDM Vol. 3C §26.1.1).
    if (linear < -CANONICAL || linear >= CANONICAL) {
      result = fault(GP, 0);
      break;
    }
    const la = Number(linear);
    if (la >= 0 && la + size > CANONICAL) {
      result = fault(GP, 0);
      break;
    }
    let failure: Fault | undefined;
    if (q.in) {
      let value: number | undefined;
      failure = element(vcpu, services, () => {
        memory.checkWrite(la, size, cpl);
        value ??= services.pio.read(port, size as PortSize);
        if (size === 1) memory.write8(la, value, cpl);
        else if (size === 2) memory.write16(la, value, cpl);
        else memory.write32(la, value, cpl);
      });
      // The stores go through the vCPU's memory, which reports them to the VM's code cache by
      // physical address, so compiled guest code they overwrite is dropped as for the CPU's.
    } else {
      let value = 0;
      failure = element(vcpu, services, () => {
        value =
          size === 1
            ? memory.read8(la, cpl)
            : size === 2
              ? memory.read16(la, cpl)
              : memory.read32(la, cpl);
      });
      if (failure === undefined) services.pio.write(port, size as PortSize, value);
    }
    if (failure !== undefined) {
      result = failure;
      break;
    }
    done++;
    if (!q.in && services.exited()) {
      result = EXIT;
      break;
    }
  }

  commit(vcpu, info, { pointer, pointerReg, first, bits, delta, rcx, count, rep: q.rep, done });
  return result;
}

interface Progress {
  pointer: 'rsi' | 'rdi';
  pointerReg: bigint;
  first: bigint;
  bits: number;
  delta: number;
  rcx: bigint;
  count: bigint;
  rep: boolean;
  done: number;
}

/**
 * Writes the registers of `done` completed elements; RIP moves past the instruction once no
 * element is left. Each element retires as one instruction, as when the CPU runs it; a REP
 * with a zero count retires once.
 */
function commit(vcpu: Vcpu, info: VmExitInformation, p: Progress): void {
  const cpu = vcpu.cpu;
  const { done } = p;
  if (done > 0) {
    cpu.setReg(p.pointer, writeAt(p.pointerReg, p.first + BigInt(done * p.delta), p.bits));
    if (p.rep) cpu.setReg('rcx', writeAt(p.rcx, p.count - BigInt(done), p.bits));
  }
  const complete = p.rep ? p.count === BigInt(done) : done === 1;
  vcpu.emulated += done === 0 && complete ? 1 : done;
  if (complete) cpu.rip = BigInt.asUintN(64, cpu.rip + BigInt(info.instructionLength));
  // An STI or MOV SS shadow covers one element at most, as when the CPU runs it.
  if (done > 0 || complete) cpu.interruptShadow = false;
}

/**
 * Runs one element's memory access `op` through the vCPU's linear memory, resolving what the
 * VMM resolves for the CPU: under `spt` a hidden shadow fault is fixed and the access retried,
 * a store to a write-protected guest page table goes through the shadow window, an access to a
 * device region through the MMIO window; under `ept` an EPT violation on a device region
 * opens the MMIO window. Anything else is the guest's fault (returned), or memory with nothing
 * behind it.
 */
function element(vcpu: Vcpu, services: StringIoServices, op: () => void): Fault | undefined {
  const t = vcpu.translation;
  let armed = false;
  let window = false;
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      try {
        op();
        return undefined;
      } catch (e) {
        if (e instanceof VmExit) {
          const i = e.info;
          // A data access (Table 28-7 bits 7 and 8) to a device region: through the window.
          const q = Number(i.exitQualification & 0x1ffn);
          if (
            i.exitReason === BasicExitReason.EPT_VIOLATION &&
            (q & 0x180) === 0x180 &&
            t.mmio !== undefined &&
            !window &&
            services.isDevice(i.guestPhysicalAddress)
          ) {
            t.mmio.openMmio(
              Number(BigInt.asIntN(64, i.guestLinearAddress)),
              i.guestPhysicalAddress,
            );
            window = true;
            continue;
          }
          return noMemory(vcpu, i);
        }
        if (!(e instanceof CpuFault)) throw e;
        const shadow = t.shadow;
        if (e.vector !== PF || shadow === undefined || e.address === undefined)
          return fault(e.vector, e.errorCode, e.address);
        const address = e.address;
        const port = shadow.port;
        const kind = port.handlePageFault(
          Math.floor(address / 2 ** 32) >>> 0,
          address >>> 0,
          (e.errorCode ?? 0) & ACCESS_BITS,
        );
        services.shadowFault(vcpu, kind);
        const r = port.result;
        switch (kind) {
          case ShadowFaultKind.GUEST:
            // Outcomes 2 and 3: the guest's walk refused a non-canonical address.
            if (r.outcome === 2) return fault(GP, 0);
            if (r.outcome === 3) return fault(SS, 0);
            return fault(PF, r.errorCode, address);
          case ShadowFaultKind.PAGE_TABLE_WRITE:
            if (armed) return fault(MC);
            shadow.arm(address, r.physical);
            armed = true;
            break;
          case ShadowFaultKind.MMIO:
            if (window || t.mmio === undefined || !services.isDevice(r.physical)) return fault(MC);
            t.mmio.openMmio(address, r.physical);
            window = true;
            break;
          default:
            // A hidden fault, now fixed: retry.
            break;
        }
      }
    }
    // No progress (e.g. an element crossing into a second device or page-table page): the
    // machine cannot perform it, as the MMIO emulation decides for such accesses.
    return fault(MC);
  } finally {
    if (armed) t.shadow!.disarm();
    if (window) t.mmio!.closeMmio();
  }
}

function noMemory(vcpu: Vcpu, i: VmExitInformation): Fault {
  const what =
    i.exitReason === BasicExitReason.EPT_VIOLATION ? 'EPT violation' : 'EPT misconfiguration';
  return {
    kind: 'no-memory',
    message: `${what} at guest-physical 0x${i.guestPhysicalAddress.toString(16)} during string I/O (RIP 0x${vcpu.cpu.rip.toString(16)}): no memory behind it`,
  };
}
