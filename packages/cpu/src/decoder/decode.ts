// Instruction decoding in 64-bit mode, SDM Vol. 2 Chapter 2 ("Instruction Format").
import { generalProtection, undefinedOpcode } from '../fault.js';
import { type Instr, type OperandSpec, Rep, RIP_BASE, Seg } from './instr.js';
import {
  MAP_0F38,
  ONE_BYTE,
  type OpEntry,
  type PickContext,
  type Slot,
  TWO_BYTE,
} from './opcodes.js';

/** Reads the byte at `offset` from the start of the instruction; may throw a {@link CpuFault}. */
export type FetchByte = (offset: number) => number;

/** The architectural limit on instruction length (SDM Vol. 2 §2.3.11, Vol. 3A §6.15 #GP). */
export const MAX_INSTRUCTION_LENGTH = 15;

class Cursor {
  pos = 0;
  constructor(readonly fetch: FetchByte) {}

  // SDM Vol. 2 §2.3.11: an instruction longer than 15 bytes raises #GP(0), detected when the
  // 16th byte would be needed.
  next(): number {
    if (this.pos >= MAX_INSTRUCTION_LENGTH) throw generalProtection();
    return this.fetch(this.pos++);
  }

  u16(): number {
    const lo = this.next();
    return lo | (this.next() << 8);
  }

  u32(): number {
    const b0 = this.next();
    const b1 = this.next();
    const b2 = this.next();
    return (b0 | (b1 << 8) | (b2 << 16) | (this.next() << 24)) >>> 0;
  }
}

const SIGN32 = (v: number): number => v | 0;

/**
 * Decodes one instruction in 64-bit mode.
 *
 * @param fetch - reads instruction bytes by offset from the instruction's first byte
 * @returns the decoded instruction
 * @throws {@link CpuFault} #UD for an invalid or unimplemented encoding, #GP(0) past 15 bytes,
 *   or whatever `fetch` throws (a #PF on the fetch)
 * @example
 * ```ts
 * const bytes = [0x48, 0x01, 0xd8]; // add rax, rbx
 * const ins = decode((i) => bytes[i]!);
 * ins.mnemonic; // 'Add'
 * ins.length; // 3
 * ```
 */
export function decode(fetch: FetchByte): Instr {
  const c = new Cursor(fetch);
  let lock = false;
  let repPrefix = 0;
  let p66 = false;
  let p67 = false;
  let seg: number = Seg.NONE;
  let rex = 0;
  let b: number;
  // Legacy prefixes in any order, then at most one REX immediately before the opcode: a REX
  // followed by another prefix is ignored (SDM Vol. 2 §2.2.1).
  for (;;) {
    b = c.next();
    if (b >= 0x40 && b <= 0x4f) {
      rex = b;
      continue;
    }
    let prefix = true;
    switch (b) {
      case 0xf0:
        lock = true;
        break;
      case 0xf2:
      case 0xf3:
        repPrefix = b;
        break;
      case 0x66:
        p66 = true;
        break;
      case 0x67:
        p67 = true;
        break;
      case 0x64:
        seg = Seg.FS;
        break;
      case 0x65:
        seg = Seg.GS;
        break;
      // CS, SS, DS and ES overrides are ignored in 64-bit mode (SDM Vol. 1 §3.3.7.1), so they
      // neither select a segment nor cancel an FS/GS override.
      case 0x26:
      case 0x2e:
      case 0x36:
      case 0x3e:
        break;
      default:
        prefix = false;
    }
    if (!prefix) break;
    rex = 0;
  }
  const rexW = (rex & 8) !== 0;
  let slot: Slot | undefined;
  if (b === 0x0f) {
    b = c.next();
    if (b === 0x38) {
      b = c.next();
      slot = MAP_0F38[b];
    } else {
      slot = TWO_BYTE[b];
    }
  } else {
    slot = ONE_BYTE[b];
  }
  if (slot === undefined) throw undefinedOpcode();

  let modrm = -1;
  let entry: OpEntry | undefined;
  if ('group' in slot) {
    modrm = c.next();
    entry = slot.group[(modrm >> 3) & 7];
  } else if ('pick' in slot) {
    if (slot.needsModrm) modrm = c.next();
    const ctx: PickContext = {
      repPrefix,
      opsizePrefix: p66,
      rexW,
      rexB: (rex & 1) !== 0,
      rexR: (rex & 4) !== 0,
      modrm,
    };
    entry = slot.pick(ctx);
  } else {
    entry = slot;
  }
  if (entry === undefined) throw undefinedOpcode();
  if (p67 && entry.no67) throw undefinedOpcode();

  let osize: 1 | 2 | 4 | 8;
  switch (entry.size) {
    case 'b':
      osize = 1;
      break;
    case 'w':
      osize = 2;
      break;
    case 'z':
      // REX.W overrides 66h, and there is no 64-bit form: 32 bits.
      osize = p66 && !rexW ? 2 : 4;
      break;
    case 'f64':
      osize = 8;
      break;
    case 'd64':
      // 16-bit stack operations are not implemented (see SizeAttr); REX.W overrides 66h.
      if (p66 && !rexW) throw undefinedOpcode();
      osize = 8;
      break;
    default:
      osize = rexW ? 8 : p66 ? 2 : 4;
  }
  if (entry.no66 && osize === 2) throw undefinedOpcode();

  const ins: Instr = {
    exec: entry.exec,
    mnemonic: entry.mn,
    operands: entry.ops,
    length: 0,
    osize,
    asize: p67 ? 4 : 8,
    mod: 3,
    reg: 0,
    rm: 0,
    base: -1,
    index: -1,
    scale: 0,
    disp: 0,
    seg,
    imm: 0,
    immHi: 0,
    imm2: 0,
    rep: repPrefix === 0xf3 ? Rep.REPE : repPrefix === 0xf2 ? Rep.REPNE : Rep.NONE,
    lock,
    rex: rex !== 0,
    sub: entry.sub,
  };

  if (entry.modrm !== 'none') {
    if (modrm < 0) modrm = c.next();
    decodeModrm(c, ins, modrm, rex);
    if (entry.modrm === 'mem' && ins.mod === 3) throw undefinedOpcode();
    if (entry.modrm === 'reg' && ins.mod !== 3) throw undefinedOpcode();
  } else if (modrm >= 0) {
    // A ModRM byte that names registers only (MOV CRn: mod is ignored, SDM Vol. 2 MOV—Move
    // to/from Control Registers), or selects a form (0F 01 group).
    ins.mod = modrm >> 6;
    ins.reg = ((modrm >> 3) & 7) | ((rex & 4) << 1);
    ins.rm = (modrm & 7) | ((rex & 1) << 3);
  }
  // LOCK is legal only on the listed read-modify-write forms with a memory destination
  // (SDM Vol. 2 LOCK: "#UD ... if the LOCK prefix is used with an instruction not listed").
  if (lock && (!entry.lockable || ins.mod === 3)) throw undefinedOpcode();

  for (const op of entry.ops) decodeOperand(c, ins, op, b, rex);
  ins.length = c.pos;
  return ins;
}

