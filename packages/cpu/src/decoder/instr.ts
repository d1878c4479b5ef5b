import type { Cpu } from '../cpu.js';

/** Executes one decoded instruction on a CPU. */
export type Handler = (cpu: Cpu, ins: Instr) => void;

/**
 * How an operand is encoded, as the opcode tables of SDM Vol. 2 Appendix A name them
 * (§A.2.1/§A.2.2): E = ModRM r/m, G = ModRM reg, M = ModRM memory only, I = immediate,
 * J = relative offset, O = moffs, Z = register in the opcode's low 3 bits; the suffix is the
 * size (b byte, w word, d dword, v operand size, z word/dword, q qword). A few fixed
 * registers (AL, rAX, eAX = AX/EAX, CL, DX) and the constant 1 complete the set; C is the
 * control register in ModRM.reg and R a 64-bit register in ModRM.rm whatever ModRM.mod says
 * (MOV to/from CRn); SS is the stack-segment register (MOV SS).
 */
export type OperandSpec =
  | 'Eb'
  | 'Ev'
  | 'Ew'
  | 'Ed'
  | 'Eq'
  | 'Gb'
  | 'Gv'
  | 'Gq'
  | 'M'
  | 'Mq'
  | 'Ib'
  | 'Ibs'
  | 'Iw'
  | 'Iz'
  | 'Iv'
  | 'Jb'
  | 'Jz'
  | 'Ob'
  | 'Ov'
  | 'Zb'
  | 'Zv'
  | 'AL'
  | 'rAX'
  | 'CL'
  | 'DX'
  | 'eAX'
  | 'one'
  | 'Cq'
  | 'Rq'
  | 'SS';

/** Which repeat prefix governs an instruction (SDM Vol. 2 §2.1.1, group 1). */
export const Rep = {
  /** No repeat prefix. */
  NONE: 0,
  /** F3h: REP, or REPE/REPZ on CMPS/SCAS. */
  REPE: 1,
  /** F2h: REPNE/REPNZ. */
  REPNE: 2,
} as const;

/** Segment override that matters in 64-bit mode (SDM Vol. 1 §3.3.7.1): only FS and GS. */
export const Seg = {
  /** No override (or an ignored ES/CS/SS/DS one): base 0. */
  NONE: 0,
  /** 64h: FS base. */
  FS: 4,
  /** 65h: GS base. */
  GS: 5,
} as const;

/** Base register value meaning "RIP-relative" (SDM Vol. 2 §2.2.1.6). */
export const RIP_BASE = 16;

/**
 * One decoded instruction. Register numbers are 0..15 with REX extensions applied;
 * `base`/`index` are -1 when absent and `base` is {@link RIP_BASE} for RIP-relative.
 */
export interface Instr {
  /** The handler that executes it. */
  exec: Handler;
  /** The mnemonic, spelled as iced-x86's `Mnemonic` enum names it (e.g. `Add`, `Cmovne`). */
  mnemonic: string;
  /** The operands as encoded, for disassembly and the decoder oracle test. */
  operands: readonly OperandSpec[];
  /** Length in bytes, prefixes included (at most 15). */
  length: number;
  /** Operand size in bytes. */
  osize: 1 | 2 | 4 | 8;
  /** Address size in bytes (8, or 4 with a 67h prefix). */
  asize: 4 | 8;
  /** ModRM.mod (3 means the r/m operand is a register). */
  mod: number;
  /** ModRM.reg extended by REX.R (or the register in the opcode's low bits, extended by REX.B). */
  reg: number;
  /** ModRM.rm extended by REX.B when mod is 3. */
  rm: number;
  /** Memory base register, -1 for none, {@link RIP_BASE} for RIP-relative. */
  base: number;
  /** Memory index register, -1 for none. */
  index: number;
  /** log2 of the SIB scale. */
  scale: number;
  /** Sign-extended displacement. */
  disp: number;
  /** Segment override ({@link Seg}). */
  seg: number;
  /** Immediate, low 32 bits as an unsigned number (sign-extended forms already extended). */
  imm: number;
  /** Immediate, high 32 bits (64-bit immediates and sign-extended immediates). */
  immHi: number;
  /** Second immediate (ENTER's nesting level). */
  imm2: number;
  /** Repeat prefix ({@link Rep}). */
  rep: number;
  /** Whether a LOCK prefix is present. */
  lock: boolean;
  /** Whether a REX prefix is present (selects SPL..DIL over AH..BH). */
  rex: boolean;
  /** Opcode-encoded sub-operation: condition code for Jcc/SETcc/CMOVcc, group index for groups. */
  sub: number;
}
