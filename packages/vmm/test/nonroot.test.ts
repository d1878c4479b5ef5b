// The guest in VMX non-root mode: shadow paging against EPT on the page-table-heavy kbuild
// workload (seed 003's comparison), with KVM as the oracle for what the guest computes and
// the workloads' own definitions as the oracle for the fault counts.
import { kvmUsability, parseResults, runOnKvm } from '@vmkit/guest';
import { defaultProfile } from '@vmkit/sim';
import { BasicExitReason, basicExitReasonName } from '@vmkit/vmx';
import { describe, expect, it } from 'vitest';
import { Vm, type VmRunResult } from '../src/index.js';

const kvm = kvmUsability();
const name = (reason: number) => basicExitReasonName(reason)!;
const stable = (console: string) =>
  parseResults(console).map((r) => ({ ...r, fields: { ...r.fields, ticks: '*' } }));

describe('VMX non-root mode', () => {
  it('kbuild under spt and ept: the same results (as KVM), page-table exits only under spt', async () => {
    const command = 'kbuild tasks=12 jobs=3';
    const sptVm = new Vm({ command, mmu: 'spt' });
    const spt = sptVm.run({ maxInstructions: 60_000_000 });
    const ept = new Vm({ command, mmu: 'ept' }).run({ maxInstructions: 60_000_000 });
    for (const r of [spt, ept]) {
      expect(r.end).toBe('exit');
      expect(r.status).toBe(0);
    }
    expect(stable(spt.console)).toEqual(stable(ept.console));
    if (kvm.usable)
      expect(stable(spt.console)).toEqual(stable((await runOnKvm({ command })).stdout));
    // Memory virtualization is invisible to the guest: the same instructions retire.
    expect(spt.instructions).toBe(ept.instructions);

    // spt: #PF exits drive the shadow MMU; guest page-table stores are write-protected and
    // emulated; CR3 loads and INVLPG exit (fork, exec, exit switch and edit address spaces).
    const pf = spt.exitsByReason[name(BasicExitReason.EXCEPTION_OR_NMI)] ?? 0;
    const f = spt.shadowFaults;
    expect(f['page-table-write']).toBeGreaterThan(0);
    // Each page-table-write fault re-ran its instruction with the stores to the write-protected
    // page sent through emulateWrite (at least one store each).
    const window = sptVm.vcpus[0]!.translation.shadow!;
    expect(window.emulatedStores).toBeGreaterThanOrEqual(f['page-table-write']!);
    expect(sptVm.strategy.shadowMmu!.stats.emulatedWrites).toBe(window.emulatedStores);
    expect(f['not-present']).toBeGreaterThan(0);
    expect(f.guest).toBeGreaterThan(0);
    // Every #PF exit is one shadow fault of some kind.
    expect(Object.values(f).reduce((a, b) => a + b, 0)).toBe(pf);
    // The guest sees exactly its own faults: those the VMM reflected.
    expect(spt.exits.exceptions).toBe(f.guest);
    expect(spt.exitsByReason[name(BasicExitReason.CONTROL_REGISTER_ACCESSES)]).toBeGreaterThan(12);
    expect(spt.exitsByReason[name(BasicExitReason.INVLPG)]).toBeGreaterThan(0);

    // ept: none of those exits; the guest handles its own faults without the VMM.
    for (const reason of [
      BasicExitReason.EXCEPTION_OR_NMI,
      BasicExitReason.CONTROL_REGISTER_ACCESSES,
      BasicExitReason.INVLPG,
    ])
      expect(ept.exitsByReason[name(reason)]).toBeUndefined();
    expect(ept.shadowFaults).toEqual({});
    const total = (r: VmRunResult) => r.perVcpu.reduce((a, p) => a + p.exits, 0);
    expect(total(spt)).toBeGreaterThan(2 * total(ept));
    // Both exit for the same devices: the I/O exits agree.
    expect(spt.exitsByReason[name(BasicExitReason.IO_INSTRUCTION)]).toBe(
      ept.exitsByReason[name(BasicExitReason.IO_INSTRUCTION)],
    );
    expect(spt.simulatedCycles).toBeGreaterThan(ept.simulatedCycles);
  }, 60_000);

  it('spt reflects exactly the guest faults memdirty defines (one demand-zero #PF per page)', () => {
    const run = (mb: number) =>
      new Vm({ command: `memdirty mb=${mb} passes=1`, mmu: 'spt' }).run({
        maxInstructions: 30_000_000,
      });
    const a = run(2);
    const b = run(3);
    expect(b.status).toBe(0);
    // 1 MiB more = 256 more pages, each one guest #PF the VMM reflects (guest README).
    expect(b.shadowFaults.guest! - a.shadowFaults.guest!).toBe(256);
    expect(b.exits.exceptions - a.exits.exceptions).toBe(256);
    // ...and at least one shadow fill per page for the writes after it.
    expect(b.shadowFaults['not-present']! - a.shadowFaults['not-present']!).toBeGreaterThanOrEqual(
      256,
    );
  }, 60_000);

  it('spt on 2 vCPUs: shared shadow tables, the same results, deterministic', () => {
    const config = { command: 'kbuild tasks=8 jobs=4', mmu: 'spt' as const, vcpus: 2 };
    const a = new Vm(config).run({ maxInstructions: 60_000_000 });
    expect(a.status).toBe(0);
    expect(parseResults(a.console)[0]?.fields.status_sum).toBe(
      parseResults(new Vm({ ...config, vcpus: 1 }).run().console)[0]?.fields.status_sum,
    );
    for (const p of a.perVcpu) expect(p.exits).toBeGreaterThan(0);
    expect(new Vm(config).run({ maxInstructions: 60_000_000 })).toEqual(a);
    // Cut into budgets: the same run (TLB hits aside: they count fast-path restarts).
    const vm = new Vm(config);
    let r = vm.run({ maxInstructions: 250_000 });
    while (r.end === 'budget') r = vm.run({ maxInstructions: 250_000 });
    const strip = (x: VmRunResult) => ({ ...x, tlb: { ...x.tlb, hits: 0 } });
    expect(strip(r)).toEqual(strip(a));
  }, 60_000);

  it('simulated time: vCPUs on spt contend for the shadow lock; fewer pCPUs take longer', () => {
    const command = 'kbuild tasks=8 jobs=4';
    const spt = new Vm({ command, mmu: 'spt', vcpus: 4 }).run({ maxInstructions: 60_000_000 });
    const ept = new Vm({ command, mmu: 'ept', vcpus: 4 }).run({ maxInstructions: 60_000_000 });
    // Every shadow operation takes the lock: faults (not MMIO) and CR3 loads.
    expect(spt.shadowLock.acquisitions).toBeGreaterThan(spt.shadowFaults['page-table-write']!);
    expect(spt.shadowLock.contended).toBeGreaterThan(0);
    expect(spt.shadowLock.waitCycles).toBeGreaterThan(0);
    expect(ept.shadowLock.acquisitions).toBe(0);
    // With a pCPU each, the run lasts as long as its busiest vCPU plus the first dispatch's
    // context switch (the scheduler's figure in the profile)...
    const busiest = Math.max(...spt.perVcpu.map((p) => p.simulatedCycles));
    const cs = defaultProfile.scheduler.contextSwitch.value;
    expect(spt.simulatedCycles).toBe(busiest + cs);
    // ...and with one pCPU for four vCPUs the scheduler runs their work one after another.
    const one = new Vm({ command, mmu: 'ept', vcpus: 4, pcpus: 1 }).run({
      maxInstructions: 60_000_000,
    });
    const sum = one.perVcpu.reduce((a, p) => a + p.simulatedCycles, 0);
    expect(one.simulatedCycles).toBeGreaterThanOrEqual(sum + cs);
    expect(one.simulatedCycles).toBeLessThanOrEqual(sum + 64 * cs);
    expect(one.simulatedCycles).toBeGreaterThan(ept.simulatedCycles);
  }, 60_000);
});
