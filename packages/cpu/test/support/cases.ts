// Random differential cases, one generator per instruction family. Encodings are built from
// the opcode maps (SDM Vol. 2 Appendix A); the flags the SDM leaves undefined come from
// iced-x86's per-instruction tables, or from the SDM text where they depend on a count.
import { RFLAGS } from '@vmkit/x86';
import { Decoder, DecoderOptions, RflagsBits } from 'iced-x86';
import { BUFFER, BUFFER_SIZE, type Case, CODE } from './native.js';

const STATUS = RFLAGS.CF | RFLAGS.PF | RFLAGS.AF | RFLAGS.ZF | RFLAGS.SF | RFLAGS.OF;

/** Converts iced-x86 RflagsBits to RFLAGS bit positions. */
export function icedFlags(bits: number): number {
  let f = 0;
  if (bits & RflagsBits.OF) f |= RFLAGS.OF;
  if (bits & RflagsBits.SF) f |= RFLAGS.SF;
  if (bits & RflagsBits.ZF) f |= RFLAGS.ZF;
  if (bits & RflagsBits.AF) f |= RFLAGS.AF;
  if (bits & RflagsBits.CF) f |= RFLAGS.CF;
  if (bits & RflagsBits.PF) f |= RFLAGS.PF;
  return f;
}

/**
 * The flags iced-x86 says the first instruction of `code` leaves undefined. Its tables follow
 * the "Flags Affected" paragraph of each SDM Vol. 2 page; for the families here that means:
 * AND/OR/XOR/TEST: AF; MUL/IMUL: SF, ZF, AF, PF; DIV/IDIV: CF, OF, SF, ZF, AF, PF;
 * BT/BTS/BTR/BTC: OF, SF, AF, PF; BSF/BSR: CF, OF, SF, AF, PF; TZCNT/LZCNT: OF, SF, AF, PF;
 * everything else in these tests: none. (Shift and rotate masks depend on the count and are
 * computed from the SDM text in `shifts` and `doubleShifts`.) The host CPU (AMD) and vmkit
 * may differ only in these bits.
 */
export function undefinedByIced(code: Uint8Array): number {
  const d = new Decoder(64, code, DecoderOptions.None);
  const i = d.decode();
  const f = icedFlags(i.rflagsUndefined);
  i.free();
  d.free();
  return f;
}

const RSP = 4;
const RSI = 6;

/** Random choices for the generators. */
export class Gen {
  constructor(readonly rand: () => number) {}

  int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  u32(): number {
    return (this.rand() * 2 ** 32) >>> 0;
  }

  /** A 64-bit value biased toward edges: 0, 1, -1, sign boundaries, small numbers. */
  value(): bigint {
    const k = this.int(10);
    const r = (BigInt(this.u32()) << 32n) | BigInt(this.u32());
    switch (k) {
      case 0:
        return BigInt(this.pick([0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff]));
      case 1:
        return BigInt.asUintN(64, BigInt(this.pick([-1, -2, -128, -32768, -(2 ** 31)])));
      case 2:
        return this.pick([
          0x7fffffffn,
          0x80000000n,
          0xffffffffn,
          0x100000000n,
          0x7fffffffffffffffn,
          0x8000000000000000n,
        ]);
      case 3:
        return BigInt(this.int(64));
      case 4:
        return r & 0xffffn;
      default:
        return r;
    }
  }

  /** Status flags at random, plus IF (which CPL 3 cannot change) and the fixed bit 1. */
  flags(df = false): bigint {
    let f = this.u32() & STATUS;
    if (df && this.rand() < 0.5) f |= RFLAGS.DF;
    return BigInt(f | RFLAGS.IF | RFLAGS.FIXED1);
  }

  /** A general-purpose register other than RSP (and other than those in `avoid`). */
  reg(avoid: readonly number[] = []): number {
    for (;;) {
      const r = this.int(16);
      if (r !== RSP && !avoid.includes(r)) return r;
    }
  }

  /** Random registers (RSP points into the buffer's upper half, valid for pushes). */
  regs(): bigint[] {
    const regs = Array.from({ length: 16 }, () => this.value());
    regs[RSP] = BigInt(BUFFER + 0x1c0);
    return regs;
  }

  buffer(): Uint8Array {
    return Uint8Array.from({ length: BUFFER_SIZE }, () => this.int(256));
  }
}

/** Operand-size prefix bytes and REX.W for a size. */
function sizePrefix(size: number): { pre: number[]; w: number } {
  return { pre: size === 2 ? [0x66] : [], w: size === 8 ? 8 : 0 };
}

/**
 * Encodes `prefixes [REX] opcode... ModRM [disp8] imm` for a register-register form or a
 * [RSI+disp8] memory form. Byte forms get a random REX (0x40) so both AH..BH and SPL..DIL
 * are exercised.
 */
