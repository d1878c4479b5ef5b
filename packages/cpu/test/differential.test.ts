// Differential test against the host CPU: the same instruction bytes, registers, RFLAGS and
// data buffer run natively (test/native/harness.c, built with gcc) and on vmkit at CPL 3;
// registers, RFLAGS (except flags the SDM leaves undefined) and the buffer must match, and
// faults (#DE, #UD, #GP) must match. VMKIT_DIFF_SCALE=<n> multiplies the case counts.
import { describe, expect, it } from 'vitest';
import {
  addressing,
  arithmetic,
  bits,
  conditions,
  doubleShifts,
  Gen,
  misc,
  moves,
  multiplyDivide,
  sequences,
  shifts,
  stackAndBranches,
  strings,
  system,
} from './support/cases.js';
import { buildHarness, type Case, difference, runNative, runVmkit } from './support/native.js';
import { mulberry32 } from './support/prng.js';

const SCALE = Number(process.env.VMKIT_DIFF_SCALE ?? 1);
const harness = buildHarness();
if ('skip' in harness) console.log(`differential test skipped: ${harness.skip}`);

function check(cases: Case[]): { faults: number } {
  if ('skip' in harness) return { faults: 0 };
  const native = runNative(harness.path, cases);
  const failures: string[] = [];
  let faults = 0;
  cases.forEach((c, i) => {
    const n = native[i]!;
    if (n.kind === 'fault') faults++;
    // Each case runs twice on vmkit: one instruction per run(1) call, and in one call (whole
    // blocks, whose fast path skips per-instruction bookkeeping and dead flag computations).
    for (const mode of ['step', 'whole'] as const) {
      const d = difference(c, n, runVmkit(c, mode));
      if (d !== undefined && failures.length < 10) {
        failures.push(
          `${c.name} (${mode}) [${Buffer.from(c.code).toString('hex')}] regs=${c.regs.map((r) => r.toString(16)).join(',')} rflags=${c.rflags.toString(16)}: ${d}`,
        );
      }
    }
  });
  expect(failures).toEqual([]);
  return { faults };
}

const families: [string, (g: Gen, n: number) => Case[], number][] = [
  ['ADD/OR/ADC/SBB/AND/SUB/XOR/CMP/TEST/INC/DEC/NEG/NOT', arithmetic, 3000],
  ['ROL/ROR/RCL/RCR/SHL/SHR/SAL/SAR, counts 0..79', shifts, 4000],
  ['SHLD/SHRD, counts 0..79', doubleShifts, 1600],
  ['MUL/IMUL/DIV/IDIV incl. #DE', multiplyDivide, 3000],
  ['BT*/BSF/BSR/TZCNT/LZCNT/POPCNT', bits, 2000],
  ['SETcc/CMOVcc/Jcc', conditions, 1500],
  ['MOV/MOVZX/MOVSX/MOVSXD/LEA/moffs/XCHG/CMPXCHG/CMPXCHG8B/16B/XADD/CBW..CQO', moves, 3000],
  ['MOVS/CMPS/STOS/LODS/SCAS with REP/REPE/REPNE', strings, 2000],
  ['PUSH/POP/PUSHFQ/POPFQ/ENTER/LEAVE/CALL/RET/JMP/LOOP/JRCXZ', stackAndBranches, 1500],
  ['memory operands: SIB, no base, RIP-relative, 67h; #GP/#SS on non-canonical', addressing, 2000],
  ['straight-line sequences with flags flowing between instructions', sequences, 2000],
  ['BSWAP/LAHF/SAHF/CLC/STC/CMC/CLD/STD/NOP/PAUSE/ENDBR64/fences', misc, 300],
  ['system instructions at CPL 3: #GP when privileged, RDTSC/RDTSCP/CPUID run', system, 400],
];

describe.skipIf('skip' in harness)('vmkit matches the host CPU', () => {
  families.forEach(([name, gen, count], i) => {
    it(`${name} (${count * SCALE} cases)`, () => {
      const g = new Gen(mulberry32(0xd1ff + i));
      const cases = gen(g, count * SCALE);
      // Most cases must run to completion natively, so that the comparison is of results and
      // not of two faults.
      // (The system family is mostly privileged instructions: there the faults are the point.)
      const { faults } = check(cases);
      if (gen === system) expect(faults).toBeGreaterThan(cases.length * 0.5);
      else expect(faults).toBeLessThan(cases.length * 0.2);
    });
  });

  it('includes divide-error cases that fault on both sides', () => {
    const g = new Gen(mulberry32(7));
    expect(check(multiplyDivide(g, 1000)).faults).toBeGreaterThan(20);
  });
});
