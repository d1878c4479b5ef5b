// The one-byte and two-byte (0F) opcode maps of 64-bit mode, SDM Vol. 2 Appendix A
// (Tables, group tables A-6). Only what vmkit executes is listed; every other
// encoding decodes to #UD (never a silent misbehaviour).
import * as alu from '../exec/alu.js';
import * as bit from '../exec/bit.js';
import * as cond from '../exec/cond.js';
import * as control from '../exec/control.js';
import * as convert from '../exec/convert.js';
import * as cpuidOps from '../exec/cpuid.js';
import * as flagOps from '../exec/flag-ops.js';
import * as interrupt from '../exec/interrupt.js';
import * as io from '../exec/io.js';
import * as misc from '../exec/misc.js';
import * as mov from '../exec/mov.js';
import * as msr from '../exec/msr.js';
import * as muldiv from '../exec/muldiv.js';
import * as shift from '../exec/shift.js';
import * as stack from '../exec/stack.js';
import * as str from '../exec/string.js';
import * as syscall from '../exec/syscall.js';
import * as system from '../exec/system.js';
import * as xchg from '../exec/xchg.js';
import type { Handler, OperandSpec } from './instr.js';

/**
 * Operand-size attribute of an opcode (SDM Vol. 2 §2.2.1.2 and Table 2-4 "REX.W").
 * - `b`: byte.
 * - `v`: 32 bits, 64 with REX.W, 16 with 66h (REX.W wins).
 * - `d64`: near branches and stack operations default to 64 bits in 64-bit mode
 *   (SDM Vol. 1 §3.6.1 Table 3-4 note); vmkit does not implement their 16-bit forms (66h),
 *   which decode to #UD.
 * - `f64`: near branches, whose operand size is forced to 64 bits in 64-bit mode; a 66h
 *   prefix is ignored (SDM Vol. 2 JMP/CALL/RET/Jcc, "In 64-bit mode, the operand size is
 *   fixed at 64 bits"; Intel behaviour, which vmkit models).
 * - `w`: 16 bits regardless of prefixes.
 * - `z`: 32 bits, 16 with 66h unless REX.W (which selects 32 here, there being no 64-bit
 *   form: IN/OUT).
 */
export type SizeAttr = 'b' | 'v' | 'd64' | 'f64' | 'w' | 'z';

/** One decodable instruction form. */
export interface OpEntry {
  /** Mnemonic as iced-x86 names it. */
  readonly mn: string;
  /** Operands as encoded. */
  readonly ops: readonly OperandSpec[];
  /** The handler. */
  readonly exec: Handler;
  /** Operand-size attribute. */
  readonly size: SizeAttr;
  /** Sub-operation passed to the handler. */
  readonly sub: number;
  /** LOCK is allowed with a memory destination (SDM Vol. 2 LOCK page). */
  readonly lockable: boolean;
  /** A 16-bit operand size makes the form #UD (vmkit does not implement that variant). */
  readonly no66: boolean;
  /** A 67h prefix makes the form #UD (vmkit does not implement its 32-bit-address variant). */
  readonly no67: boolean;
  /** ModRM.mod must be 3 (`reg`) or must not be 3 (`mem`); otherwise #UD. */
  readonly modrm: 'any' | 'reg' | 'mem' | 'none';
}

/** A slot of an opcode map: one form, a ModRM.reg group, or a rule that picks by prefix. */
export type Slot =
  | OpEntry
  | { readonly group: readonly (OpEntry | undefined)[] }
  | { readonly pick: (ctx: PickContext) => OpEntry | undefined; readonly needsModrm: boolean };

/** What a prefix- or ModRM-dependent slot looks at. */
export interface PickContext {
  /** Last of F2h/F3h seen (0xf2, 0xf3) or 0. */
  readonly repPrefix: number;
  /** Whether 66h is present. */
  readonly opsizePrefix: boolean;
  /** REX.W. */
  readonly rexW: boolean;
  /** REX.B. */
  readonly rexB: boolean;
  /** REX.R. */
  readonly rexR: boolean;
  /** The ModRM byte (fetched by the decoder for slots that need it). */
  readonly modrm: number;
}

