// System instructions of a 64-bit kernel: MOV to/from control registers, LGDT/LIDT/SGDT/SIDT,
// LTR, SWAPGS, INVLPG and INVPCID (SDM Vol. 2 pages of each; control-register rules from
// SDM Vol. 3A §2.5).
import {
  AddressSize,
  BasicExitReason,
  CrAccessType,
  controlRegisterAfterWrite,
  encodeCrAccessQualification,
  encodeInvalidationInfo,
  guestReadsControlRegister,
  movToControlRegisterCausesExit,
  movToCr3CausesExit,
  SegmentRegister,
} from '@vmkit/vmx';
import { CR0, CR4, EFER, Vector } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import { type Instr, RIP_BASE, Seg } from '../decoder/instr.js';
import { CpuFault, undefinedOpcode } from '../fault.js';
import { linearPlus, sysRead32, sysWrite32, toCanonical } from '../system/access.js';
import { attributes } from '../system/descriptors.js';
import { instructionExit, type VmExit } from '../vmx/vm-exit.js';
import { effectiveAddress, readMem, readRm, rmAddress, writeMem } from './operands.js';

const gp = (): CpuFault => new CpuFault(Vector.GP, 0);

function requireCpl0(cpu: Cpu): void {
  if (cpu.cpl !== 0) throw gp();
}

// Cached code is keyed by physical address, so it stays: the memory drops its translations
// (and changes its translation epoch), and the next block entry translates RIP afresh, finding
// the blocks of whatever frame RIP maps to now.
function pagingRegister(cpu: Cpu, register: 'cr0' | 'cr3' | 'cr4', value: bigint): void {
  cpu.memory.writePagingRegister?.(register, value);
}

// CR0 bits that exist (§2.5); writes to the other bits of 31:0 are ignored, ET is fixed to 1.
const CR0_DEFINED =
  CR0.PE | CR0.MP | CR0.EM | CR0.TS | CR0.ET | CR0.NE | CR0.WP | CR0.AM | CR0.NW | CR0.CD | CR0.PG;

/**
 * CR4 bits vmkit supports; setting any other raises #GP(0), as for a processor that does not
 * enumerate the feature (§2.5, MOV CR page). The CPUID leaves enumerate the same set.
 */
export const CR4_SUPPORTED =
  CR4.TSD |
  CR4.DE |
  CR4.PSE |
  CR4.PAE |
  CR4.MCE |
  CR4.PGE |
  CR4.PCE |
  CR4.OSFXSR |
  CR4.OSXMMEXCPT |
  CR4.PCIDE |
  CR4.SMEP |
  CR4.SMAP;

/** Reads control register `n` as [lo, hi]; CR1, CR5-CR7 and CR9-CR15 are #UD. */
export function readCr(cpu: Cpu, n: number): [number, number] {
  switch (n) {
    case 0:
      return [cpu.cr0 >>> 0, 0];
    case 2:
      return [Number(cpu.cr2 & 0xffffffffn), Number(cpu.cr2 >> 32n)];
    case 3:
      return [Number(cpu.cr3 & 0xffffffffn), Number(cpu.cr3 >> 32n)];
    case 4:
      return [cpu.cr4 >>> 0, 0];
    case 8:
      return [cpu.cr8, 0];
    default:
      throw undefinedOpcode();
  }
}

/**
 * Writes control register `n` with the MOV CR checks: #GP(0) for set reserved bits, for
 * PG without PE, NW without CD, clearing PG or PAE in IA-32e mode, setting PCIDE with a
 * non-zero CR3[11:0], and CR8 values above 15.
 */
