// Whole-program test: gcc-compiled freestanding C (CRC-32, quicksort, a hash table, matrix
// multiply, 64-bit multiply/divide, byte strings) runs to completion in vmkit and returns the
// checksum the same C file computes natively on the host.
import { describe, expect, it } from 'vitest';
import { decode } from '../src/index.js';
import { buildWorkload, hostChecksum, loadWorkload, runToStop } from './support/program.js';

const workload = buildWorkload();
if ('skip' in workload) console.log(`whole-program test skipped: ${workload.skip}`);

describe.skipIf('skip' in workload)('gcc-compiled workload', () => {
  it('computes the host checksum, with the same instruction count on every run', () => {
    if ('skip' in workload) return;
    const expected = hostChecksum(workload, 3);
    const counts: number[] = [];
    const stats: unknown[] = [];
    for (let run = 0; run < 2; run++) {
      const cpu = loadWorkload(workload, 3);
      expect(runToStop(cpu, 50_000_000)).toEqual({ kind: 'hlt' });
      expect(cpu.getReg('rax')).toBe(expected);
      counts.push(cpu.instructions);
      // The class counts and the predictor's figures are as reproducible as the count.
      stats.push({ ...cpu.retiredByClass, mispredictions: cpu.predictor.mispredictions });
      expect(cpu.classCounts.reduce((a, b) => a + b, 0)).toBe(cpu.instructions);
    }
    expect(counts[0]).toBe(counts[1]);
    expect(stats[0]).toEqual(stats[1]);
    expect(counts[0]).toBeGreaterThan(100_000);
  });

  it('ends in the same state when run one instruction per call (block boundaries are invisible)', () => {
    if ('skip' in workload) return;
    const whole = loadWorkload(workload, 1);
    expect(runToStop(whole, 10_000_000)).toEqual({ kind: 'hlt' });
    const stepped = loadWorkload(workload, 1);
    let stop = stepped.run(1);
    while (stop.kind === 'budget') stop = stepped.run(1);
    expect(stop).toEqual({ kind: 'hlt' });
    expect(stepped.instructions).toBe(whole.instructions);
    expect(stepped.retiredByClass).toEqual(whole.retiredByClass);
    expect(stepped.predictor.mispredictions).toBe(whole.predictor.mispredictions);
    expect(whole.retiredByClass.divide).toBeGreaterThan(0);
    for (const r of [
      'rax',
      'rbx',
      'rcx',
      'rdx',
      'rsi',
      'rdi',
      'rsp',
      'rbp',
      'r12',
      'r15',
    ] as const) {
      expect(stepped.getReg(r)).toBe(whole.getReg(r));
    }
    expect(stepped.rflags).toBe(whole.rflags);
  });
});

describe.skipIf('skip' in workload)('the same workload at other optimization levels', () => {
  for (const opt of ['-O0', '-O1', '-Os', '-O3']) {
    it(`${opt}: computes the host checksum`, () => {
      const build = buildWorkload(opt);
      if ('skip' in build || 'skip' in workload) return;
      const cpu = loadWorkload(build, 1);
      const stop = runToStop(cpu, 50_000_000);
      if (stop.kind === 'exception') {
        const rip = Number(cpu.rip);
        let what = '';
        try {
          what = decode((i) => cpu.memory.read8(rip + i, 0)).mnemonic;
        } catch {
          what = 'undecodable';
        }
        throw new Error(`${opt}: exception ${stop.vector} at 0x${rip.toString(16)} (${what})`);
      }
      expect(stop).toEqual({ kind: 'hlt' });
      expect(cpu.getReg('rax')).toBe(hostChecksum(workload, 1));
    });
  }
});