const MODRM_OPS = new Set<OperandSpec>(['Eb', 'Ev', 'Ew', 'Ed', 'Eq', 'Gb', 'Gv', 'Gq', 'M', 'Mq']);

/** Every mnemonic that some form in the tables implements. */
export const MNEMONICS = new Set<string>();

function e(
  mn: string,
  ops: readonly OperandSpec[],
  exec: Handler,
  size: SizeAttr,
  sub = 0,
  extra: { lockable?: boolean; modrm?: 'reg' | 'mem'; no66?: boolean; no67?: boolean } = {},
): OpEntry {
  const usesModrm = ops.some((o) => MODRM_OPS.has(o));
  MNEMONICS.add(mn);
  return {
    mn,
    ops,
    exec,
    size,
    sub,
    lockable: extra.lockable ?? false,
    no66: extra.no66 ?? false,
    no67: extra.no67 ?? false,
    modrm: usesModrm
      ? (extra.modrm ?? (ops.includes('M') || ops.includes('Mq') ? 'mem' : 'any'))
      : 'none',
  };
}

const pick = (fn: (ctx: PickContext) => OpEntry | undefined): Slot => ({
  pick: fn,
  needsModrm: false,
});
const pickModrm = (fn: (ctx: PickContext) => OpEntry | undefined): Slot => ({
  pick: fn,
  needsModrm: true,
});

const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

/** The one-byte opcode map (SDM Vol. 2 Table A-2), 64-bit mode. */
export const ONE_BYTE: (Slot | undefined)[] = new Array(256).fill(undefined);
/** The two-byte opcode map after 0Fh (SDM Vol. 2 Table A-3), 64-bit mode. */
export const TWO_BYTE: (Slot | undefined)[] = new Array(256).fill(undefined);
/** The three-byte opcode map after 0F 38h (SDM Vol. 2 Table A-4), 64-bit mode. */
export const MAP_0F38: (Slot | undefined)[] = new Array(256).fill(undefined);

// ALU ops 00h..3Fh: ADD OR ADC SBB AND SUB XOR CMP (Table A-2 rows 0-3).
const ALU = ['Add', 'Or', 'Adc', 'Sbb', 'And', 'Sub', 'Xor', 'Cmp'];
for (let op = 0; op < 8; op++) {
  const lk = { lockable: op !== 7 };
  const b = op * 8;
  ONE_BYTE[b] = e(ALU[op]!, ['Eb', 'Gb'], alu.aluRmReg, 'b', op, lk);
  ONE_BYTE[b + 1] = e(ALU[op]!, ['Ev', 'Gv'], alu.aluRmReg, 'v', op, lk);
  ONE_BYTE[b + 2] = e(ALU[op]!, ['Gb', 'Eb'], alu.aluRegRm, 'b', op);
  ONE_BYTE[b + 3] = e(ALU[op]!, ['Gv', 'Ev'], alu.aluRegRm, 'v', op);
  ONE_BYTE[b + 4] = e(ALU[op]!, ['AL', 'Ib'], alu.aluAccImm, 'b', op);
  ONE_BYTE[b + 5] = e(ALU[op]!, ['rAX', 'Iz'], alu.aluAccImm, 'v', op);
}
const grp1 = (ops: readonly OperandSpec[], size: SizeAttr) =>
  ALU.map((mn, op) => e(mn, ops, alu.aluRmImm, size, op, { lockable: op !== 7 }));
ONE_BYTE[0x80] = { group: grp1(['Eb', 'Ib'], 'b') };
ONE_BYTE[0x81] = { group: grp1(['Ev', 'Iz'], 'v') };
ONE_BYTE[0x83] = { group: grp1(['Ev', 'Ibs'], 'v') };

