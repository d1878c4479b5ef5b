// Counting retired instructions by class, and the branch-predictor model, against oracles the
// CPU does not share: iced-x86's classification of the same bytes (Mnemonic, FlowControl), an
// independent bimodal model (support/retired-oracle.ts), and hand counts of hand-assembled
// programs. Runs split into random budgets, stopped by faults mid-block and by VM exits must
// report, at every stop, what the one-instruction-at-a-time reference reports.
import { PrimaryProcessorControls } from '@vmkit/vmx';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BranchPredictor,
  Cpu,
  CpuError,
  CpuFault,
  decode,
  FlatMemory,
  instructionClass,
  RETIRED_CLASSES,
} from '../src/index.js';
import { generate } from './support/decoder-oracle.js';
import { icedClass, withIced } from './support/iced-class.js';
import { machine } from './support/machine.js';
import { mulberry32 } from './support/prng.js';
import {
  checkSplitRun,
  ModelPredictor,
  observed,
  referenceTrace,
} from './support/retired-oracle.js';
import { NONE } from './support/vmx.js';

describe('classification against iced-x86', () => {
  it('classifies every instruction vmkit decodes as iced-x86 does, on random bytes', () => {
    const rand = mulberry32(0xc1a55);
    const bytes = new Uint8Array(24);
    const seen = new Set<string>();
    let compared = 0;
    for (let n = 0; n < 60_000; n++) {
      generate(rand, bytes);
      let ins: ReturnType<typeof decode>;
      try {
        ins = decode((k) => bytes[k]!);
      } catch (e) {
        if (e instanceof CpuFault) continue;
        throw e;
      }
      const mine = RETIRED_CLASSES[instructionClass(ins)];
      const theirs = withIced(bytes, 0x1000n, icedClass);
      if (mine !== theirs) {
        throw new Error(
          `${Buffer.from(bytes).toString('hex')}: ${ins.mnemonic} ${mine} vs ${theirs}`,
        );
      }
      seen.add(mine);
      compared++;
    }
    expect(compared).toBeGreaterThan(10_000);
    expect([...seen].sort()).toEqual([...RETIRED_CLASSES].sort());
  });

  it('leaves system transfers out of branch, takes indirect near ones in', () => {
    const cls = (hex: string) =>
      RETIRED_CLASSES[instructionClass(decode((k) => Buffer.from(hex, 'hex')[k] ?? 0))];
    expect(['ffe0', 'ffd0', 'c3', 'c20800', 'e2fe', 'e300', '7400', 'eb00'].map(cls)).toEqual(
      Array(8).fill('branch'),
    );
    expect(['48cf', '0f05', '480f07', 'cd80', 'cc', '0f01c1'].map(cls)).toEqual(
      Array(6).fill('other'),
    );
    expect(['48f7e3', '480fafc3', '486bc307', '4869c310000000', 'f6e3'].map(cls)).toEqual(
      Array(5).fill('multiply'),
    );
    expect(['49f7f0', '49f7f8', 'f3a4', 'f348ab', 'f2ae', 'f390'].map(cls)).toEqual([
      'divide',
      'divide',
      'string',
      'string',
      'string',
      'pause',
    ]);
  });
});

// A hand-counted program: a 10-iteration loop holding each class, then a REP STOSB of 5, a
// CALL and a RET.
const LOOP_PROGRAM = [
  ...[0xb9, 10, 0, 0, 0], // mov ecx, 10
  ...[0x41, 0xb8, 3, 0, 0, 0], // mov r8d, 3
  // L:
  ...[0x48, 0x0f, 0xaf, 0xc3], // imul rax, rbx
  ...[0x48, 0xf7, 0xe3], // mul rbx
  ...[0x31, 0xd2], // xor edx, edx
  ...[0x49, 0xf7, 0xf0], // div r8
  ...[0xf3, 0x90], // pause
  ...[0xff, 0xc9], // dec ecx
  ...[0x75, 0x100 - 18], // jnz L
  ...[0xbf, 0, 0, 4, 0], // mov edi, 0x40000
  ...[0xb9, 5, 0, 0, 0], // mov ecx, 5
  ...[0xf3, 0xaa], // rep stosb
  ...[0xe8, 1, 0, 0, 0], // call f
  0xf4, // hlt
  0xc3, // f: ret
];

