// Inline effective-address arithmetic for compiled blocks: the commonest memory operands of
// compiled code (a base register, an optional scaled index and a displacement, 64-bit address
// size, no FS/GS override) as expressions over the register halves `L`/`H`, so that a memory
// MOV or a LEA does not call the general `effectiveAddress` (which reads every addressing
// field of the instruction at run time). The arithmetic is that of exec/operands.ts: sums of
// 32-bit halves, exact in doubles, reduced mod 2^64 at the end (SDM Vol. 1 §3.7.5).

import type { Instr } from './decoder/instr.js';
import { RIP_BASE, Seg } from './decoder/instr.js';
import { canonical, RBP, RSP } from './exec/operands.js';

/** 2^47: the first non-canonical address with 4-level paging (SDM Vol. 1 §3.3.7.1). */
const LIMIT = 2 ** 47;

// The low and high sums of base + index * scale + disp (before carries), or undefined when
// the operand is not of the inline-able kind.
function sums(ins: Instr): [string, string] | undefined {
  if (ins.mod === 3 || ins.asize !== 8 || ins.base === -2 || ins.base === RIP_BASE)
    return undefined;
  const lo: string[] = [String(ins.disp >>> 0)];
  const hi: string[] = [String(ins.disp < 0 ? -1 : 0)];
  if (ins.base >= 0) {
    lo.push(`L[${ins.base}]`);
    hi.push(`H[${ins.base}]`);
  }
  const x = ins.index;
  if (x >= 0) {
    const s = ins.scale;
    if (s === 0) {
      lo.push(`L[${x}]`);
      hi.push(`H[${x}]`);
    } else {
      lo.push(`((L[${x}] << ${s}) >>> 0)`);
      hi.push(`((H[${x}] << ${s}) | (L[${x}] >>> ${32 - s}))`);
    }
  }
  return [lo.join(' + '), hi.join(' + ')];
}

/**
 * A JavaScript expression for the linear address of the memory operand of `ins` at `rip`,
 * checked for canonicality (it calls `CANON`, which raises #GP(0), or #SS(0) for an RSP/RBP
 * base, SDM Vol. 3A §6.15), or undefined when the operand keeps the general
 * `effectiveAddress` (32-bit address size, FS/GS override, a moffs operand, or a
 * RIP-relative address that is not canonical).
 *
 * @param ins - an instruction with a memory operand
 * @param rip - its linear address (RIP-relative operands become constants)
 * @returns the expression, or undefined
 */
export function addressSource(ins: Instr, rip: number): string | undefined {
  if (ins.mod === 3 || ins.asize !== 8 || ins.seg !== Seg.NONE) return undefined;
  if (ins.base === RIP_BASE) {
    // The block runs only at this RIP: the address is a constant.
    const la = rip + ins.length + ins.disp;
    return la < LIMIT && la >= -LIMIT ? String(la) : undefined;
  }
  const s = sums(ins);
  if (s === undefined) return undefined;
  const stack = ins.base === RSP || ins.base === RBP;
  return `CANON(${s[1]}, ${s[0]}, ${stack})`;
}

/**
 * Inline source for LEA with a 32- or 64-bit destination and a 64-bit address size (not
 * RIP-relative): the address arithmetic mod 2^64, truncated to the operand size; LEA reads no
 * memory, ignores segment overrides and touches no flags (SDM Vol. 2 LEA).
 *
 * @param ins - a LEA instruction
 * @returns the statement, or undefined when the handler keeps it
 */
export function leaSource(ins: Instr): string | undefined {
  const s = sums(ins);
  if (s === undefined || (ins.osize !== 4 && ins.osize !== 8)) return undefined;
  const d = ins.reg;
  const hi = ins.osize === 8 ? `(${s[1]} + Math.floor(l / 4294967296)) >>> 0` : '0';
  return `{ const l = ${s[0]}; H[${d}] = ${hi}; L[${d}] = l >>> 0; }`;
}

/**
 * The canonical linear address of the sums `hi`:`lo` (lo non-negative, below 2^35), or a
 * #GP(0)/#SS(0) fault (SDM Vol. 1 §3.3.7.1).
 *
 * @param hi - the sum of the high halves (any integer)
 * @param lo - the sum of the low halves
 * @param stack - whether the reference is through RSP or RBP (#SS instead of #GP)
 * @returns the linear address as a signed number
 */
export function canonicalSum(hi: number, lo: number, stack: boolean): number {
  const h = (hi + Math.floor(lo / 4294967296)) | 0;
  return canonical(h, lo >>> 0, stack);
}