for (let r = 0; r < 8; r++) {
  ONE_BYTE[0x50 + r] = e('Push', ['Zv'], stack.pushReg, 'd64');
  ONE_BYTE[0x58 + r] = e('Pop', ['Zv'], stack.popReg, 'd64');
  ONE_BYTE[0xb0 + r] = e('Mov', ['Zb', 'Ib'], mov.movRegImm, 'b');
  ONE_BYTE[0xb8 + r] = e('Mov', ['Zv', 'Iv'], mov.movRegImm, 'v');
  if (r > 0) ONE_BYTE[0x90 + r] = e('Xchg', ['Zv', 'rAX'], xchg.xchgAcc, 'v');
  TWO_BYTE[0xc8 + r] = e('Bswap', ['Zv'], convert.bswap, 'v', 0, { no66: true });
}
// 90h is NOP, except that REX.B makes it XCHG r8, rAX and F3h makes it PAUSE (SDM Vol. 2
// NOP, XCHG and PAUSE pages).
const NOP_90 = e('Nop', [], misc.nop, 'v');
const PAUSE_90 = e('Pause', [], misc.pause, 'v');
const XCHG_90 = e('Xchg', ['Zv', 'rAX'], xchg.xchgAcc, 'v');
ONE_BYTE[0x90] = pick((c) => (c.repPrefix === 0xf3 ? PAUSE_90 : c.rexB ? XCHG_90 : NOP_90));