export function encode(
  g: Gen,
  opts: {
    size: number;
    opcode: number[];
    reg: number;
    rm: number | 'mem';
    disp?: number;
    imm?: number[];
    lock?: boolean;
    forceRex?: boolean;
  },
): Uint8Array {
  const { pre, w } = sizePrefix(opts.size);
  const mem = opts.rm === 'mem';
  const rmReg = mem ? RSI : (opts.rm as number);
  let rex = 0x40 | w | ((opts.reg & 8) >> 1) | ((rmReg & 8) >> 3);
  const needRex = rex !== 0x40 || opts.forceRex || (opts.size === 1 && g.rand() < 0.5);
  if (!needRex) rex = 0;
  const modrm = (mem ? 0x40 : 0xc0) | ((opts.reg & 7) << 3) | (rmReg & 7);
  const bytes = [
    ...(opts.lock ? [0xf0] : []),
    ...pre,
    ...(rex ? [rex] : []),
    ...opts.opcode,
    modrm,
    ...(mem ? [opts.disp ?? 0] : []),
    ...(opts.imm ?? []),
  ];
  return Uint8Array.from(bytes);
}

function le(v: number | bigint, n: number): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(Number(x & 0xffn));
    x >>= 8n;
  }
  return out;
}

const SIZES = [1, 2, 4, 8];

function base(g: Gen, name: string, code: Uint8Array, extra: Partial<Case> = {}): Case {
  const regs = g.regs();
  regs[RSI] = BigInt(BUFFER + 0x100);
  return {
    name,
    code,
    regs,
    rflags: g.flags(),
    buffer: g.buffer(),
    undefinedFlags: undefinedByIced(code),
    ...extra,
  };
}

/** ADD OR ADC SBB AND SUB XOR CMP in every form, TEST, INC, DEC, NEG, NOT. */
export function arithmetic(g: Gen, n: number): Case[] {
  const out: Case[] = [];
  for (let k = 0; k < n; k++) {
    const size = g.pick(SIZES);
    const op = g.int(8);
    const mem = g.rand() < 0.3;
    const rm = mem ? 'mem' : g.reg();
    const reg = g.reg();
    const disp = g.int(0x80);
    const immSize = size === 1 ? 1 : size === 2 ? 2 : 4;
    const lock = mem && op !== 7 && g.rand() < 0.3;
    const form = g.int(9);
    let code: Uint8Array;
    const w = size === 1 ? 0 : 1;
    switch (form) {
      case 0:
        code = encode(g, { size, opcode: [op * 8 + w], reg, rm, disp, lock });
        break;
      case 1:
        code = encode(g, { size, opcode: [op * 8 + 2 + w], reg, rm, disp });
        break;
      case 2:
        code = encode(g, {
          size,
          opcode: [size === 1 ? 0x80 : 0x81],
          reg: op,
          rm,
          disp,
          imm: le(g.value(), immSize),
          lock,
        });
        break;
      case 3:
        code = encode(g, {
          size: size === 1 ? 4 : size,
          opcode: [0x83],
          reg: op,
          rm,
          disp,
          imm: [g.int(256)],
          lock,
        });
        break;
      case 4: {
        const { pre, w: rw } = sizePrefix(size);
        code = Uint8Array.from([
          ...pre,
          ...(rw ? [0x48] : []),
          op * 8 + 4 + w,
          ...le(g.value(), immSize),
        ]);
        break;
      }
      case 5:
        code = encode(g, { size, opcode: [0x84 + w], reg, rm, disp });
        break;
      case 6:
        code = encode(g, {
          size,
          opcode: [0xf6 + w],
          reg: g.int(2),
          rm,
          disp,
          imm: le(g.value(), immSize),
        });
        break;
      case 7:
        code = encode(g, {
          size,
          opcode: [0xfe + w],
          reg: g.int(2),
          rm,
          disp,
          lock: mem && g.rand() < 0.3,
        });
        break;
      default:
        code = encode(g, {
          size,
          opcode: [0xf6 + w],
          reg: 2 + g.int(2),
          rm,
          disp,
          lock: mem && g.rand() < 0.3,
        });
    }
    out.push(base(g, `arith form ${form} op ${op} size ${size}`, code));
  }
  return out;
}

/**
 * Shifts and rotates with every count: the SDM leaves OF undefined for counts other than 1,
 * AF undefined for shifts with a non-zero count, and CF undefined for SHL/SHR when the count
 * is at least the operand width (possible for 8- and 16-bit operands).
 */
export function shifts(g: Gen, n: number): Case[] {
  const out: Case[] = [];
  for (let k = 0; k < n; k++) {
    const size = g.pick(SIZES);
    const op = g.int(8);
    const mem = g.rand() < 0.2;
    const rm = mem ? 'mem' : g.reg([1]);
    const w = size === 1 ? 0 : 1;
    const form = g.int(3);
    const count = k % 80;
    const code =
      form === 0
        ? encode(g, { size, opcode: [0xc0 + w], reg: op, rm, disp: g.int(0x80), imm: [count] })
        : form === 1
          ? encode(g, { size, opcode: [0xd2 + w], reg: op, rm, disp: g.int(0x80) })
          : encode(g, { size, opcode: [0xd0 + w], reg: op, rm, disp: g.int(0x80) });
    const c = base(g, `shift op ${op} size ${size} form ${form}`, code);
    c.regs[1] = BigInt(g.int(256) === 0 ? 0 : count + 256 * g.int(4));
    const raw = form === 0 ? count : form === 1 ? Number(c.regs[1] & 0xffn) : 1;
    const masked = raw & (size === 8 ? 63 : 31);
    let undef = 0;
    if (masked !== 0) {
      const rotate = op < 4;
      if (masked !== 1) undef |= RFLAGS.OF;
      if (!rotate) undef |= RFLAGS.AF;
      if ((op === 4 || op === 5 || op === 6) && masked >= size * 8) undef |= RFLAGS.CF | RFLAGS.OF;
    }
    out.push({ ...c, undefinedFlags: undef });
  }
  return out;
}

