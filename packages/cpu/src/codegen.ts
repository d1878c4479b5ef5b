// Inline JavaScript for the commonest register-only instructions of compiled code (MOV,
// the ALU group, TEST, INC/DEC on 32/64-bit registers, Jcc), used by the block compiler in
// place of a handler call. Each snippet does exactly what the instruction's handler does: it
// calls the same flag helpers (flags.ts) with the operand size as a constant, so the rules
// stay in one place; none of these forms can fault.
import { addressSource, leaSource } from './codegen-address.js';
import type { Instr } from './decoder/instr.js';
import * as alu from './exec/alu.js';
import * as cond from './exec/cond.js';
import * as control from './exec/control.js';
import * as misc from './exec/misc.js';
import * as mov from './exec/mov.js';
import * as shift from './exec/shift.js';

/** What a snippet may refer to besides `c` (the CPU), `L`/`H` (its register halves). */
export const HELPERS = [
  'ADD64',
  'ADDN',
  'SUB64',
  'SUBN',
  'LOGIC',
  'SHIFT',
  'EA',
  'READ',
  'WRITE',
  'CANON',
] as const;

// A call of the ADD or SUB flag helper for `size`, computing a + b + carry (or a - b - borrow).
function arith(
  fn: 'ADD' | 'SUB',
  size: 4 | 8,
  aLo: string,
  aHi: string,
  bLo: string,
  bHi: string,
  carry: string,
): string {
  return size === 8
    ? `${fn}64(c, ${aLo}, ${aHi}, ${bLo}, ${bHi}, ${carry})`
    : `${fn}N(c, 4, ${aLo}, ${bLo}, ${carry})`;
}

const LIMIT = 2 ** 47;

// Condition codes as expressions over RFLAGS `f` (SDM Vol. 1 Appendix B, Table B-1).
const CONDITION = [
  '(f & 0x800) !== 0',
  '(f & 0x1) !== 0',
  '(f & 0x40) !== 0',
  '(f & 0x41) !== 0',
  '(f & 0x80) !== 0',
  '(f & 0x4) !== 0',
  '(((f >>> 7) ^ (f >>> 11)) & 1) !== 0',
  '((f & 0x40) !== 0 || (((f >>> 7) ^ (f >>> 11)) & 1) !== 0)',
];

/** The JavaScript test for condition code `cc` (0..15) on a local `f`. */
export function conditionSource(cc: number): string {
  const base = CONDITION[cc >> 1]!;
  return (cc & 1) === 0 ? base : `!(${base})`;
}

function aluSource(
  op: number,
  size: 4 | 8,
  d: number,
  bLo: string,
  bHi: string,
): string | undefined {
  const aHi = size === 8 ? `H[${d}]` : '0';
  const writeHi = size === 8 ? `H[${d}] = c.rhi;` : `H[${d}] = 0;`;
  const carry = op === 2 || op === 3 ? '(c.flags & 1)' : '0';
  switch (op) {
    case 0:
    case 2:
      return `{ const r = ${arith('ADD', size, `L[${d}]`, aHi, bLo, bHi, carry)}; ${writeHi} L[${d}] = r; }`;
    case 3:
    case 5:
      return `{ const r = ${arith('SUB', size, `L[${d}]`, aHi, bLo, bHi, carry)}; ${writeHi} L[${d}] = r; }`;
    case 7:
      return `${arith('SUB', size, `L[${d}]`, aHi, bLo, bHi, '0')};`;
    default: {
      const o = op === 1 ? '|' : op === 4 ? '&' : '^';
      const hi = size === 8 ? `(H[${d}] ${o} ${bHi}) >>> 0` : '0';
      return `{ const lo = (L[${d}] ${o} ${bLo}) >>> 0, hi = ${hi}; LOGIC(c, ${size}, lo, hi); L[${d}] = lo; H[${d}] = hi; }`;
    }
  }
}

// A byte register as an expression: AH, CH, DH, BH for 4..7 without REX (SDM Vol. 1 §3.7.2.1).
function byteRegSource(r: number, rex: boolean): string {
  return !rex && r >= 4 && r < 8 ? `((L[${r - 4}] >>> 8) & 0xff)` : `(L[${r}] & 0xff)`;
}

