// Whole-program test: gcc-compiled freestanding C (CRC-32, quicksort, a hash table, matrix
// multiply, 64-bit multiply/divide, byte strings) runs to completion in vmkit and returns the
// checksum the same C file computes natively on the host.
import { describe, expect, it } from 'vitest';
import { buildWorkload, hostChecksum, loadWorkload, runToStop } from './support/program.js';

const workload = buildWorkload();
if ('skip' in workload) console.log(`whole-program test skipped: ${workload.skip}`);

describe.skipIf('skip' in workload)('gcc-compiled workload', () => {
  it('computes the host checksum, with the same instruction count on every run', () => {
    if ('skip' in workload) return;
    const expected = hostChecksum(workload, 3);
    const counts: number[] = [];
    for (let run = 0; run < 2; run++) {
      const cpu = loadWorkload(workload, 3);
      expect(runToStop(cpu, 50_000_000)).toEqual({ kind: 'hlt' });
      expect(cpu.getReg('rax')).toBe(expected);
      counts.push(cpu.instructions);
    }
    expect(counts[0]).toBe(counts[1]);
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