export function writeCr(cpu: Cpu, n: number, lo: number, hi: number): void {
  switch (n) {
    case 0: {
      if (hi !== 0) throw gp();
      const v = ((lo & CR0_DEFINED) | CR0.ET) >>> 0;
      if ((v & CR0.PG) !== 0 && (v & CR0.PE) === 0) throw gp();
      if ((v & CR0.NW) !== 0 && (v & CR0.CD) === 0) throw gp();
      // Leaving long mode needs compatibility mode first (§9.8.5.4), which is not modelled:
      // in 64-bit mode clearing PG is #GP(0).
      if ((cpu.efer & EFER.LMA) !== 0 && (v & CR0.PG) === 0) throw gp();
      cpu.cr0 = v;
      pagingRegister(cpu, 'cr0', BigInt(v));
      return;
    }
    case 2:
      cpu.cr2 = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
      return;
    case 3: {
      // §4.5: bits 63:MAXPHYADDR are reserved, except bit 63 with CR4.PCIDE = 1, which asks
      // to keep the PCID's translations and is not stored.
      const pcide = (cpu.cr4 & CR4.PCIDE) !== 0;
      const noFlush = pcide && (hi & 0x80000000) !== 0;
      const h = pcide ? hi & 0x7fffffff : hi;
      if (h >>> (cpu.maxPhyAddr - 32) !== 0) throw gp();
      cpu.cr3 = (BigInt(h >>> 0) << 32n) | BigInt(lo >>> 0);
      pagingRegister(cpu, 'cr3', noFlush ? cpu.cr3 | (1n << 63n) : cpu.cr3);
      return;
    }
    case 4: {
      if (hi !== 0 || (lo & ~CR4_SUPPORTED) !== 0) throw gp();
      const v = lo >>> 0;
      if ((cpu.efer & EFER.LMA) !== 0 && (v & CR4.PAE) === 0) throw gp();
      const pcideOn = (v & CR4.PCIDE) !== 0 && (cpu.cr4 & CR4.PCIDE) === 0;
      if (pcideOn && (cpu.cr3 & 0xfffn) !== 0n) throw gp();
      cpu.cr4 = v;
      pagingRegister(cpu, 'cr4', BigInt(v));
      return;
    }
    case 8:
      if (hi !== 0 || lo > 15) throw gp();
      cpu.cr8 = lo;
      return;
    default:
      throw undefinedOpcode();
  }
}

// A control-register-access exit (basic reason 28) with the qualification of SDM Vol. 3C
// §28.2.1 Table 28-3: the register, the access type and the general-purpose register.
function crExit(ins: Instr, accessType: 0 | 1): VmExit {
  const qualification = encodeCrAccessQualification({
    controlRegister: ins.reg,
    accessType,
    lmswOperandType: 0,
    generalPurposeRegister: ins.rm,
    lmswSourceData: 0,
  });
  return instructionExit(
    BasicExitReason.CONTROL_REGISTER_ACCESSES,
    ins.length,
    BigInt(qualification),
  );
}

const u64 = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

/**
 * MOV r64, CRn (0F 20 /r): ModRM.mod is ignored, the r/m field names a register. In non-root
 * operation (SDM Vol. 3C §26.1.3, §26.3) MOV from CR3 and CR8 exit with "CR3-store exiting"
 * and "CR8-store exiting", and the bits of CR0 and CR4 that the guest/host masks own read
 * from the read shadows.
 */
export function movFromCr(cpu: Cpu, ins: Instr): void {
  requireCpl0(cpu);
  let [lo, hi] = readCr(cpu, ins.reg);
  const nr = cpu.nonRoot;
  if (nr !== undefined) {
    const n = ins.reg;
    if ((n === 3 && nr.cr3StoreExiting) || (n === 8 && nr.cr8StoreExiting)) {
      throw crExit(ins, CrAccessType.MOV_FROM_CR);
    }
    if ((n === 0 && nr.cr0Mask !== 0n) || (n === 4 && nr.cr4Mask !== 0n)) {
      const v = guestReadsControlRegister(
        n === 0 ? nr.cr0Mask : nr.cr4Mask,
        n === 0 ? nr.cr0Shadow : nr.cr4Shadow,
        u64(lo, hi),
      );
      lo = Number(v & 0xffffffffn);
      hi = Number(v >> 32n);
    }
  }
  cpu.lo[ins.rm] = lo;
  cpu.hi[ins.rm] = hi;
}