/**
 * SHLD/SHRD with every count. Count 1: AF undefined; larger counts: OF too; a count larger
 * than the operand (16-bit only) leaves the result and all flags undefined (SDM SHLD/SHRD).
 */
export function doubleShifts(g: Gen, n: number): Case[] {
  const out: Case[] = [];
  for (let k = 0; k < n; k++) {
    const size = g.pick([2, 4, 8]);
    const left = g.rand() < 0.5;
    const byCl = g.rand() < 0.5;
    const mem = g.rand() < 0.2;
    const rm = mem ? 'mem' : g.reg([1]);
    const reg = g.reg([1]);
    const count = k % 80;
    const opcode = [0x0f, (left ? 0xa4 : 0xac) + (byCl ? 1 : 0)];
    const code = encode(g, { size, opcode, reg, rm, disp: g.int(0x78), imm: byCl ? [] : [count] });
    const c = base(g, `sh${left ? 'l' : 'r'}d size ${size}`, code);
    c.regs[1] = BigInt(count + 256 * g.int(4));
    const masked = count & (size === 8 ? 63 : 31);
    let undef = 0;
    let undefinedRegs: number[] = [];
    if (masked === 1) undef = RFLAGS.AF;
    else if (masked > 1) undef = RFLAGS.AF | RFLAGS.OF;
    if (masked > size * 8) {
      undef = STATUS;
      if (mem) continue;
      undefinedRegs = [rm as number];
    }
    out.push({ ...c, undefinedFlags: undef, undefinedRegs });
  }
  return out;
}

/** MUL, IMUL (1, 2, 3 operands), DIV, IDIV, including #DE inputs. */
export function multiplyDivide(g: Gen, n: number): Case[] {
  const out: Case[] = [];
  for (let k = 0; k < n; k++) {
    const size = g.pick(SIZES);
    const w = size === 1 ? 0 : 1;
    const mem = g.rand() < 0.2;
    const rm = mem ? 'mem' : g.reg([0, 2]);
    const form = g.int(4);
    let code: Uint8Array;
    if (form === 0 || form === 1 || size === 1) {
      code = encode(g, { size, opcode: [0xf6 + w], reg: 4 + g.int(4), rm, disp: g.int(0x78) });
    } else if (form === 2) {
      code = encode(g, { size, opcode: [0x0f, 0xaf], reg: g.reg(), rm, disp: g.int(0x78) });
    } else {
      const short = g.rand() < 0.5;
      code = encode(g, {
        size,
        opcode: [short ? 0x6b : 0x69],
        reg: g.reg(),
        rm,
        disp: g.int(0x78),
        imm: short ? [g.int(256)] : le(g.value(), size === 2 ? 2 : 4),
      });
    }
    const c = base(g, `muldiv form ${form} size ${size}`, code);
    // Divisions: keep the dividend's high half small most of the time, so most quotients
    // fit and the #DE cases stay a minority.
    if (g.rand() < 0.7) c.regs[2] = g.rand() < 0.5 ? 0n : BigInt(g.int(4));
    out.push(c);
  }
  return out;
}

/** BT/BTS/BTR/BTC (register and memory bit strings, imm8), BSF, BSR, TZCNT, LZCNT, POPCNT. */
export function bits(g: Gen, n: number): Case[] {
  const out: Case[] = [];
  for (let k = 0; k < n; k++) {
    const size = g.pick([2, 4, 8]);
    const mem = g.rand() < 0.4;
    const rm = mem ? 'mem' : g.reg();
    const reg = g.reg([RSI]);
    const form = g.int(4);
    let code: Uint8Array;
    let undefinedRegs: number[] = [];
    if (form === 0) {
      code = encode(g, {
        size,
        opcode: [0x0f, 0xa3 + 8 * g.int(4)],
        reg,
        rm,
        disp: 0x40,
        lock: false,
      });
    } else if (form === 1) {
      code = encode(g, {
        size,
        opcode: [0x0f, 0xba],
        reg: 4 + g.int(4),
        rm,
        disp: g.int(0x78),
        imm: [g.int(256)],
      });
    } else {
      const op = g.pick([0xbc, 0xbd, 0xb8]);
      const f3 = op === 0xb8 || g.rand() < 0.5;
      const enc = encode(g, { size, opcode: [0x0f, op], reg, rm, disp: g.int(0x78) });
      // The F3 prefix goes before REX/66 handling order: F3 66 REX 0F xx is valid.
      code = f3 ? Uint8Array.from([0xf3, ...enc]) : enc;
      if (!f3) undefinedRegs = [];
    }
    const c = base(g, `bits form ${form} size ${size}`, code);
    // Bit offsets for the memory bit-string form stay within the buffer (RSI+0x40 +- 64 bytes).
    if (form === 0 && mem) c.regs[reg] = BigInt.asUintN(64, BigInt(g.int(1024) - 512));
    if (form >= 2 && g.rand() < 0.25) {
      if (mem) c.buffer.fill(0, 0x100, 0x100 + 0x80);
      else c.regs[rm as number] = 0n;
    }
    out.push({ ...c, undefinedRegs });
  }
  return out;
}