ONE_BYTE[0x63] = pick((c) => (c.rexW ? MOVSXD : undefined));
const MOVSXD = e('Movsxd', ['Gv', 'Ed'], mov.movsxd, 'v');
ONE_BYTE[0x68] = e('Push', ['Iz'], stack.pushImm, 'd64');
ONE_BYTE[0x69] = e('Imul', ['Gv', 'Ev', 'Iz'], muldiv.imul3, 'v');
ONE_BYTE[0x6a] = e('Push', ['Ibs'], stack.pushImm, 'd64');
ONE_BYTE[0x6b] = e('Imul', ['Gv', 'Ev', 'Ibs'], muldiv.imul3, 'v');
for (let c = 0; c < 16; c++) {
  ONE_BYTE[0x70 + c] = e(`J${CC[c]}`, ['Jb'], cond.jcc, 'f64', c);
  TWO_BYTE[0x80 + c] = e(`J${CC[c]}`, ['Jz'], cond.jcc, 'f64', c);
  TWO_BYTE[0x40 + c] = e(`Cmov${CC[c]}`, ['Gv', 'Ev'], cond.cmovcc, 'v', c);
  TWO_BYTE[0x90 + c] = e(`Set${CC[c]}`, ['Eb'], cond.setcc, 'b', c);
}
ONE_BYTE[0x84] = e('Test', ['Eb', 'Gb'], alu.testRmReg, 'b');
ONE_BYTE[0x85] = e('Test', ['Ev', 'Gv'], alu.testRmReg, 'v');
ONE_BYTE[0x86] = e('Xchg', ['Eb', 'Gb'], xchg.xchgRmReg, 'b', 0, { lockable: true });
ONE_BYTE[0x87] = e('Xchg', ['Ev', 'Gv'], xchg.xchgRmReg, 'v', 0, { lockable: true });
ONE_BYTE[0x88] = e('Mov', ['Eb', 'Gb'], mov.movRmReg, 'b');
ONE_BYTE[0x89] = e('Mov', ['Ev', 'Gv'], mov.movRmReg, 'v');
ONE_BYTE[0x8a] = e('Mov', ['Gb', 'Eb'], mov.movRegRm, 'b');
ONE_BYTE[0x8b] = e('Mov', ['Gv', 'Ev'], mov.movRegRm, 'v');
ONE_BYTE[0x8d] = e('Lea', ['Gv', 'M'], mov.lea, 'v');
ONE_BYTE[0x8f] = { group: [e('Pop', ['Ev'], stack.popRm, 'd64')] };
ONE_BYTE[0x98] = pick((c) => (c.rexW ? CDQE : c.opsizePrefix ? CBW : CWDE));
const CBW = e('Cbw', [], convert.cbw, 'v');
const CWDE = e('Cwde', [], convert.cbw, 'v');
const CDQE = e('Cdqe', [], convert.cbw, 'v');
ONE_BYTE[0x99] = pick((c) => (c.rexW ? CQO : c.opsizePrefix ? CWD : CDQ));
const CWD = e('Cwd', [], convert.cwd, 'v');
const CDQ = e('Cdq', [], convert.cwd, 'v');
const CQO = e('Cqo', [], convert.cwd, 'v');
ONE_BYTE[0x9c] = e('Pushfq', [], stack.pushf, 'd64');
ONE_BYTE[0x9d] = e('Popfq', [], stack.popf, 'd64');
ONE_BYTE[0x9e] = e('Sahf', [], flagOps.sahf, 'b');
ONE_BYTE[0x9f] = e('Lahf', [], flagOps.lahf, 'b');
ONE_BYTE[0xa0] = e('Mov', ['AL', 'Ob'], mov.movAccMoffs, 'b');
ONE_BYTE[0xa1] = e('Mov', ['rAX', 'Ov'], mov.movAccMoffs, 'v');
ONE_BYTE[0xa2] = e('Mov', ['Ob', 'AL'], mov.movMoffsAcc, 'b');
ONE_BYTE[0xa3] = e('Mov', ['Ov', 'rAX'], mov.movMoffsAcc, 'v');
// String instructions (SDM Vol. 2 MOVS/CMPS/STOS/LODS/SCAS pages); the mnemonic carries the
// element size as iced names them.
const STRING_V = new Map<string, OpEntry>();
const strOps: [number, string, Handler][] = [
  [0xa4, 'Movs', str.movs],
  [0xa6, 'Cmps', str.cmps],
  [0xaa, 'Stos', str.stos],
  [0xac, 'Lods', str.lods],
  [0xae, 'Scas', str.scas],
];
for (const [op, name, h] of strOps) {
  ONE_BYTE[op] = e(`${name}b`, [], h, 'b', 0, { no67: true });
  ONE_BYTE[op + 1] = pick((c) =>
    STRING_V.get(`${name}${c.rexW ? 'q' : c.opsizePrefix ? 'w' : 'd'}`),
  );
  for (const s of ['w', 'd', 'q'])
    STRING_V.set(`${name}${s}`, e(`${name}${s}`, [], h, 'v', 0, { no67: true }));
}
ONE_BYTE[0xa8] = e('Test', ['AL', 'Ib'], alu.testAccImm, 'b');
ONE_BYTE[0xa9] = e('Test', ['rAX', 'Iz'], alu.testAccImm, 'v');

const SHIFT = ['Rol', 'Ror', 'Rcl', 'Rcr', 'Shl', 'Shr', 'Sal', 'Sar'];
const grp2 = (ops: readonly OperandSpec[], size: SizeAttr) =>
  SHIFT.map((mn, op) => e(mn, ops, shift.shiftGroup, size, op));