/**
 * MOV CRn, r64 (0F 22 /r). In non-root operation (SDM Vol. 3C §26.1.3) MOV to CR0/CR4 exits
 * when the source differs from the read shadow in a bit the guest/host mask owns, MOV to CR3
 * with "CR3-load exiting" unless the source is one of the CR3-target values, MOV to CR8 with
 * "CR8-load exiting"; a MOV to CR0/CR4 that does not exit leaves the owned bits unchanged
 * (§26.3), the checks applying to the value loaded.
 */
export function movToCr(cpu: Cpu, ins: Instr): void {
  requireCpl0(cpu);
  let lo = cpu.lo[ins.rm]!;
  let hi = cpu.hi[ins.rm]!;
  const nr = cpu.nonRoot;
  if (nr !== undefined) {
    const n = ins.reg;
    const source = u64(lo, hi);
    if (n === 0 || n === 4) {
      const mask = n === 0 ? nr.cr0Mask : nr.cr4Mask;
      if (movToControlRegisterCausesExit(mask, n === 0 ? nr.cr0Shadow : nr.cr4Shadow, source)) {
        throw crExit(ins, CrAccessType.MOV_TO_CR);
      }
      const v = controlRegisterAfterWrite(
        mask,
        BigInt(n === 0 ? cpu.cr0 >>> 0 : cpu.cr4 >>> 0),
        source,
      );
      lo = Number(v & 0xffffffffn);
      hi = Number(v >> 32n);
    } else if (n === 3) {
      if (movToCr3CausesExit(nr.cr3LoadExiting, nr.cr3Targets, nr.cr3Targets.length, source)) {
        throw crExit(ins, CrAccessType.MOV_TO_CR);
      }
    } else if (n === 8 && nr.cr8LoadExiting) {
      throw crExit(ins, CrAccessType.MOV_TO_CR);
    }
  }
  writeCr(cpu, ins.reg, lo, hi);
}

/**
 * LGDT/LIDT m16&64 (0F 01 /2, /3): a 16-bit limit followed by a 64-bit base, which must be
 * canonical (#GP(0)); CPL 0 only.
 */
export function lgdt(cpu: Cpu, ins: Instr): void {
  requireCpl0(cpu);
  const la = effectiveAddress(cpu, ins);
  const limit = readMem(cpu, la, 2);
  const lo = readMem(cpu, linearPlus(la, 2), 8);
  const base = toCanonical(lo, cpu.xhi);
  if (base === undefined) throw gp();
  if (ins.sub === 0) {
    cpu.gdtrBase = base;
    cpu.gdtrLimit = limit;
  } else {
    cpu.idtrBase = base;
    cpu.idtrLimit = limit;
  }
}

/** SGDT/SIDT m16&64 (0F 01 /0, /1): stores the limit and the 64-bit base. */
export function sgdt(cpu: Cpu, ins: Instr): void {
  const la = effectiveAddress(cpu, ins);
  const base = ins.sub === 0 ? cpu.gdtrBase : cpu.idtrBase;
  const limit = ins.sub === 0 ? cpu.gdtrLimit : cpu.idtrLimit;
  const second = linearPlus(la, 2);
  // Both stores are checked by the memory seam before anything is written only per store;
  // write the base first so that a fault on it leaves the limit unwritten too.
  writeMem(cpu, second, 8, base >>> 0, Math.floor(base / 4294967296) >>> 0);
  writeMem(cpu, la, 2, limit, 0);
}

/**
 * LTR r/m16 (0F 00 /3): loads TR from an available 64-bit TSS descriptor in the GDT (16
 * bytes, SDM Vol. 3A §8.2.3) and marks it busy. #GP(0) for a null selector or CPL > 0,
 * #GP(selector) for an LDT selector, one beyond the GDT, a descriptor that is not an available
 * TSS or has a non-canonical base; #NP(selector) when not present.
 */