/** SETcc, CMOVcc, Jcc (rel8 and rel32) on random flags. */
export function conditions(g: Gen, n: number): Case[] {
  const out: Case[] = [];
  for (let k = 0; k < n; k++) {
    const cc = g.int(16);
    const form = g.int(4);
    let code: Uint8Array;
    if (form === 0)
      code = encode(g, {
        size: 1,
        opcode: [0x0f, 0x90 + cc],
        reg: 0,
        rm: g.rand() < 0.3 ? 'mem' : g.reg(),
        disp: g.int(0x80),
      });
    else if (form === 1)
      code = encode(g, {
        size: g.pick([2, 4, 8]),
        opcode: [0x0f, 0x40 + cc],
        reg: g.reg(),
        rm: g.rand() < 0.3 ? 'mem' : g.reg(),
        disp: g.int(0x78),
      });
    else if (form === 2) code = Uint8Array.from([0x70 + cc, 0x02, 0xb0, 0x01]);
    else code = Uint8Array.from([0x0f, 0x80 + cc, 0x02, 0, 0, 0, 0xb0, 0x01]);
    out.push(base(g, `cond form ${form} cc ${cc}`, code));
  }
  return out;
}

/** MOV family, MOVZX/MOVSX/MOVSXD, LEA with random SIB, moffs, XCHG, CMPXCHG*, XADD. */
export function moves(g: Gen, n: number): Case[] {
  const out: Case[] = [];
  for (let k = 0; k < n; k++) {
    const size = g.pick(SIZES);
    const w = size === 1 ? 0 : 1;
    const mem = g.rand() < 0.35;
    const rm = mem ? 'mem' : g.reg();
    const reg = g.reg();
    const disp = g.int(0x78);
    const form = g.int(13);
    let code: Uint8Array;
    switch (form) {
      case 0:
        code = encode(g, { size, opcode: [0x88 + w + 2 * g.int(2)], reg, rm, disp });
        break;
      case 1:
        code = encode(g, {
          size,
          opcode: [0xc6 + w],
          reg: 0,
          rm,
          disp,
          imm: le(g.value(), size === 1 ? 1 : size === 2 ? 2 : 4),
        });
        break;
      case 2: {
        const { pre, w: rw } = sizePrefix(size);
        const r = g.reg();
        const rex = 0x40 | rw | (r >> 3);
        code = Uint8Array.from([
          ...pre,
          ...(rex !== 0x40 || g.rand() < 0.5 ? [rex] : []),
          (size === 1 ? 0xb0 : 0xb8) + (r & 7),
          ...le(g.value(), size),
        ]);
        break;
      }
      case 3:
        code = encode(g, {
          size: g.pick([2, 4, 8]),
          opcode: [0x0f, g.pick([0xb6, 0xb7, 0xbe, 0xbf])],
          reg,
          rm,
          disp,
        });
        break;
      case 4:
        code = encode(g, { size: 8, opcode: [0x63], reg, rm, disp });
        break;
      case 5: {
        // LEA with a random SIB, base and displacement (and sometimes 67h).
        const s = g.pick([2, 4, 8]);
        const b = g.int(16);
        const x = g.int(16);
        const mod = g.int(3);
        const rex = 0x40 | (s === 8 ? 8 : 0) | ((reg & 8) >> 1) | ((x & 8) >> 2) | ((b & 8) >> 3);
        const d =
          mod === 1
            ? [g.int(256)]
            : mod === 2 || (mod === 0 && (b & 7) === 5)
              ? le(g.u32(), 4)
              : [];
        code = Uint8Array.from([
          ...(g.rand() < 0.2 ? [0x67] : []),
          ...(s === 2 ? [0x66] : []),
          rex,
          0x8d,
          (mod << 6) | ((reg & 7) << 3) | 4,
          (g.int(4) << 6) | ((x & 7) << 3) | (b & 7),
          ...d,
        ]);
        break;
      }
      case 6: {
        // MOV AL/rAX <-> moffs64 inside the buffer.
        const { pre, w: rw } = sizePrefix(size);
        code = Uint8Array.from([
          ...pre,
          ...(rw ? [0x48] : []),
          0xa0 + w + 2 * g.int(2),
          ...le(BUFFER + g.int(0x1f0), 8),
        ]);
        break;
      }
      case 7:
        code = encode(g, { size, opcode: [0x86 + w], reg, rm, disp, lock: mem && g.rand() < 0.5 });
        break;
      case 8: {
        const { pre, w: rw } = sizePrefix(size === 1 ? 4 : size);
        const r = g.reg();
        const rex = 0x40 | rw | (r >> 3);
        code = Uint8Array.from([...pre, ...(rex !== 0x40 ? [rex] : []), 0x90 + (r & 7)]);
        break;
      }
      case 9:
      case 10:
        code = encode(g, {
          size,
          opcode: [0x0f, (form === 9 ? 0xb0 : 0xc0) + w],
          reg,
          rm,
          disp,
          lock: mem && g.rand() < 0.5,
        });
        break;
      case 11:
        code = Uint8Array.from([
          ...(g.rand() < 0.5 ? [0xf0] : []),
          ...(g.rand() < 0.5 ? [0x48] : []),
          0x0f,
          0xc7,
          0x4e,
          0x10 * g.int(8),
        ]);
        break;
      default: {
        const { pre, w: rw } = sizePrefix(size);
        code = Uint8Array.from([...pre, ...(rw ? [0x48] : []), g.pick([0x98, 0x99])]);
      }
    }
    const c = base(g, `move form ${form} size ${size}`, code);
    // CMPXCHG: make the comparison succeed half of the time.
    if ((form === 9 || form === 11) && g.rand() < 0.5) {
      if (form === 9) {
        if (mem) c.regs[0] = BigInt(new DataView(c.buffer.buffer).getBigUint64(0x100 + disp, true));
        else c.regs[0] = c.regs[rm as number]!;
      } else {
        const off = 0x100 + 0x10 * (code[code.length - 1]! >> 4);
        const dv = new DataView(c.buffer.buffer);
        if (code.includes(0x48)) {
          c.regs[0] = dv.getBigUint64(off, true);
          c.regs[2] = dv.getBigUint64(off + 8, true);
        } else {
          c.regs[0] = BigInt(dv.getUint32(off, true)) | (c.regs[0]! & ~0xffffffffn);
          c.regs[2] = BigInt(dv.getUint32(off + 4, true)) | (c.regs[2]! & ~0xffffffffn);
        }
      }
    }
    out.push(c);
  }
  return out;
}