// A statement writing the byte expression `v` (0..255) to a byte register.
function writeByteRegSource(r: number, rex: boolean, v: string): string {
  return !rex && r >= 4 && r < 8
    ? `L[${r - 4}] = ((L[${r - 4}] & 0xffff00ff) | (${v} << 8)) >>> 0;`
    : `L[${r}] = ((L[${r}] & 0xffffff00) | ${v}) >>> 0;`;
}

/**
 * How an inline-able instruction touches the status flags, for dead-flag elimination:
 * `none` (MOV, NOT), `writesAll` (writes CF, PF, AF, ZF, SF and OF without reading any: ADD,
 * SUB, CMP, AND, OR, XOR, TEST, NEG), or `other` (reads some, or writes only some: ADC, SBB,
 * INC, DEC, shifts and rotates; and everything that is not inlined).
 */
export function flagEffect(ins: Instr): 'none' | 'writesAll' | 'other' {
  if (inlineSource(ins) === undefined) return 'other';
  const h = ins.exec;
  if (
    h === mov.movRmReg ||
    h === mov.movRegRm ||
    h === mov.movRegImm ||
    h === mov.lea ||
    h === mov.movzx ||
    h === misc.nop ||
    h === alu.not
  )
    return 'none';
  if (h === alu.aluRmReg || h === alu.aluRegRm || h === alu.aluRmImm || h === alu.aluAccImm) {
    return ins.sub === 2 || ins.sub === 3 ? 'other' : 'writesAll';
  }
  if (h === alu.testRmReg || h === alu.testRmImm || h === alu.testAccImm || h === alu.neg)
    return 'writesAll';
  // SHL/SHR/SAL/SAR by a non-zero constant write all six flags (vmkit gives the undefined ones
  // fixed values) and read none; rotates write only CF and OF.
  if (h === shift.shiftGroup && constantShiftCount(ins) > 0 && ins.sub >= 4) return 'writesAll';
  return 'other';
}

/** The masked count of a shift by 1 or imm8, or -1 for a shift by CL. */
function constantShiftCount(ins: Instr): number {
  const last = ins.operands[ins.operands.length - 1];
  if (last !== 'one' && last !== 'Ib') return -1;
  return (last === 'one' ? 1 : ins.imm) & (ins.osize === 8 ? 63 : 31);
}

// SHL (4, 6), SHR (5) or SAR (7) of register d by the constant n (1..63) without flags.
function shiftResultSource(op: number, size: 4 | 8, d: number, n: number): string {
  if (size === 4) {
    if (op === 5) return `L[${d}] = L[${d}] >>> ${n}; H[${d}] = 0;`;
    if (op === 7) return `L[${d}] = (L[${d}] >> ${n}) >>> 0; H[${d}] = 0;`;
    return `L[${d}] = (L[${d}] << ${n}) >>> 0; H[${d}] = 0;`;
  }
  const pre = `const l = L[${d}], h = H[${d}];`;
  if (op === 5) {
    return n < 32
      ? `{ ${pre} L[${d}] = ((l >>> ${n}) | (h << ${32 - n})) >>> 0; H[${d}] = h >>> ${n}; }`
      : `{ ${pre} L[${d}] = h >>> ${n - 32}; H[${d}] = 0; }`;
  }
  if (op === 7) {
    return n < 32
      ? `{ ${pre} L[${d}] = ((l >>> ${n}) | (h << ${32 - n})) >>> 0; H[${d}] = (h >> ${n}) >>> 0; }`
      : `{ ${pre} L[${d}] = (h >> ${n - 32}) >>> 0; H[${d}] = (h >> 31) >>> 0; }`;
  }
  return n < 32
    ? `{ ${pre} H[${d}] = ((h << ${n}) | (l >>> ${32 - n})) >>> 0; L[${d}] = (l << ${n}) >>> 0; }`
    : `{ ${pre} H[${d}] = (l << ${n - 32}) >>> 0; L[${d}] = 0; }`;
}

