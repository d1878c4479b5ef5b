// Several vCPUs, interleaved deterministically by an instruction quantum. The oracle is the same
// image under KVM with the same vCPU count: RESULT lines must agree in every field the guest
// README calls deterministic (all but `ticks`, and `cpus_mask` of spin); what depends on timing
// is checked against the workload's own invariants instead (spin: acquisitions = procs × iters).
import { kvmUsability, parseResults, runOnKvm } from '@vmkit/guest';
import { describe, expect, it } from 'vitest';
import { Vm, type VmRunResult } from '../src/index.js';

const kvm = kvmUsability();
const TIMING = new Set(['ticks', 'cpus_mask']);

function stable(console: string): { program: string; fields: Record<string, string> }[] {
  return parseResults(console).map((r) => ({
    program: r.program,
    fields: Object.fromEntries(Object.entries(r.fields).filter(([k]) => !TIMING.has(k))),
  }));
}

describe('SMP', () => {
  const cases: [string, number, 'native' | 'ept' | 'ept-lp'][] = [
    ['hello', 2, 'native'],
    ['kbuild tasks=8 jobs=4', 4, 'ept'],
    ['web requests=16 concurrency=4', 2, 'ept-lp'],
    ['spin procs=4 iters=100', 2, 'ept'],
    ['preempt loops=300000', 2, 'native'],
  ];
  for (const [command, vcpus, mmu] of cases) {
    it(`${command} on ${vcpus} vCPUs (${mmu}): RESULT as under KVM, work spread over the vCPUs`, async () => {
      const r = new Vm({ command, vcpus, mmu }).run({ maxInstructions: 60_000_000 });
      expect(r.end).toBe('exit');
      expect(r.status).toBe(0);
      expect(r.vcpus).toBe(vcpus);
      expect(r.console).toContain(`cpus=${vcpus} `);
      expect(r.perVcpu.map((p) => p.id)).toEqual([...Array(vcpus).keys()]);
      // Every vCPU booted and ran kernel code (all enter at e_entry, boot protocol).
      for (const p of r.perVcpu) expect(p.instructions).toBeGreaterThan(1000);
      expect(r.perVcpu.reduce((a, p) => a + p.instructions, 0)).toBe(r.instructions);
      const mine = stable(r.console);
      expect(mine.length).toBe(1);
      if (kvm.usable) {
        const k = await runOnKvm({ command, cpus: vcpus });
        expect(k.status).toBe(0);
        expect(mine).toEqual(stable(k.stdout));
      }
    }, 60_000);
  }

  it('spin: every acquisition happens, on more than one vCPU, and reschedule IPIs arrive', () => {
    const r = new Vm({ command: 'spin procs=4 iters=200', vcpus: 4 }).run({
      maxInstructions: 60_000_000,
    });
    const fields = parseResults(r.console)[0]!.fields;
    expect(fields.acquisitions).toBe('800');
    // cpus_mask: the vCPUs the children ran on; with 4 vCPUs and 4 spinning children, more than one.
    const mask = Number(fields.cpus_mask);
    expect(mask & ~0xf).toBe(0);
    expect(mask.toString(2).replace(/0/g, '').length).toBeGreaterThan(1);
    // Reschedule IPIs went through the x2APIC ICR to other vCPUs.
    expect(r.console).toMatch(/reschedule IPIs received: [1-9]/);
  }, 60_000);

  it('is deterministic: same configuration, same console and counters; budget splits change nothing', () => {
    const config = { command: 'kbuild tasks=8 jobs=4', vcpus: 3, mmu: 'ept' as const };
    const a = new Vm(config).run({ maxInstructions: 60_000_000 });
    const b = new Vm(config).run({ maxInstructions: 60_000_000 });
    expect(a.end).toBe('exit');
    expect(b).toEqual(a);
    const vm = new Vm(config);
    let r: VmRunResult = vm.run({ maxInstructions: 333_333 });
    while (r.end === 'budget') r = vm.run({ maxInstructions: 777_777 });
    // TLB hits aside (they count the CPU's per-call fetch-path lookups), identical.
    const strip = (x: VmRunResult) => ({ ...x, tlb: { ...x.tlb, hits: 0 } });
    expect(strip(r)).toEqual(strip(a));
  }, 60_000);

  it('the interleaving quantum is configurable and changes only timing', () => {
    const run = (vcpuQuantum: number) =>
      new Vm({ command: 'kbuild tasks=8 jobs=4', vcpus: 2, vcpuQuantum }).run({
        maxInstructions: 60_000_000,
      });
    const fine = run(1_000);
    const coarse = run(50_000);
    expect(stable(fine.console)).toEqual(stable(coarse.console));
    expect(fine.instructions).not.toBe(coarse.instructions);
    expect(() => new Vm({ vcpuQuantum: 0 })).toThrow(
      expect.objectContaining({ code: 'BAD_CONFIG' }),
    );
  }, 60_000);
});