describe('hand-assembled programs', () => {
  it('counts each class exactly, and the loop branch mispredicts at warm-up and exit', () => {
    const { cpu } = machine(LOOP_PROGRAM);
    cpu.setReg('rax', 7n);
    cpu.setReg('rbx', 3n);
    expect(cpu.run(1000)).toEqual({ kind: 'hlt' });
    expect(cpu.retiredByClass).toEqual({
      other: 2 + 10 * 2 + 2 + 1,
      multiply: 20,
      divide: 10,
      branch: 10 + 2,
      string: 5,
      pause: 10,
    });
    expect(cpu.instructions).toBe(82);
    // jnz: taken 9 times, then not taken; counters start weakly not taken.
    expect(cpu.predictor.branches).toBe(10);
    expect(cpu.predictor.mispredictions).toBe(2);
  });

  it('gives the same counts for every split of the run into budgets', () => {
    const straight = machine(LOOP_PROGRAM).cpu;
    straight.run(1000);
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 6 }),
        (budgets) => {
          const { cpu } = machine(LOOP_PROGRAM);
          for (let k = 0; ; k++) {
            const stop = cpu.run(budgets[k % budgets.length]!);
            if (stop.kind === 'hlt') break;
            expect(stop.kind).toBe('budget');
          }
          expect(observed(cpu)).toEqual(observed(straight));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('counts only the part of a block retired before a fault', () => {
    // imul; mul; div r8 with r8 = 0 (#DE), in one block: two multiplies retire.
    const { cpu } = machine([0x48, 0x0f, 0xaf, 0xc3, 0x48, 0xf7, 0xe3, 0x49, 0xf7, 0xf0, 0xf4]);
    const stop = cpu.run(100);
    expect(stop).toMatchObject({ kind: 'exception', vector: 0 });
    expect(cpu.retiredByClass).toMatchObject({ multiply: 2, divide: 0, other: 0 });
    expect(cpu.instructions).toBe(2);
  });

  it('counts every REP iteration, across budget stops, in the string class', () => {
    // mov ecx, 100; mov edi, 0x40000; rep stosq; hlt
    const code = [0xb9, 100, 0, 0, 0, 0xbf, 0, 0, 4, 0, 0xf3, 0x48, 0xab, 0xf4];
    const { cpu } = machine(code);
    expect(cpu.run(30)).toEqual({ kind: 'budget' });
    expect(cpu.retiredByClass).toMatchObject({ other: 2, string: 28 });
    expect(cpu.run(1000)).toEqual({ kind: 'hlt' });
    expect(cpu.retiredByClass).toMatchObject({ other: 3, string: 100 });
  });

  it('counts a PAUSE that exits in non-root operation only once the VMM retires it', () => {
    // pause; pause; hlt under PAUSE exiting: the CPU retires none of the PAUSEs itself.
    const { cpu } = machine([0xf3, 0x90, 0xf3, 0x90, 0xf4]);
    cpu.vmEntry({ ...NONE, primary: PrimaryProcessorControls.PAUSE_EXITING });
    const stop = cpu.run(10);
    expect(stop.kind).toBe('vm-exit');
    expect(cpu.retiredByClass.pause).toBe(0);
    cpu.leaveNonRoot();
    expect(cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(cpu.retiredByClass).toMatchObject({ pause: 2, other: 1 });
  });
});

describe('the branch-predictor model', () => {
  it('an N-iteration loop mispredicts twice, then once per exit while the counter stays warm', () => {
    for (const n of [1, 2, 3, 50]) {
      // mov ecx, n; L: dec ecx; jnz L; hlt
      const { cpu } = machine([0xb9, n, 0, 0, 0, 0xff, 0xc9, 0x75, 0xfc, 0xf4]);
      cpu.run(1000);
      const model = new ModelPredictor(4096);
      for (let k = 1; k <= n; k++) model.outcome(0x1007, k < n);
      expect(cpu.predictor.branches).toBe(n);
      expect(cpu.predictor.mispredictions).toBe(model.mispredictions);
      // Hand counts: warm-up (the first taken) and exit (the last, not taken).
      expect(cpu.predictor.mispredictions).toBe(n === 1 ? 0 : n === 2 ? 2 : 2);
    }
  });

  it('an alternating branch mispredicts as the 2-bit model says', () => {
    for (const n of [8, 9, 40]) {
      // mov ecx, n; L: test cl, 1; jz skip; nop; skip: dec ecx; jnz L; hlt
      const code = [
        0xb9,
        n,
        0,
        0,
        0,
        0xf6,
        0xc1,
        0x01,
        0x74,
        0x01,
        0x90,
        0xff,
        0xc9,
        0x75,
        0xf6,
        0xf4,
      ];
      const { cpu } = machine(code);
      expect(cpu.run(10_000)).toEqual({ kind: 'hlt' });
      const model = new ModelPredictor(4096);
      for (let c = n; c >= 1; c--) {
        model.outcome(0x1008, c % 2 === 0); // jz: taken when CL is even
        model.outcome(0x100d, c > 1); // jnz
      }
      expect(cpu.predictor.branches).toBe(2 * n);
      expect(cpu.predictor.mispredictions).toBe(model.mispredictions);
    }
    // By hand for n = 8: jz sees T, NT, T, ... from a weakly-not-taken counter, so the counter
    // swings between 1 and 2 and every outcome is mispredicted (8); jnz mispredicts twice.
    const { cpu } = machine([
      0xb9, 8, 0, 0, 0, 0xf6, 0xc1, 0x01, 0x74, 0x01, 0x90, 0xff, 0xc9, 0x75, 0xf6, 0xf4,
    ]);
    cpu.run(10_000);
    expect(cpu.predictor.mispredictions).toBe(8 + 2);
  });

  it('shares a counter between branches whose addresses alias', () => {
    // Two loops: a single-entry table sees both jnz's outcomes on one counter.
    const code = [
      0xb9, 4, 0, 0, 0, 0xff, 0xc9, 0x75, 0xfc, 0xb9, 4, 0, 0, 0, 0xff, 0xc9, 0x75, 0xfc, 0xf4,
    ];
    for (const entries of [1, 2, 4096]) {
      const { mem } = machine(code);
      const cpu = new Cpu({ memory: new FlatMemory(mem), branchPredictorEntries: entries });
      cpu.rip = 0x1000n;
      cpu.run(1000);
      const model = new ModelPredictor(entries);
      for (const at of [0x1007, 0x1010]) for (let k = 1; k <= 4; k++) model.outcome(at, k < 4);
      expect(cpu.predictor.mispredictions).toBe(model.mispredictions);
      expect(cpu.predictor.entries).toBe(entries);
    }
  });

  it('refuses a table size that is not a power of two in range', () => {
    for (const bad of [0, 3, 1.5, 2 ** 21, -4]) {
      expect(() => new BranchPredictor(bad)).toThrow(CpuError);
    }
    expect(new BranchPredictor().entries).toBe(4096);
  });
});

// Random programs from pieces whose control flow stays inside the piece (forward branches over
// a NOP, loops to themselves, calls to the next instruction), with divides that may raise #DE,
// a load that raises #GP, REP string instructions of random counts and PAUSE.
const rel = (v: number) => [v & 0xff, (v >> 8) & 0xff, 0, 0];
const PIECES: ((p: number) => number[])[] = [
  () => [0x48, 0x01, 0xd8], // add rax, rbx
  () => [0x48, 0x0f, 0xaf, 0xc3], // imul rax, rbx
  () => [0x48, 0x6b, 0xc3, 0x07], // imul rax, rbx, 7
  () => [0x48, 0x69, 0xc3, 0x10, 0, 0, 0], // imul rax, rbx, 16
  () => [0x48, 0xf7, 0xe3], // mul rbx
  () => [0x48, 0xf7, 0xeb], // imul rbx
  () => [0xf6, 0xe3], // mul bl
  () => [0x49, 0xf7, 0xf0], // div r8 (#DE when r8 = 0 or the quotient overflows)
  () => [0x49, 0xf7, 0xf8], // idiv r8
  () => [0x41, 0xf6, 0xf0], // div r8b
  () => [0xf3, 0x90], // pause
  () => [0x90], // nop
  () => [0x31, 0xd2], // xor edx, edx
  () => [0x49, 0x89, 0xc0], // mov r8, rax
  () => [0x49, 0xff, 0xc0], // inc r8
  () => [0x48, 0x89, 0x44, 0x24, 0xf8, 0x48, 0x8b, 0x5c, 0x24, 0xf8], // mov [rsp-8], rax; mov rbx, [rsp-8]
  () => [0x50, 0x5b], // push rax; pop rbx
  (p) => [0xbf, 0, 0, 4, 0, 0xb9, ...rel(p % 7), 0xf3, 0xaa], // mov edi; mov ecx, p; rep stosb
  (p) => [0xbe, 0, 0, 5, 0, 0xbf, 0, 0, 6, 0, 0xb9, ...rel(p % 5), 0xf3, 0x48, 0xa5], // rep movsq
  (p) => [0xbe, 0, 0, 5, 0, 0xbf, 0, 0, 6, 0, 0xb9, ...rel(p % 6), 0xf3, 0xa6], // repe cmpsb
  () => [0xbe, 0, 0, 5, 0, 0xac, 0xbf, 0, 0, 6, 0, 0xae], // lodsb; scasb
  () => [0xa8, 0x01, 0x74, 0x01, 0x90], // test al, 1; jz +1; nop
  () => [0x48, 0x39, 0xd8, 0x0f, 0x82, 1, 0, 0, 0, 0x90], // cmp rax, rbx; jb rel32 +1; nop
  () => [0xeb, 0x01, 0x90], // jmp +1; nop
  () => [0xe8, 0, 0, 0, 0, 0x48, 0x83, 0xc4, 0x08], // call next; add rsp, 8
  () => [0x48, 0x8d, 0x0d, 2, 0, 0, 0, 0xff, 0xe1], // lea rcx, [rip+2]; jmp rcx
  () => [0x48, 0x8d, 0x0d, 2, 0, 0, 0, 0xff, 0xd1, 0x48, 0x83, 0xc4, 0x08], // call rcx
  () => [0x48, 0x8d, 0x0d, 2, 0, 0, 0, 0x51, 0xc3], // lea rcx, [rip+2]; push rcx; ret
  (p) => [0xb9, ...rel((p % 5) + 1), 0xe2, 0xfe], // mov ecx, p + 1; loop $
  (p) => [0xb9, ...rel((p % 5) + 1), 0x39, 0xc0, 0xe1, 0xfe], // cmp eax, eax; loope $
  (p) => [0xb9, ...rel(p & 1), 0xe3, 0x01, 0x90], // mov ecx, 0/1; jrcxz +1; nop
  (p) => [0xb9, ...rel((p % 9) + 1), 0xff, 0xc9, 0x75, 0xfc], // L: dec ecx; jnz L
  // L: imul rax, rbx; div r8; dec ecx; jnz L: a looping block that may fault in a pass.
  (p) => [
    0xb9,
    ...rel((p % 6) + 1),
    0x48,
    0x0f,
    0xaf,
    0xc3,
    0x49,
    0xf7,
    0xf0,
    0xff,
    0xc9,
    0x75,
    0xf5,
  ],
  // movabs rbx, 2^47; mov rax, [rbx]: #GP (non-canonical) in the middle of a block.
  () => [0x48, 0xbb, 0, 0, 0, 0, 0, 0x80, 0, 0, 0x48, 0x8b, 0x03],
];

const program = fc.array(fc.tuple(fc.nat(PIECES.length - 1), fc.nat(1000)), {
  minLength: 1,
  maxLength: 24,
});
const registers = fc.tuple(
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.bigInt({ min: 0n, max: 40n }),
);
const budgets = fc.array(
  fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 13, max: 400 })),
  {
    minLength: 1,
    maxLength: 8,
  },
);