export function ltr(cpu: Cpu, ins: Instr): void {
  requireCpl0(cpu);
  const selector = readRm(cpu, ins, rmAddress(cpu, ins), 2);
  if ((selector & 0xfffc) === 0) throw gp();
  const error = selector & 0xfffc;
  if ((selector & 4) !== 0 || (selector | 7) + 8 > cpu.gdtrLimit) {
    throw new CpuFault(Vector.GP, error);
  }
  const at = linearPlus(cpu.gdtrBase, selector & 0xfff8);
  const low = sysRead32(cpu, at, 0);
  const high = sysRead32(cpu, at + 4, 0);
  const upper = sysRead32(cpu, at + 8, 0);
  const top = sysRead32(cpu, at + 12, 0);
  const a = attributes(high);
  // Type 9: available 64-bit TSS (Table 3-2); the upper half's type field must be zero.
  if (a.s || a.type !== 9 || ((top >>> 8) & 0x1f) !== 0) throw new CpuFault(Vector.GP, error);
  if (!a.present) throw new CpuFault(Vector.NP, error);
  const base = toCanonical(
    ((high & 0xff000000) | ((high & 0xff) << 16) | (low >>> 16)) >>> 0,
    upper,
  );
  if (base === undefined) throw new CpuFault(Vector.GP, error);
  let limit = (low & 0xffff) | (high & 0xf0000);
  if ((high & 0x800000) !== 0) limit = limit * 4096 + 0xfff;
  sysWrite32(cpu, at + 4, high | 0x200, 0); // type 11: busy
  cpu.trSelector = selector;
  cpu.trBase = base;
  cpu.trLimit = limit;
}

/** SWAPGS (0F 01 F8): exchanges the GS base with IA32_KERNEL_GS_BASE; CPL 0 only. */
export function swapgs(cpu: Cpu, _ins: Instr): void {
  requireCpl0(cpu);
  const lo = cpu.gsBaseLo;
  const hi = cpu.gsBaseHi;
  cpu.gsBaseLo = cpu.kernelGsBaseLo;
  cpu.gsBaseHi = cpu.kernelGsBaseHi;
  cpu.kernelGsBaseLo = lo;
  cpu.kernelGsBaseHi = hi;
}

// The memory operand's address without the canonical check, modulo 2^64 (2^32 with 67h) plus
// the FS/GS base: the INVLPG exit qualification for an operand that is not canonical.
function operandAddress(cpu: Cpu, ins: Instr): bigint {
  const reg = (r: number): bigint => u64(cpu.lo[r]!, cpu.hi[r]!);
  let a = BigInt(ins.disp);
  if (ins.base === RIP_BASE) a += BigInt(cpu.ripLinear + ins.length);
  else if (ins.base >= 0) a += reg(ins.base);
  if (ins.index >= 0) a += reg(ins.index) << BigInt(ins.scale);
  a = ins.asize === 4 ? BigInt.asUintN(32, a) : a;
  if (ins.seg === Seg.FS) a += u64(cpu.fsBaseLo, cpu.fsBaseHi);
  else if (ins.seg === Seg.GS) a += u64(cpu.gsBaseLo, cpu.gsBaseHi);
  return BigInt.asUintN(64, a);
}

/**
 * INVLPG m (0F 01 /7): drops the translation of the page holding the operand's linear
 * address (and the CPU's cached code); a non-canonical address makes it a NOP. CPL 0 only.
 */