/** MOVS, CMPS, STOS, LODS, SCAS, alone and with REP/REPE/REPNE, both directions. */
export function strings(g: Gen, n: number): Case[] {
  const out: Case[] = [];
  for (let k = 0; k < n; k++) {
    const size = g.pick(SIZES);
    const { pre, w } = sizePrefix(size);
    const op = g.pick([0xa4, 0xa6, 0xaa, 0xac, 0xae]) + (size === 1 ? 0 : 1);
    const rep = g.pick([[], [0xf3], [0xf2]]);
    const code = Uint8Array.from([...rep, ...pre, ...(w ? [0x48] : []), op]);
    const c = base(g, `string ${op.toString(16)} rep ${rep} size ${size}`, code);
    const regs = c.regs;
    regs[1] = BigInt(g.int(14));
    regs[6] = BigInt(BUFFER + 0x80 + g.int(0x40));
    regs[7] = BigInt(BUFFER + 0x100 + g.int(0x40));
    const rflags = g.flags(true);
    // Make CMPS/SCAS runs of equal elements likely.
    if (g.rand() < 0.5)
      c.buffer.copyWithin(
        Number(regs[7]) - BUFFER,
        Number(regs[6]) - BUFFER,
        Number(regs[6]) - BUFFER + 64,
      );
    if (g.rand() < 0.3) regs[0] = BigInt(c.buffer[Number(regs[7]) - BUFFER]!) * 0x0101010101010101n;
    if (rflags & BigInt(RFLAGS.DF)) {
      regs[6] = regs[6]! + 0x80n;
      regs[7] = regs[7]! + 0x80n;
    }
    out.push({ ...c, rflags });
  }
  return out;
}