function randomMachine(
  pieces: readonly [number, number][],
  regs: readonly [bigint, bigint, bigint],
  entries: number,
  nonRoot: boolean,
): Cpu {
  const code = [...pieces.flatMap(([k, p]) => PIECES[k]!(p)), 0xf4];
  const { mem } = machine(code);
  const cpu = new Cpu({ memory: new FlatMemory(mem), branchPredictorEntries: entries });
  cpu.rip = 0x1000n;
  cpu.setReg('rsp', 0x80000n);
  cpu.setReg('rax', regs[0]);
  cpu.setReg('rbx', regs[1]);
  cpu.setReg('r8', regs[2]);
  if (nonRoot) {
    // PAUSE and every exception exit: the VMM (afterStop) skips the instruction.
    cpu.vmEntry({
      ...NONE,
      primary: PrimaryProcessorControls.PAUSE_EXITING,
      exceptionBitmap: 0xffffffff,
    });
  }
  return cpu;
}

describe('random programs against iced-x86 and the independent model', () => {
  for (const nonRoot of [false, true]) {
    it(`match the stepped reference at every stop of any budget split${nonRoot ? ' (non-root, PAUSE and exceptions exit)' : ''}`, () => {
      fc.assert(
        fc.property(
          program,
          registers,
          budgets,
          fc.constantFrom(1, 16, 4096),
          (pieces, regs, split, entries) => {
            const trace = referenceTrace(randomMachine(pieces, regs, entries, nonRoot), entries);
            checkSplitRun(randomMachine(pieces, regs, entries, nonRoot), trace, split);
            // One straight run ends with the same figures.
            checkSplitRun(randomMachine(pieces, regs, entries, nonRoot), trace, [1_000_000]);
          },
        ),
        { numRuns: nonRoot ? 60 : 150 },
      );
    });
  }
});