ONE_BYTE[0xc0] = { group: grp2(['Eb', 'Ib'], 'b') };
ONE_BYTE[0xc1] = { group: grp2(['Ev', 'Ib'], 'v') };
ONE_BYTE[0xd0] = { group: grp2(['Eb', 'one'], 'b') };
ONE_BYTE[0xd1] = { group: grp2(['Ev', 'one'], 'v') };
ONE_BYTE[0xd2] = { group: grp2(['Eb', 'CL'], 'b') };
ONE_BYTE[0xd3] = { group: grp2(['Ev', 'CL'], 'v') };
ONE_BYTE[0xc2] = e('Ret', ['Iw'], control.retImm, 'f64');
ONE_BYTE[0xc3] = e('Ret', [], control.ret, 'f64');
ONE_BYTE[0xc6] = { group: [e('Mov', ['Eb', 'Ib'], mov.movRmImm, 'b')] };
ONE_BYTE[0xc7] = { group: [e('Mov', ['Ev', 'Iz'], mov.movRmImm, 'v')] };
ONE_BYTE[0xc8] = e('Enter', ['Iw', 'Ib'], stack.enter, 'd64');
ONE_BYTE[0xc9] = e('Leave', [], stack.leave, 'd64');
const no67 = { no67: true };
ONE_BYTE[0xe0] = e('Loopne', ['Jb'], control.loop, 'f64', 0, no67);
ONE_BYTE[0xe1] = e('Loope', ['Jb'], control.loop, 'f64', 1, no67);
ONE_BYTE[0xe2] = e('Loop', ['Jb'], control.loop, 'f64', 2, no67);
ONE_BYTE[0xe3] = e('Jrcxz', ['Jb'], control.jrcxz, 'f64', 0, no67);
ONE_BYTE[0xe8] = e('Call', ['Jz'], control.callRel, 'f64');
ONE_BYTE[0xe9] = e('Jmp', ['Jz'], control.jmpRel, 'f64');
ONE_BYTE[0xeb] = e('Jmp', ['Jb'], control.jmpRel, 'f64');
ONE_BYTE[0xe4] = e('In', ['AL', 'Ib'], io.inPort, 'b');
ONE_BYTE[0xe5] = e('In', ['eAX', 'Ib'], io.inPort, 'z');
ONE_BYTE[0xe6] = e('Out', ['Ib', 'AL'], io.outPort, 'b');
ONE_BYTE[0xe7] = e('Out', ['Ib', 'eAX'], io.outPort, 'z');
ONE_BYTE[0xec] = e('In', ['AL', 'DX'], io.inPort, 'b');
ONE_BYTE[0xed] = e('In', ['eAX', 'DX'], io.inPort, 'z');
ONE_BYTE[0xee] = e('Out', ['DX', 'AL'], io.outPort, 'b');
ONE_BYTE[0xef] = e('Out', ['DX', 'eAX'], io.outPort, 'z');
// INS and OUTS (SDM Vol. 2 INS, OUTS): port DX, ES:RDI or DS:RSI; 67h selects EDI/ESI/ECX.
ONE_BYTE[0x6c] = e('Insb', [], io.ins, 'b');
const INSW = e('Insw', [], io.ins, 'z');
const INSD = e('Insd', [], io.ins, 'z');
ONE_BYTE[0x6d] = pick((c) => (c.opsizePrefix && !c.rexW ? INSW : INSD));
ONE_BYTE[0x6e] = e('Outsb', [], io.outs, 'b');
const OUTSW = e('Outsw', [], io.outs, 'z');
const OUTSD = e('Outsd', [], io.outs, 'z');
ONE_BYTE[0x6f] = pick((c) => (c.opsizePrefix && !c.rexW ? OUTSW : OUTSD));
ONE_BYTE[0xf4] = e('Hlt', [], misc.hlt, 'v');
// Software interrupts and IRETQ (SDM Vol. 2 INT n/INTO/INT3/INT1 and IRET pages). INTO is
// invalid in 64-bit mode; IRET without REX.W (32- and 16-bit frames) is not implemented.
ONE_BYTE[0xcc] = e('Int3', [], interrupt.int3, 'v');
ONE_BYTE[0xcd] = e('Int', ['Ib'], interrupt.intN, 'v');
const IRETQ = e('Iretq', [], interrupt.iretq, 'v');
ONE_BYTE[0xcf] = pick((c) => (c.rexW ? IRETQ : undefined));
ONE_BYTE[0xfa] = e('Cli', [], interrupt.cli, 'v');
ONE_BYTE[0xfb] = e('Sti', [], interrupt.sti, 'v');
ONE_BYTE[0xf5] = e('Cmc', [], flagOps.cmc, 'v');
// /1 is an alias of TEST /0 (decoded as TEST by Intel and AMD processors and by iced-x86).
const grp3 = (ops: readonly OperandSpec[], size: SizeAttr, imm: OperandSpec) => [
  e('Test', [ops[0]!, imm], alu.testRmImm, size),
  e('Test', [ops[0]!, imm], alu.testRmImm, size),
  e('Not', ops, alu.not, size, 0, { lockable: true }),
  e('Neg', ops, alu.neg, size, 0, { lockable: true }),
  e('Mul', ops, muldiv.mul, size),
  e('Imul', ops, muldiv.imul1, size),
  e('Div', ops, muldiv.div, size),
  e('Idiv', ops, muldiv.idiv, size),
];
ONE_BYTE[0xf6] = { group: grp3(['Eb'], 'b', 'Ib') };
ONE_BYTE[0xf7] = { group: grp3(['Ev'], 'v', 'Iz') };
ONE_BYTE[0xf8] = e('Clc', [], flagOps.clc, 'v');
ONE_BYTE[0xf9] = e('Stc', [], flagOps.stc, 'v');
ONE_BYTE[0xfc] = e('Cld', [], flagOps.cld, 'v');
ONE_BYTE[0xfd] = e('Std', [], flagOps.std, 'v');
ONE_BYTE[0xfe] = {
  group: [
    e('Inc', ['Eb'], alu.incDec, 'b', 0, { lockable: true }),
    e('Dec', ['Eb'], alu.incDec, 'b', 1, { lockable: true }),
  ],
};
ONE_BYTE[0xff] = {
  group: [
    e('Inc', ['Ev'], alu.incDec, 'v', 0, { lockable: true }),
    e('Dec', ['Ev'], alu.incDec, 'v', 1, { lockable: true }),
    e('Call', ['Eq'], control.callRm, 'f64'),
    undefined,
    e('Jmp', ['Eq'], control.jmpRm, 'f64'),
    undefined,
    e('Push', ['Ev'], stack.pushRm, 'd64'),
    undefined,
  ],
};