/** PUSH/POP (reg, r/m, imm), PUSHFQ/POPFQ, ENTER/LEAVE, CALL/RET/JMP (rel, indirect), LOOP, JRCXZ. */
export function stackAndBranches(g: Gen, n: number): Case[] {
  const out: Case[] = [];
  for (let k = 0; k < n; k++) {
    const form = g.int(15);
    const r = g.reg();
    const rex = r >= 8 ? [0x41] : [];
    let code: Uint8Array;
    switch (form) {
      case 0:
        code = Uint8Array.from([
          ...rex,
          0x50 + (r & 7),
          ...(g.rand() < 0.5 ? [0x41, 0x58 + g.int(8)] : []),
        ]);
        break;
      case 1:
        code = Uint8Array.from([...rex, 0x58 + (r & 7)]);
        break;
      case 2:
        code =
          g.rand() < 0.5
            ? Uint8Array.from([0x6a, g.int(256)])
            : Uint8Array.from([0x68, ...le(g.u32(), 4)]);
        break;
      case 3:
        code = Uint8Array.from([0xff, 0x76, g.int(0x78)]); // push qword [rsi+disp8]
        break;
      case 4:
        code = Uint8Array.from([0x8f, 0x46, g.int(0x78)]); // pop qword [rsi+disp8]
        break;
      case 5:
        code = Uint8Array.from([0x9c]);
        break;
      case 6:
        code = Uint8Array.from([0x9d]);
        break;
      case 7:
        code = Uint8Array.from([
          0xc8,
          ...le(g.int(64) * 8, 2),
          g.int(4),
          ...(g.rand() < 0.5 ? [0xc9] : []),
        ]);
        break;
      case 8:
        code = Uint8Array.from([0xe8, 2, 0, 0, 0, 0xeb, 1, 0xc3]); // call; jmp over; ret
        break;
      case 9:
        code = Uint8Array.from([0xff, 0xd0, 0xeb, 1, 0xc3]); // call rax; jmp over; ret
        break;
      case 10:
        code = Uint8Array.from([0xe8, 2, 0, 0, 0, 0xeb, 3, 0xc2, 8, 0]); // call; ret 8
        break;
      case 11:
        code = Uint8Array.from([0xff, 0x26, 0x90]); // jmp [rsi]; nop (skipped)
        break;
      case 12:
        code = Uint8Array.from([g.pick([0xe0, 0xe1, 0xe2]), 0xfe]); // loop* $
        break;
      case 14:
        // mov ecx, n; l: add eax, ecx; dec ecx; jnz l   (a loop that is one block)
        code = Uint8Array.from([0xb9, 1 + g.int(40), 0, 0, 0, 0x01, 0xc8, 0xff, 0xc9, 0x75, 0xfa]);
        break;
      default:
        code = Uint8Array.from([0xe3, 0x02, 0xb0, 0x01]); // jrcxz +2; mov al, 1
    }
    const c = base(g, `stack form ${form}`, code);
    if (form === 6) {
      // POPFQ: random flags except TF (would trap) and AC (alignment checks in user mode).
      const v = (g.u32() & ~(RFLAGS.TF | RFLAGS.AC)) >>> 0;
      new DataView(c.buffer.buffer).setUint32(0x1c0, v, true);
    }
    if (form === 7) c.regs[5] = BigInt(BUFFER + 0x100 + 8 * g.int(16));
    if (form === 9) c.regs[0] = BigInt(CODE + 4);
    if (form === 11) new DataView(c.buffer.buffer).setBigUint64(0x100, BigInt(CODE + 3), true);
    if (form === 12) c.regs[1] = BigInt(1 + g.int(40));
    if (form === 13) c.regs[1] = g.rand() < 0.5 ? 0n : c.regs[1]!;
    out.push(c);
  }
  return out;
}

/** CBW..CQO, BSWAP, LAHF/SAHF, CLC/STC/CMC/CLD/STD, NOPs. */
export function misc(g: Gen, n: number): Case[] {
  const out: Case[] = [];
  for (let k = 0; k < n; k++) {
    const r = g.reg();
    const form = g.int(6);
    let code: Uint8Array;
    if (form === 0)
      code = Uint8Array.from([0x40 | (g.rand() < 0.5 ? 8 : 0) | (r >> 3), 0x0f, 0xc8 + (r & 7)]);
    else if (form === 1) code = Uint8Array.from([g.pick([0x9e, 0x9f])]);
    else if (form === 2) code = Uint8Array.from([g.pick([0xf5, 0xf8, 0xf9, 0xfc, 0xfd]), 0xfc]);
    else if (form === 3)
      code = Uint8Array.from([0x0f, 0x1f, 0x44, 0x00, 0x00, 0x90, 0xf3, 0x90, 0x0f, 0xae, 0xf0]);
    else if (form === 4)
      code = Uint8Array.from([0xf3, 0x0f, 0x1e, 0xfa, 0x0f, 0xae, 0xe8, 0x0f, 0xae, 0xf8]);
    else code = Uint8Array.from([0x66, 0x98, 0x66, 0x99, 0x98, 0x99]);
    out.push(base(g, `misc form ${form}`, code));
  }
  return out;
}

/**
 * Memory operands through every addressing form: base + index * scale + disp8/disp32 with
 * random registers (REX.X/REX.B included), no-base SIB, RIP-relative, and 67h (32-bit)
 * addresses, on loads, stores and read-modify-write. Also the faults that addressing can
 * raise: non-canonical addresses (#GP, or #SS through RSP/RBP) and a misaligned CMPXCHG16B.
 */