function decodeOperand(c: Cursor, ins: Instr, op: OperandSpec, opcode: number, rex: number): void {
  switch (op) {
    case 'Ib':
      // ENTER's Ib (nesting level) follows its Iw (frame size): the second immediate.
      if (ins.mnemonic === 'Enter') ins.imm2 = c.next();
      else ins.imm = c.next();
      return;
    case 'Ibs':
      setSignedImm(ins, (c.next() << 24) >> 24);
      return;
    case 'Iw':
      ins.imm = c.u16();
      return;
    case 'Iz':
      if (ins.osize === 2) ins.imm = c.u16();
      else setSignedImm(ins, SIGN32(c.u32()));
      return;
    case 'Iv':
      if (ins.osize === 8) {
        ins.imm = c.u32();
        ins.immHi = c.u32();
      } else if (ins.osize === 2) ins.imm = c.u16();
      else ins.imm = c.u32();
      return;
    case 'Jb':
      ins.imm = (c.next() << 24) >> 24;
      return;
    case 'Jz':
      ins.imm = SIGN32(c.u32());
      return;
    case 'Ob':
    case 'Ov':
      // moffs: an absolute address as wide as the address size (SDM Vol. 2 MOV, Table A-2
      // "O"). Kept in imm/immHi; base -2 marks it for the address computation.
      ins.base = -2;
      ins.imm = c.u32();
      ins.immHi = ins.asize === 8 ? c.u32() : 0;
      return;
    case 'Zb':
    case 'Zv':
      ins.reg = (opcode & 7) | ((rex & 1) << 3);
      return;
    default:
      return;
  }
}

function setSignedImm(ins: Instr, v: number): void {
  // Sign-extended to the operand size (SDM Vol. 2 §2.2.1.5 for 64-bit operands).
  if (ins.osize === 1) ins.imm = v & 0xff;
  else if (ins.osize === 2) ins.imm = v & 0xffff;
  else {
    ins.imm = v >>> 0;
    ins.immHi = ins.osize === 8 && v < 0 ? 0xffffffff : 0;
  }
}

// ModRM and SIB in 64-bit mode, SDM Vol. 2 §2.2.1.3-§2.2.1.6 and Tables 2-2, 2-3, 2-5.
function decodeModrm(c: Cursor, ins: Instr, modrm: number, rex: number): void {
  const mod = modrm >> 6;
  const rm = modrm & 7;
  ins.mod = mod;
  ins.reg = ((modrm >> 3) & 7) | ((rex & 4) << 1);
  if (mod === 3) {
    ins.rm = rm | ((rex & 1) << 3);
    return;
  }
  if (rm === 4) {
    const sib = c.next();
    const idx = ((sib >> 3) & 7) | ((rex & 2) << 2);
    ins.scale = sib >> 6;
    // Index 100b without REX.X means "no index" (Table 2-5 note).
    ins.index = idx === 4 ? -1 : idx;
    const base = sib & 7;
    if (base === 5 && mod === 0) {
      ins.base = -1;
      ins.disp = SIGN32(c.u32());
      return;
    }
    ins.base = base | ((rex & 1) << 3);
  } else if (rm === 5 && mod === 0) {
    // RIP-relative (EIP-relative with 67h), SDM Vol. 2 §2.2.1.6.
    ins.base = RIP_BASE;
    ins.disp = SIGN32(c.u32());
    return;
  } else {
    ins.base = rm | ((rex & 1) << 3);
  }
  if (mod === 1) ins.disp = (c.next() << 24) >> 24;
  else if (mod === 2) ins.disp = SIGN32(c.u32());
}