// Two-byte map.
TWO_BYTE[0x0b] = e('Ud2', [], misc.ud2, 'v');
// 0F 1F /0 is the recommended multi-byte NOP (SDM Vol. 2 NOP, Table 4-12).
TWO_BYTE[0x1f] = { group: [e('Nop', ['Ev'], misc.nop, 'v')] };
// F3 0F 1E FA is ENDBR64 (SDM Vol. 2 ENDBR64); a NOP when CET is off, as here.
TWO_BYTE[0x1e] = pickModrm((c) => (c.repPrefix === 0xf3 && c.modrm === 0xfa ? ENDBR64 : undefined));
const ENDBR64 = e('Endbr64', [], misc.nop, 'v');
TWO_BYTE[0xa3] = e('Bt', ['Ev', 'Gv'], bit.btRmReg, 'v', 0);
TWO_BYTE[0xab] = e('Bts', ['Ev', 'Gv'], bit.btRmReg, 'v', 1, { lockable: true });
TWO_BYTE[0xb3] = e('Btr', ['Ev', 'Gv'], bit.btRmReg, 'v', 2, { lockable: true });
TWO_BYTE[0xbb] = e('Btc', ['Ev', 'Gv'], bit.btRmReg, 'v', 3, { lockable: true });
TWO_BYTE[0xba] = {
  group: [
    undefined,
    undefined,
    undefined,
    undefined,
    e('Bt', ['Ev', 'Ib'], bit.btRmImm, 'v', 0),
    e('Bts', ['Ev', 'Ib'], bit.btRmImm, 'v', 1, { lockable: true }),
    e('Btr', ['Ev', 'Ib'], bit.btRmImm, 'v', 2, { lockable: true }),
    e('Btc', ['Ev', 'Ib'], bit.btRmImm, 'v', 3, { lockable: true }),
  ],
};
TWO_BYTE[0xa4] = e('Shld', ['Ev', 'Gv', 'Ib'], shift.shld, 'v');
TWO_BYTE[0xa5] = e('Shld', ['Ev', 'Gv', 'CL'], shift.shld, 'v');
TWO_BYTE[0xac] = e('Shrd', ['Ev', 'Gv', 'Ib'], shift.shrd, 'v');
TWO_BYTE[0xad] = e('Shrd', ['Ev', 'Gv', 'CL'], shift.shrd, 'v');
// 0F AE /5 /6 /7 with mod = 3: LFENCE, MFENCE, SFENCE (SDM Vol. 2, Table A-6 group 15).
const LFENCE = e('Lfence', [], misc.fence, 'v');
const MFENCE = e('Mfence', [], misc.fence, 'v');
const SFENCE = e('Sfence', [], misc.fence, 'v');
TWO_BYTE[0xae] = pickModrm((c) => {
  if (c.modrm >> 6 !== 3 || c.repPrefix !== 0 || c.opsizePrefix) return undefined;
  const reg = (c.modrm >> 3) & 7;
  return reg === 5 ? LFENCE : reg === 6 ? MFENCE : reg === 7 ? SFENCE : undefined;
});
TWO_BYTE[0xaf] = e('Imul', ['Gv', 'Ev'], muldiv.imul2, 'v');
TWO_BYTE[0xb0] = e('Cmpxchg', ['Eb', 'Gb'], xchg.cmpxchg, 'b', 0, { lockable: true });
TWO_BYTE[0xb1] = e('Cmpxchg', ['Ev', 'Gv'], xchg.cmpxchg, 'v', 0, { lockable: true });
TWO_BYTE[0xb6] = e('Movzx', ['Gv', 'Eb'], mov.movzx, 'v', 1);
TWO_BYTE[0xb7] = e('Movzx', ['Gv', 'Ew'], mov.movzx, 'v', 2);
TWO_BYTE[0xbe] = e('Movsx', ['Gv', 'Eb'], mov.movsx, 'v', 1);
TWO_BYTE[0xbf] = e('Movsx', ['Gv', 'Ew'], mov.movsx, 'v', 2);
// F3-prefixed forms: POPCNT, TZCNT, LZCNT (SDM Vol. 2 pages of each).
const POPCNT = e('Popcnt', ['Gv', 'Ev'], bit.popcnt, 'v');
const TZCNT = e('Tzcnt', ['Gv', 'Ev'], bit.tzcnt, 'v');
const LZCNT = e('Lzcnt', ['Gv', 'Ev'], bit.lzcnt, 'v');
const BSF = e('Bsf', ['Gv', 'Ev'], bit.bsf, 'v');
const BSR = e('Bsr', ['Gv', 'Ev'], bit.bsr, 'v');
TWO_BYTE[0xb8] = pick((c) => (c.repPrefix === 0xf3 ? POPCNT : undefined));
TWO_BYTE[0xbc] = pick((c) => (c.repPrefix === 0xf3 ? TZCNT : BSF));
TWO_BYTE[0xbd] = pick((c) => (c.repPrefix === 0xf3 ? LZCNT : BSR));
TWO_BYTE[0xc0] = e('Xadd', ['Eb', 'Gb'], xchg.xadd, 'b', 0, { lockable: true });
TWO_BYTE[0xc1] = e('Xadd', ['Ev', 'Gv'], xchg.xadd, 'v', 0, { lockable: true });
// 0F C7 /1: CMPXCHG8B, or CMPXCHG16B with REX.W (SDM Vol. 2 CMPXCHG8B/CMPXCHG16B).
const CMPXCHG8B = e('Cmpxchg8b', ['Mq'], xchg.cmpxchg8b, 'v', 0, { lockable: true });
const CMPXCHG16B = e('Cmpxchg16b', ['Mq'], xchg.cmpxchg8b, 'v', 0, { lockable: true });
TWO_BYTE[0xc7] = pickModrm((c) =>
  ((c.modrm >> 3) & 7) === 1 && c.modrm >> 6 !== 3 ? (c.rexW ? CMPXCHG16B : CMPXCHG8B) : undefined,
);