export function addressing(g: Gen, n: number): Case[] {
  const out: Case[] = [];
  for (let k = 0; k < n; k++) {
    const size = g.pick(SIZES);
    const w = size === 1 ? 0 : 1;
    const op = g.pick([0x88 + w, 0x8a + w, 0x00 + w, 0x02 + w, 0x30 + w, 0x38 + w, 0x84 + w]);
    const reg = g.reg();
    const form = g.int(6);
    const regs = g.regs();
    const target = BigInt(BUFFER + 0x40 + g.int(0x180));
    let modrmSib: number[];
    let rexXB = 0;
    let p67: number[] = [];
    if (form <= 2) {
      // base + index * scale + disp
      const b = g.reg([reg]);
      let x = g.reg([reg, b]);
      if (x === 4) x = 5;
      const scale = g.int(4);
      const mod = form === 0 ? 0 : form === 1 ? 1 : 2;
      const baseLow = b & 7;
      const dispBytes = mod === 1 ? 1 : mod === 2 || baseLow === 5 ? 4 : 0;
      const dmod = mod === 0 && baseLow === 5 ? 1 : mod;
      const disp = dispBytes === 1 ? g.int(256) - 128 : dispBytes === 4 ? g.int(4096) - 2048 : 0;
      const idx = BigInt.asUintN(64, BigInt(g.int(64) - 32));
      regs[x] = idx;
      regs[b] = BigInt.asUintN(64, target - (idx << BigInt(scale)) - BigInt(disp));
      rexXB = ((x & 8) >> 2) | ((b & 8) >> 3);
      modrmSib = [
        (dmod << 6) | ((reg & 7) << 3) | 4,
        (scale << 6) | ((x & 7) << 3) | baseLow,
        ...(dmod === 1 ? [disp & 0xff] : dmod === 2 ? le(disp, 4) : []),
      ];
      // [rbp/r13 + index*scale] has no mod-0 form: it is encoded as mod 1 with disp8 = 0.
      if (dmod === 1 && dispBytes === 4) {
        modrmSib[2] = 0;
        regs[b] = BigInt.asUintN(64, target - (idx << BigInt(scale)));
      }
    } else if (form === 3) {
      // no base: [index * scale + disp32]
      let x = g.reg([reg]);
      if (x === 4) x = 5;
      const scale = g.int(4);
      const idx = BigInt(g.int(256));
      regs[x] = idx;
      const disp = Number(target - (idx << BigInt(scale)));
      rexXB = (x & 8) >> 2;
      modrmSib = [((reg & 7) << 3) | 4, (scale << 6) | ((x & 7) << 3) | 5, ...le(disp, 4)];
    } else if (form === 4) {
      // RIP-relative: the buffer lies 0x1000 below the code.
      const prefixLen = (size === 2 ? 1 : 0) + 1;
      const insLen = prefixLen + 1 + 1 + 4;
      const disp = Number(target) - (CODE + insLen);
      modrmSib = [((reg & 7) << 3) | 5, ...le(disp, 4)];
    } else {
      // 67h: a 32-bit address from 32-bit registers (the upper halves are ignored).
      const b = g.reg([reg]);
      const disp = g.int(256) - 128;
      regs[b] = (BigInt(g.u32()) << 32n) | ((target - BigInt(disp)) & 0xffffffffn);
      rexXB = (b & 8) >> 3;
      const baseLow = b & 7;
      p67 = [0x67];
      modrmSib =
        baseLow === 4
          ? [0x40 | ((reg & 7) << 3) | 4, 0x24, disp & 0xff]
          : [0x40 | ((reg & 7) << 3) | baseLow, disp & 0xff];
    }
    const rex = 0x40 | (size === 8 ? 8 : 0) | ((reg & 8) >> 1) | rexXB;
    const code = Uint8Array.from([...p67, ...(size === 2 ? [0x66] : []), rex, op, ...modrmSib]);
    const c = base(g, `addressing form ${form} op ${op.toString(16)} size ${size}`, code);
    for (let r = 0; r < 16; r++) c.regs[r] = regs[r]!;
    out.push(c);
  }
  // Faults: non-canonical addresses and a misaligned CMPXCHG16B.
  for (let k = 0; k < n / 20; k++) {
    const viaStack = g.rand() < 0.3;
    const code = viaStack
      ? Uint8Array.from([0x48, 0x8b, 0x45, 0x00]) // mov rax, [rbp]
      : g.rand() < 0.5
        ? Uint8Array.from([0x48, 0x8b, 0x03]) // mov rax, [rbx]
        : Uint8Array.from([0xf0, 0x48, 0x0f, 0xc7, 0x0e]); // lock cmpxchg16b [rsi]
    const c = base(g, `fault ${Buffer.from(code).toString('hex')}`, code);
    const bad = g.pick([0x8000_0000_0000n, 0xffff_7fff_ffff_fff0n, 0x1234_5678_9abc_def0n]);
    c.regs[5] = bad;
    c.regs[3] = bad;
    c.regs[6] = BigInt(BUFFER + 0x108);
    out.push(c);
  }
  return out;
}

/**
 * Straight-line sequences of 2-12 instructions (register ALU ops including ADC/SBB, MOV,
 * NEG/NOT/INC/DEC, shifts by 1, TEST/CMP, SETcc/CMOVcc, loads and stores, and Jcc
 * skipping the next instruction), so that flags flow between instructions inside one block:
 * the case for the block compiler's inline code and its dead-flag elimination.
 */