export function invlpg(cpu: Cpu, ins: Instr): void {
  requireCpl0(cpu);
  let la: number;
  try {
    la = effectiveAddress(cpu, ins);
  } catch (e) {
    if (!(e instanceof CpuFault)) throw e;
    // A non-canonical operand makes INVLPG a NOP, but the exit still happens, with the
    // operand as it was computed.
    if (cpu.nonRoot?.invlpgExiting === true) {
      throw instructionExit(BasicExitReason.INVLPG, ins.length, operandAddress(cpu, ins));
    }
    return;
  }
  // SDM Vol. 3C §26.1.3: INVLPG exits with "INVLPG exiting"; the qualification is the linear
  // address of the operand (§28.2.1).
  if (cpu.nonRoot?.invlpgExiting === true) {
    throw instructionExit(BasicExitReason.INVLPG, ins.length, BigInt.asUintN(64, BigInt(la)));
  }
  cpu.memory.invlpg?.(la);
}

// The instruction information of INVPCID (SDM Vol. 3C §28.2.5): the memory operand's scale,
// address size, segment (SS for an RSP/RBP base, as 64-bit mode defaults it), index and base
// registers, and the register holding the type (Reg2).
function invalidationInfo(ins: Instr): number {
  const seg =
    ins.seg === Seg.FS
      ? SegmentRegister.FS
      : ins.seg === Seg.GS
        ? SegmentRegister.GS
        : ins.base === 4 || ins.base === 5
          ? SegmentRegister.SS
          : SegmentRegister.DS;
  const baseValid = ins.base >= 0 && ins.base !== RIP_BASE;
  return encodeInvalidationInfo({
    scaling: ins.index >= 0 ? ins.scale : 0,
    addressSize: ins.asize === 8 ? AddressSize.BITS_64 : AddressSize.BITS_32,
    segment: seg,
    indexRegister: ins.index >= 0 ? ins.index : 0,
    indexInvalid: ins.index < 0,
    baseRegister: baseValid ? ins.base : 0,
    baseInvalid: !baseValid,
    reg2: ins.reg,
  });
}

/**
 * INVPCID r64, m128 (66 0F 38 82 /r): invalidation type in the register (0 individual
 * address, 1 single PCID, 2 all including globals, 3 all but globals), descriptor in memory
 * (PCID in bits 11:0, linear address in bits 127:64). #GP(0) for CPL > 0, a type above 3,
 * descriptor bits 63:12 set, a non-canonical address for type 0, or a non-zero PCID for types
 * 0 and 1 while CR4.PCIDE = 0.
 */
export function invpcid(cpu: Cpu, ins: Instr): void {
  const nr = cpu.nonRoot;
  // SDM Vol. 3C §26.3: in non-root operation INVPCID is #UD unless "enable INVPCID" is 1.
  if (nr !== undefined && !nr.enableInvpcid) throw undefinedOpcode();
  requireCpl0(cpu);
  // SDM Vol. 3C §26.1.3: with "enable INVPCID", INVPCID exits when "INVLPG exiting" is 1; the
  // qualification is the displacement (§28.2.1), the operands in the instruction information
  // (§28.2.5).
  if (nr?.invlpgExiting === true) {
    throw instructionExit(
      BasicExitReason.INVPCID,
      ins.length,
      BigInt.asUintN(64, BigInt(ins.disp)),
      invalidationInfo(ins),
    );
  }
  const typeLo = cpu.lo[ins.reg]!;
  if (cpu.hi[ins.reg]! !== 0 || typeLo > 3) throw gp();
  const la = effectiveAddress(cpu, ins);
  const dLo = readMem(cpu, la, 8);
  const dHi = cpu.xhi;
  const aLo = readMem(cpu, linearPlus(la, 8), 8);
  const aHi = cpu.xhi;
  if (dLo >>> 12 !== 0 || dHi !== 0) throw gp();
  const pcid = dLo & 0xfff;
  if (typeLo <= 1 && pcid !== 0 && (cpu.cr4 & CR4.PCIDE) === 0) throw gp();
  let address = 0;
  if (typeLo === 0) {
    const la = toCanonical(aLo, aHi);
    if (la === undefined) throw gp();
    address = la;
  }
  cpu.memory.invpcid?.(typeLo, pcid, address);
}