// System instructions (SDM Vol. 2 pages of each; group 6 and group 7 in Table A-6).
const MOV_FROM_CR = e('Mov', ['Rq', 'Cq'], system.movFromCr, 'f64');
const MOV_TO_CR = e('Mov', ['Cq', 'Rq'], system.movToCr, 'f64');
// Only CR0, CR2, CR3, CR4 and CR8 exist; the other encodings are #UD.
const crExists = (c: PickContext): boolean =>
  [0, 2, 3, 4, 8].includes(((c.modrm >> 3) & 7) | (c.rexR ? 8 : 0));
TWO_BYTE[0x20] = pickModrm((c) => (crExists(c) ? MOV_FROM_CR : undefined));
TWO_BYTE[0x22] = pickModrm((c) => (crExists(c) ? MOV_TO_CR : undefined));
TWO_BYTE[0x00] = {
  group: [undefined, undefined, undefined, e('Ltr', ['Ev'], system.ltr, 'v')],
};
const GROUP7_MEM = [
  e('Sgdt', ['M'], system.sgdt, 'f64', 0),
  e('Sidt', ['M'], system.sgdt, 'f64', 1),
  e('Lgdt', ['M'], system.lgdt, 'f64', 0),
  e('Lidt', ['M'], system.lgdt, 'f64', 1),
  undefined,
  undefined,
  undefined,
  e('Invlpg', ['M'], system.invlpg, 'f64'),
];
const SWAPGS = e('Swapgs', [], system.swapgs, 'v');
const RDTSCP = e('Rdtscp', [], cpuidOps.rdtscp, 'v');
const VMCALL = e('Vmcall', [], misc.vmcall, 'v');
TWO_BYTE[0x01] = pickModrm((c) => {
  if (c.modrm >> 6 !== 3) return GROUP7_MEM[(c.modrm >> 3) & 7];
  // VMCALL has no mandatory-prefix forms: 66h, F2h or F3h make the encoding invalid.
  if (c.modrm === 0xc1) return c.opsizePrefix || c.repPrefix !== 0 ? undefined : VMCALL;
  return c.modrm === 0xf8 ? SWAPGS : c.modrm === 0xf9 ? RDTSCP : undefined;
});
TWO_BYTE[0x05] = e('Syscall', [], syscall.syscall, 'v');
const SYSRETQ = e('Sysretq', [], syscall.sysret, 'v');
TWO_BYTE[0x07] = pick((c) => (c.rexW ? SYSRETQ : undefined));
TWO_BYTE[0x30] = e('Wrmsr', [], msr.wrmsr, 'v');
TWO_BYTE[0x31] = e('Rdtsc', [], cpuidOps.rdtsc, 'v');
TWO_BYTE[0x32] = e('Rdmsr', [], msr.rdmsr, 'v');
TWO_BYTE[0xa2] = e('Cpuid', [], cpuidOps.cpuid, 'v');
const INVPCID = e('Invpcid', ['Gq', 'M'], system.invpcid, 'f64');
MAP_0F38[0x82] = pick((c) => (c.opsizePrefix && c.repPrefix === 0 ? INVPCID : undefined));
// 8E /2: MOV SS, r/m16 (the other segment registers are not implemented: #UD).
const MOV_SS = e('Mov', ['SS', 'Ev'], interrupt.movSs, 'v');
ONE_BYTE[0x8e] = pickModrm((c) => (((c.modrm >> 3) & 7) === 2 ? MOV_SS : undefined));