// The result of an ALU op without its flags, for when a later instruction overwrites them all
// before anything reads them.
function aluResultSource(op: number, size: 4 | 8, d: number, bLo: string, bHi: string): string {
  if (op === 7) return ';';
  if (op === 0 || op === 5) {
    const s = op === 0 ? '+' : '-';
    if (size === 4) return `L[${d}] = (L[${d}] ${s} ${bLo}) >>> 0; H[${d}] = 0;`;
    const carry = op === 0 ? '(l > 0xffffffff ? 1 : 0)' : '(l < 0 ? 1 : 0)';
    return `{ const l = L[${d}] ${s} ${bLo}; const h = H[${d}] ${s} ${bHi} ${s} ${carry}; L[${d}] = l >>> 0; H[${d}] = h >>> 0; }`;
  }
  const o = op === 1 ? '|' : op === 4 ? '&' : '^';
  const hi = size === 8 ? `(H[${d}] ${o} ${bHi}) >>> 0` : '0';
  return `{ const lo = (L[${d}] ${o} ${bLo}) >>> 0, hi = ${hi}; L[${d}] = lo; H[${d}] = hi; }`;
}

/**
 * Inline source for an instruction of flag effect `writesAll` whose flags are dead: only its
 * result (nothing at all for CMP and TEST).
 */
export function resultOnlySource(ins: Instr): string {
  const size = ins.osize as 4 | 8;
  const h = ins.exec;
  const imm = (): [string, string] => [
    String(ins.imm >>> 0),
    String(size === 8 ? ins.immHi >>> 0 : 0),
  ];
  const reg = (r: number): [string, string] => [`L[${r}]`, size === 8 ? `H[${r}]` : '0'];
  switch (h) {
    case alu.aluRmReg:
      return aluResultSource(ins.sub, size, ins.rm, ...reg(ins.reg));
    case alu.aluRegRm:
      return aluResultSource(ins.sub, size, ins.reg, ...reg(ins.rm));
    case alu.aluRmImm:
      return aluResultSource(ins.sub, size, ins.rm, ...imm());
    case alu.aluAccImm:
      return aluResultSource(ins.sub, size, 0, ...imm());
    case alu.neg: {
      const d = ins.rm;
      if (size === 4) return `L[${d}] = (0 - L[${d}]) >>> 0; H[${d}] = 0;`;
      return `{ const l = 0 - L[${d}]; const h = 0 - H[${d}] - (l < 0 ? 1 : 0); L[${d}] = l >>> 0; H[${d}] = h >>> 0; }`;
    }
    case shift.shiftGroup:
      return shiftResultSource(ins.sub, size, ins.rm, constantShiftCount(ins));
    default:
      return ';'; // TEST
  }
}

/**
 * Inline source for a straight-line (non-branching) instruction, or undefined when the
 * instruction keeps its handler call.
 */
