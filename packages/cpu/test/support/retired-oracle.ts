// The reference for counting by class: runs a program one instruction per `run(1)`, classifies
// each instruction that retired from iced-x86's decoding of the bytes at RIP, and feeds each
// retired conditional branch to a bimodal model written here from the model's definition (a
// table of 2-bit counters starting at 1, indexed by the branch address modulo the size). It
// records the expected figures after every retired instruction, so a run split any other way
// can be checked at each of its stops.
import { expect } from 'vitest';
import { type Cpu, RETIRED_CLASSES, type StopReason } from '../../src/index.js';
import { icedClass, icedConditional, withIced } from './iced-class.js';

/** What the CPU should report after some number of retired instructions. */
export interface Expected {
  /** Retired instructions by class, in `RETIRED_CLASSES` order. */
  readonly counts: readonly number[];
  /** Conditional branches retired. */
  readonly branches: number;
  /** Mispredictions of the bimodal model. */
  readonly mispredictions: number;
}

/** The bimodal model, independently: counters start at 1, >= 2 predicts taken. */
export class ModelPredictor {
  private readonly counters = new Map<number, number>();
  branches = 0;
  mispredictions = 0;
  constructor(private readonly entries: number) {}
  outcome(address: number, taken: boolean): void {
    const key = ((address % this.entries) + this.entries) % this.entries;
    const state = this.counters.get(key) ?? 1;
    const predicted = state >= 2;
    this.branches++;
    if (predicted !== taken) this.mispredictions++;
    this.counters.set(key, taken ? Math.min(3, state + 1) : Math.max(0, state - 1));
  }
}

function fetch(cpu: Cpu, rip: number): Uint8Array {
  const bytes = new Uint8Array(16);
  for (let k = 0; k < 16; k++) {
    try {
      bytes[k] = cpu.memory.read8(rip + k, 0);
    } catch {
      break;
    }
  }
  return bytes;
}

/** The instruction length at RIP (iced), for skipping an instruction that faulted or exited. */
export function lengthAt(cpu: Cpu): number {
  return withIced(fetch(cpu, cpu.ripLinear), cpu.rip, (i) => i.length);
}

/**
 * Continues after a stop the way both the reference and the runs under test do: a fault or
 * VM exit skips the instruction (it did not retire); `hlt` ends the program.
 *
 * @returns whether the program ended
 */
export function afterStop(cpu: Cpu, stop: StopReason): boolean {
  if (stop.kind === 'hlt') return true;
  if (stop.kind === 'exception' || stop.kind === 'vm-exit') {
    cpu.rip = cpu.rip + BigInt(lengthAt(cpu));
  } else if (stop.kind !== 'budget') {
    throw new Error(`unexpected stop ${JSON.stringify(stop)}`);
  }
  return false;
}

/**
 * Steps `cpu` to HLT one instruction at a time and returns the expected figures after each
 * retired instruction (index = instructions retired).
 */
export function referenceTrace(cpu: Cpu, entries: number, limit = 100_000): Expected[] {
  const counts = RETIRED_CLASSES.map(() => 0);
  const model = new ModelPredictor(entries);
  const trace: Expected[] = [{ counts: [...counts], branches: 0, mispredictions: 0 }];
  for (let step = 0; step < limit; step++) {
    const rip = cpu.ripLinear;
    const [cls, conditional, target, next] = withIced(fetch(cpu, rip), cpu.rip, (i) => [
      icedClass(i),
      icedConditional(i),
      Number(BigInt.asIntN(64, i.nearBranchTarget)),
      rip + i.length,
    ]);
    const before = cpu.instructions;
    const stop = cpu.run(1);
    const retired = cpu.instructions - before;
    if (retired === 1) {
      counts[RETIRED_CLASSES.indexOf(cls as (typeof RETIRED_CLASSES)[number])]!++;
      if (conditional) {
        // The programs never branch to the next instruction, so the new RIP tells the outcome.
        expect(target).not.toBe(next);
        model.outcome(rip, cpu.ripLinear === target);
      }
      trace.push({
        counts: [...counts],
        branches: model.branches,
        mispredictions: model.mispredictions,
      });
    } else {
      expect(retired).toBe(0);
    }
    if (afterStop(cpu, stop)) return trace;
  }
  throw new Error('the program did not reach HLT');
}

/** The CPU's figures in the shape of {@link Expected}. */
export function observed(cpu: Cpu): Expected {
  return {
    counts: [...cpu.classCounts],
    branches: cpu.predictor.branches,
    mispredictions: cpu.predictor.mispredictions,
  };
}

/**
 * Runs `cpu` to HLT with budgets taken in turn from `budgets`, checking its figures against
 * `trace` at every stop, and that they always sum to `instructions`.
 */
export function checkSplitRun(cpu: Cpu, trace: readonly Expected[], budgets: readonly number[]) {
  for (let k = 0; ; k++) {
    const stop = cpu.run(budgets[k % budgets.length]!);
    const now = observed(cpu);
    expect(now).toEqual(trace[cpu.instructions]);
    expect(now.counts.reduce((a, b) => a + b, 0)).toBe(cpu.instructions);
    if (afterStop(cpu, stop)) break;
  }
  expect(cpu.instructions).toBe(trace.length - 1);
}