export function sequences(g: Gen, n: number): Case[] {
  const out: Case[] = [];
  const pickReg = (): number => g.reg([RSI]);
  const element = (): number[] => {
    const size = g.pick([4, 8]);
    const w = size === 8 ? 8 : 0;
    const a = pickReg();
    const b = pickReg();
    const rex = (r: number, m: number): number => 0x40 | w | ((r & 8) >> 1) | ((m & 8) >> 3);
    const modrm = (r: number, m: number): number => 0xc0 | ((r & 7) << 3) | (m & 7);
    switch (g.int(13)) {
      case 12:
        // A shift by any constant whose flags the next instruction (CMP/TEST/XOR...)
        // overwrites: OF, undefined for counts above 1, is never read.
        return [
          rex(0, a),
          0xc1,
          modrm(g.pick([4, 5, 7]), a),
          g.int(64),
          rex(b, a),
          g.pick([0x39, 0x85, 0x31, 0x29, 0x01]),
          modrm(b, a),
        ];
      case 0:
      case 1:
        return [rex(b, a), g.int(8) * 8 + 1, modrm(b, a)];
      case 2:
        return [rex(0, a), 0x83, modrm(g.int(8), a), g.int(256)];
      case 3:
        return g.rand() < 0.5
          ? [rex(b, a), 0x89, modrm(b, a)]
          : [rex(0, a), 0xb8 + (a & 7), ...le(g.value(), size === 8 ? 8 : 4)];
      case 4:
        return g.rand() < 0.5
          ? [rex(0, a), 0xf7, modrm(2 + g.int(2), a)]
          : [rex(0, a), 0xff, modrm(g.int(2), a)];
      case 5:
        // Shifts by 1 only: larger counts leave OF undefined, and later instructions read it.
        return g.rand() < 0.5
          ? [rex(0, a), 0xc1, modrm(g.pick([0, 1, 4, 5, 7]), a), 1]
          : [rex(0, a), 0xd1, modrm(g.pick([0, 1, 4, 5, 7]), a)];
      case 6:
        return [rex(b, a), 0x85, modrm(b, a)];
      case 7:
        return [0x40 | ((a & 8) >> 3), 0x0f, 0x90 + g.int(16), modrm(0, a)];
      case 8:
        return [rex(b, a), 0x0f, 0x40 + g.int(16), modrm(b, a)];
      case 9:
        // mov r, [rsi+disp8] / mov [rsi+disp8], r
        return [
          0x40 | w | ((a & 8) >> 1),
          g.pick([0x8b, 0x89]),
          0x46 | ((a & 7) << 3),
          g.int(0x78),
        ];
      case 10:
        return [rex(b, a), 0x39, modrm(b, a)];
      default:
        return [rex(b, a), g.pick([0x11, 0x19]), modrm(b, a)];
    }
  };
  for (let k = 0; k < n; k++) {
    const bytes: number[] = [];
    const count = 2 + g.int(11);
    for (let i = 0; i < count; i++) {
      if (g.rand() < 0.15) {
        const skipped = element();
        bytes.push(0x70 + g.int(16), skipped.length, ...skipped);
      } else {
        bytes.push(...element());
      }
    }
    // Only AF can be undefined here (logic ops, shifts), and nothing in the pool reads it.
    out.push(
      base(g, `sequence of ${count}`, Uint8Array.from(bytes), { undefinedFlags: RFLAGS.AF }),
    );
  }
  return out;
}

/**
 * System instructions at CPL 3, where the host (a Linux process) can check them: the
 * privileged ones (MOV CR, RDMSR/WRMSR, SWAPGS, LGDT/LIDT, LTR, INVLPG, INVPCID, CLI/STI with
 * IOPL 0, HLT, SYSRETQ) must raise #GP, and RDTSC/RDTSCP/CPUID must run, leaving every
 * register but their outputs (whose values differ by design) unchanged.
 */
export function system(g: Gen, n: number): Case[] {
  const privileged: number[][] = [
    [0x0f, 0x20, 0xc0], // mov rax, cr0
    [0x0f, 0x20, 0xd8], // mov rax, cr3
    [0x44, 0x0f, 0x20, 0xc0], // mov rax, cr8
    [0x0f, 0x22, 0xe0], // mov cr4, rax
    [0x0f, 0x22, 0xd0], // mov cr2, rax
    [0x0f, 0x32], // rdmsr
    [0x0f, 0x30], // wrmsr
    [0x0f, 0x01, 0xf8], // swapgs
    [0x0f, 0x01, 0x16], // lgdt [rsi]
    [0x0f, 0x01, 0x1e], // lidt [rsi]
    [0x0f, 0x00, 0xd8], // ltr ax
    [0x0f, 0x01, 0x3e], // invlpg [rsi]
    [0x66, 0x0f, 0x38, 0x82, 0x06], // invpcid rax, [rsi]
    [0xfa], // cli
    [0xfb], // sti
    [0xf4], // hlt
    [0x48, 0x0f, 0x07], // sysretq
  ];
  const out: Case[] = [];
  for (let k = 0; k < n; k++) {
    const form = g.int(privileged.length + 3);
    if (form < privileged.length) {
      out.push(base(g, `privileged form ${form}`, Uint8Array.from(privileged[form]!)));
    } else if (form === privileged.length) {
      out.push(base(g, 'rdtsc', Uint8Array.of(0x0f, 0x31), { undefinedRegs: [0, 2] }));
    } else if (form === privileged.length + 1) {
      out.push(base(g, 'rdtscp', Uint8Array.of(0x0f, 0x01, 0xf9), { undefinedRegs: [0, 1, 2] }));
    } else {
      out.push(base(g, 'cpuid', Uint8Array.of(0x0f, 0xa2), { undefinedRegs: [0, 1, 2, 3] }));
    }
  }
  return out;
}
