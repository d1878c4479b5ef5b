// Instructions are priced by the class the CPU counted them in: a guest loop of N divides costs
// exactly (div - alu) x N cycles more than the same loop with an add in its place, under every
// strategy, with the figures read from the profile (the default and a changed one); and a
// native run's cycles are the profile's figures times the counts, mispredictions included.
import { defaultProfile, withFigures } from '@vmkit/sim';
import { describe, expect, it } from 'vitest';
import { Vm, type VmRunResult } from '../src/index.js';
import { elf } from './support/elf.js';

const N = 500;

// mov ecx, N; mov r8d, 3; L: xor edx, edx; <op>; dec ecx; jnz L; out 0xf4, eax
function loop(op: number[]): Uint8Array {
  return Uint8Array.from([
    ...[0xb9, N & 0xff, N >> 8, 0, 0],
    ...[0x41, 0xb8, 3, 0, 0, 0],
    ...[0x31, 0xd2],
    ...op,
    ...[0xff, 0xc9],
    ...[0x75, 0x100 - (2 + op.length + 2 + 2)],
    ...[0xe7, 0xf4],
  ]);
}
const DIV = [0x49, 0xf7, 0xf0]; // div r8
const ADD = [0x4c, 0x01, 0xc0]; // add rax, r8

describe('instructions priced by class', () => {
  for (const mmu of ['native', 'ept'] as const) {
    it(`${mmu}: N divides cost (div - alu) x N more than N adds`, () => {
      for (const profile of [
        defaultProfile,
        withFigures(defaultProfile, 'slow divide', {
          'instructions.div': { value: 97, source: { kind: 'assumption', ref: 'a test figure' } },
        }),
      ]) {
        const run = (op: number[]): VmRunResult =>
          new Vm({ image: elf(loop(op)), memoryMiB: 4, mmu, profile }).run();
        const div = run(DIV);
        const add = run(ADD);
        expect([div.end, add.end]).toEqual(['exit', 'exit']);
        expect(div.instructions).toBe(add.instructions);
        expect(div.instructionsByClass.divide).toBe(N);
        expect(add.instructionsByClass.divide).toBe(0);
        expect(add.instructionsByClass.other).toBe(div.instructionsByClass.other + N);
        expect(div.branchMispredictions).toBe(add.branchMispredictions);
        const extra = (profile.instructions.div.value - profile.instructions.alu.value) * N;
        expect(div.perVcpu[0]!.simulatedCycles - add.perVcpu[0]!.simulatedCycles).toBe(extra);
        expect(div.simulatedCycles - add.simulatedCycles).toBe(extra);
      }
    });
  }

  it('native: cycles are each class at its figure, plus a misprediction penalty, plus walks', () => {
    const r = new Vm({ image: elf(loop(DIV)), memoryMiB: 4 }).run();
    const f = defaultProfile.instructions;
    const c = r.perVcpu[0]!.instructionsByClass;
    // 2 movs, N x (xor, div, dec, jnz), and the OUT: in root mode it retires in the CPU
    // before the VMM serves the port (under VMX it exits and the VMM retires it).
    expect(c).toEqual({
      other: 2 + 2 * N + 1,
      multiply: 0,
      divide: N,
      branch: N,
      string: 0,
      pause: 0,
    });
    expect(r.perVcpu[0]!.conditionalBranches).toBe(N);
    // Weakly-not-taken counters: the first taken jnz and the final not-taken one.
    expect(r.perVcpu[0]!.branchMispredictions).toBe(2);
    const byHand =
      (c.other + c.string) * f.alu.value +
      c.divide * f.div.value +
      c.branch * f.branch.value +
      2 * f['branch-mispredict'].value +
      Object.entries(r.walkReferencesByLevel).reduce(
        (sum, [level, n]) =>
          sum +
          n * defaultProfile.memory.latency[level as keyof typeof r.walkReferencesByLevel].value,
        0,
      );
    expect(r.perVcpu[0]!.simulatedCycles).toBe(byHand);
    expect(r.instructionsByClass).toEqual(c);
  });
});

// mov ecx, n; mov esi, 0x200000; mov edi, 0x300000; rep movsb; out 0xf4, eax
function copy(n: number): Uint8Array {
  return Uint8Array.from([
    ...[0xb9, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, 0],
    ...[0xbe, 0, 0, 0x20, 0],
    ...[0xbf, 0, 0, 0x30, 0],
    ...[0xf3, 0xa4],
    ...[0xe7, 0xf4],
  ]);
}

const FAST = withFigures(defaultProfile, 'fast strings changed', {
  'instructions.string-start': { value: 123, source: { kind: 'assumption', ref: 'test value' } },
  'copy.bytesPerCycle': { value: 3, source: { kind: 'assumption', ref: 'test value' } },
});

describe('REP MOVS/STOS priced by what they move', () => {
  for (const profile of [defaultProfile, FAST]) {
    for (const n of [1, 7, 4096]) {
      it(`native, ${profile.name}: a REP MOVSB of ${n} bytes costs string-start + ceil(${n} / bytesPerCycle)`, () => {
        const r = new Vm({ image: elf(copy(n)), memoryMiB: 4, profile }).run();
        expect(r.end).toBe('exit');
        const c = r.perVcpu[0]!.instructionsByClass;
        expect(c).toEqual({ other: 4, multiply: 0, divide: 0, branch: 0, string: n, pause: 0 });
        expect(r.fastStrings).toEqual({ starts: 1, elements: n, bytes: n });
        expect(r.perVcpu[0]!.fastStrings).toEqual(r.fastStrings);
        const f = profile.instructions;
        const byHand =
          4 * f.alu.value +
          f['string-start'].value +
          Math.ceil(n / profile.copy.bytesPerCycle.value) +
          Object.entries(r.walkReferencesByLevel).reduce(
            (sum, [level, k]) =>
              sum + k * profile.memory.latency[level as keyof typeof r.walkReferencesByLevel].value,
            0,
          );
        expect(r.perVcpu[0]!.simulatedCycles).toBe(byHand);
      });
    }
  }

  for (const mmu of ['spt', 'ept'] as const) {
    it(`${mmu}: 4096 bytes cost ceil(4096 / bytesPerCycle) - ceil(2048 / bytesPerCycle) more than 2048`, () => {
      for (const profile of [defaultProfile, FAST]) {
        const run = (n: number) =>
          new Vm({ image: elf(copy(n)), memoryMiB: 4, mmu, profile }).run();
        const [big, small] = [run(4096), run(2048)];
        // The same pages, walks and exits: only the bytes differ.
        expect(big.exitsByReason).toEqual(small.exitsByReason);
        expect(big.walkReferencesByLevel).toEqual(small.walkReferencesByLevel);
        expect(big.instructionsByClass.string - small.instructionsByClass.string).toBe(2048);
        const rate = profile.copy.bytesPerCycle.value;
        expect(big.simulatedCycles - small.simulatedCycles).toBe(
          Math.ceil(4096 / rate) - Math.ceil(2048 / rate),
        );
      }
    });
  }
});