export function inlineSource(ins: Instr): string | undefined {
  const size = ins.osize;
  const h = ins.exec;
  // NOP, multi-byte NOP (0F 1F /0, which accesses no memory) and ENDBR64: nothing at all.
  if (h === misc.nop) return ';';
  // SETcc r8 (SDM Vol. 2 SETcc): the condition of the current flags as 0 or 1.
  if (h === cond.setcc && ins.mod === 3)
    return `{ const f = c.flags; ${writeByteRegSource(ins.rm, ins.rex, `(${conditionSource(ins.sub)} ? 1 : 0)`)} }`;
  if (size !== 4 && size !== 8) return undefined;
  const imm = (): [string, string] => [
    String(ins.imm >>> 0),
    String(size === 8 ? ins.immHi >>> 0 : 0),
  ];
  const reg = (r: number): [string, string] => [`L[${r}]`, size === 8 ? `H[${r}]` : '0'];
  if (h === mov.lea) return leaSource(ins);
  if (ins.mod === 3 || h === mov.movRegImm || h === alu.aluAccImm || h === alu.testAccImm) {
    switch (h) {
      case mov.movRmReg:
        return `L[${ins.rm}] = L[${ins.reg}]; H[${ins.rm}] = ${size === 8 ? `H[${ins.reg}]` : '0'};`;
      case mov.movRegRm:
        return `L[${ins.reg}] = L[${ins.rm}]; H[${ins.reg}] = ${size === 8 ? `H[${ins.rm}]` : '0'};`;
      case mov.movRegImm:
        return `L[${ins.reg}] = ${ins.imm >>> 0}; H[${ins.reg}] = ${size === 8 ? ins.immHi >>> 0 : 0};`;
      case mov.movzx: {
        // The source size is `sub` (1 or 2).
        if (ins.mod !== 3) return undefined;
        const v = ins.sub === 1 ? byteRegSource(ins.rm, ins.rex) : `(L[${ins.rm}] & 0xffff)`;
        return `{ const v = ${v}; H[${ins.reg}] = 0; L[${ins.reg}] = v; }`;
      }
      case alu.aluRmReg:
        return aluSource(ins.sub, size, ins.rm, ...reg(ins.reg));
      case alu.aluRegRm:
        return aluSource(ins.sub, size, ins.reg, ...reg(ins.rm));
      case alu.aluRmImm:
        return aluSource(ins.sub, size, ins.rm, ...imm());
      case alu.aluAccImm:
        return aluSource(ins.sub, size, 0, ...imm());
      case alu.testRmReg:
      case alu.testRmImm:
      case alu.testAccImm: {
        const d = h === alu.testRmReg || h === alu.testRmImm ? ins.rm : 0;
        const [bLo, bHi] = h === alu.testRmReg ? reg(ins.reg) : imm();
        const hi = size === 8 ? `(H[${d}] & ${bHi}) >>> 0` : '0';
        return `LOGIC(c, ${size}, (L[${d}] & ${bLo}) >>> 0, ${hi});`;
      }
      case alu.neg: {
        const d = ins.rm;
        const writeHi = size === 8 ? `H[${d}] = c.rhi;` : `H[${d}] = 0;`;
        return `{ const r = ${arith('SUB', size, '0', '0', `L[${d}]`, size === 8 ? `H[${d}]` : '0', '0')}; ${writeHi} L[${d}] = r; }`;
      }
      case alu.not:
        return `L[${ins.rm}] = ~L[${ins.rm}] >>> 0; H[${ins.rm}] = ${size === 8 ? `~H[${ins.rm}] >>> 0` : '0'};`;
      case shift.shiftGroup: {
        // Constant counts only (1 or imm8), and not RCL/RCR.
        const last = ins.operands[ins.operands.length - 1];
        if ((last !== 'one' && last !== 'Ib') || ins.sub === 2 || ins.sub === 3) return undefined;
        const n = (last === 'one' ? 1 : ins.imm) & (size === 8 ? 63 : 31);
        const d = ins.rm;
        // A zero count changes nothing but still writes a 32-bit register (clearing 63:32).
        if (n === 0) return size === 4 ? `H[${d}] = 0;` : ';';
        const writeHi = size === 8 ? `H[${d}] = c.rhi;` : `H[${d}] = 0;`;
        return `{ const r = SHIFT(c, ${ins.sub}, ${size}, L[${d}], ${size === 8 ? `H[${d}]` : '0'}, ${n}); ${writeHi} L[${d}] = r; }`;
      }
      case alu.incDec: {
        // INC/DEC preserve CF (SDM Vol. 2 INC, DEC).
        const fn: 'ADD' | 'SUB' = ins.sub === 0 ? 'ADD' : 'SUB';
        const d = ins.rm;
        const aHi = size === 8 ? `H[${d}]` : '0';
        const writeHi = size === 8 ? `H[${d}] = c.rhi;` : `H[${d}] = 0;`;
        return `{ const cf = c.flags & 1; const r = ${arith(fn, size, `L[${d}]`, aHi, '1', '0', '0')}; c.flags = (c.flags & ~1) | cf; ${writeHi} L[${d}] = r; }`;
      }
      default:
        return undefined;
    }
  }
  return undefined;
}

/**
 * Inline source for MOV between a 32/64-bit register and memory, which can fault (#GP, #SS,
 * #PF): RIP and the RFLAGS to restore are set first, as for a handler call. `k` names the
 * instruction object (for its addressing fields). Stores report `store` so the block checks
 * for modified code after them.
 */
export function memorySource(
  ins: Instr,
  k: number,
  rip: number,
): { source: string; store: boolean } | undefined {
  const size = ins.osize;
  if (ins.mod === 3) return undefined;
  const h = ins.exec;
  const pre = `c.ripValue = ${rip}; c.committedFlags = c.flags;`;
  const la = addressSource(ins, rip) ?? `EA(c, i${k})`;
  // MOV r/m8, r8: a byte store.
  if (h === mov.movRmReg && size === 1) {
    return {
      source: `${pre} WRITE(c, ${la}, 1, ${byteRegSource(ins.reg, ins.rex)}, 0);`,
      store: true,
    };
  }
  if (size !== 4 && size !== 8) return undefined;
  if (h === mov.movRegRm) {
    const hi = size === 8 ? 'c.xhi' : '0';
    return {
      source: `${pre} { const v = READ(c, ${la}, ${size}); H[${ins.reg}] = ${hi}; L[${ins.reg}] = v; }`,
      store: false,
    };
  }
  if (h === mov.movRmReg) {
    const hi = size === 8 ? `H[${ins.reg}]` : '0';
    return { source: `${pre} WRITE(c, ${la}, ${size}, L[${ins.reg}], ${hi});`, store: true };
  }
  // MOVZX r32/r64, m8/m16 (the source size is `sub`).
  if (h === mov.movzx) {
    return {
      source: `${pre} { const v = READ(c, ${la}, ${ins.sub}); H[${ins.reg}] = 0; L[${ins.reg}] = v; }`,
      store: false,
    };
  }
  // MOV m32/m64, imm32 (sign-extended to 64 bits).
  if (h === mov.movRmImm) {
    const hi = size === 8 ? ins.immHi >>> 0 : 0;
    return { source: `${pre} WRITE(c, ${la}, ${size}, ${ins.imm >>> 0}, ${hi});`, store: true };
  }
  return undefined;
}

/**
 * Inline source for a Jcc or JMP rel ending a block at `rip`: sets RIP to the target (or the
 * next instruction). Undefined when the target is not canonical (the handler raises #GP then).
 * The branch-predictor model learns the outcome of such a Jcc from the run loop, which tells
 * it by where the block left RIP ({@link conditionalExit}); only a Jcc whose target is its
 * next instruction, whose outcome RIP does not show, trains the predictor here.
 */
export function branchSource(ins: Instr, rip: number): string | undefined {
  if (ins.exec !== cond.jcc && ins.exec !== control.jmpRel) return undefined;
  const next = rip + ins.length;
  const target = next + ins.imm;
  if (target >= LIMIT || target < -LIMIT) return undefined;
  if (ins.exec === control.jmpRel) return `c.ripValue = ${target};`;
  if (target !== next) {
    return `{ const f = c.flags; c.ripValue = ${conditionSource(ins.sub)} ? ${target} : ${next}; }`;
  }
  // The outcome also trains the branch-predictor model (it changes no architectural state).
  return `{ const f = c.flags; c.predictor.update(${rip}, ${conditionSource(ins.sub)}); c.ripValue = ${next}; }`;
}

/**
 * The target of the inline Jcc at `rip` that ends a block when the run loop, not the block's
 * code, reports its outcome to the branch predictor (taken exactly when the block leaves RIP
 * at the target): -1 for any other instruction, a Jcc its handler runs (non-canonical
 * target), and a Jcc to its next instruction.
 */
export function conditionalExit(ins: Instr, rip: number): number {
  if (ins.exec !== cond.jcc) return -1;
  const next = rip + ins.length;
  const target = next + ins.imm;
  if (target >= LIMIT || target < -LIMIT || target === next) return -1;
  return target;
}
