// Every memory strategy must run the guest exactly as KVM does (the console is the oracle),
// and its counters must agree with what the strategy is: native has no VM exits, EPT adds EPT
// references to the guest's walks, and no guest-physical address reaches the VMM's EPT tables.

import type { NestedMmu } from '@vmkit/ept';
import { kvmUsability, runOnKvm } from '@vmkit/guest';
import { WalkOutcome } from '@vmkit/paging';
import { BasicExitReason, basicExitReasonName } from '@vmkit/vmx';
import { describe, expect, it } from 'vitest';
import {
  bootLayout,
  MMU_STRATEGIES,
  PROGRESS_INTERVAL,
  Vm,
  type VmRunResult,
} from '../src/index.js';
import { elf } from './support/elf.js';
import { normalize } from './support/normalize.js';

const kvm = kvmUsability();
const RUNNABLE = ['native', 'spt', 'ept', 'ept-lp'] as const;
const name = (reason: number) => basicExitReasonName(reason)!;

describe('memory strategies', () => {
  for (const command of ['hello', 'compute']) {
    it(`${command}: the same console under ${RUNNABLE.join(', ')}${kvm.usable ? ' as under KVM' : ''}`, async () => {
      const runs = new Map<string, VmRunResult>();
      for (const mmu of RUNNABLE) {
        const r = new Vm({ command, mmu }).run({ maxInstructions: 50_000_000 });
        expect(r.end).toBe('exit');
        expect(r.status).toBe(0);
        expect(r.mmu).toBe(mmu);
        expect(r.vcpus).toBe(1);
        runs.set(mmu, r);
      }
      const native = runs.get('native')!;
      for (const mmu of RUNNABLE) {
        const r = runs.get(mmu)!;
        // Memory virtualization is invisible to the guest: same instructions, same output.
        expect(r.console).toBe(native.console);
        expect(r.instructions).toBe(native.instructions);
      }
      if (kvm.usable) {
        const k = await runOnKvm({ command });
        expect(normalize(native.console)).toBe(normalize(k.stdout));
      }
    }, 60_000);
  }

  it('counts VM exits by SDM reason under EPT and none under native', () => {
    const native = new Vm({ command: 'hello' }).run();
    const ept = new Vm({ command: 'hello', mmu: 'ept' }).run();
    expect(native.exitsByReason).toEqual({});
    expect(native.exitsByRip).toEqual([]);
    expect(native.perVcpu[0]!.exits).toBe(0);
    // Each VMM service of the root-mode run is one exit of the VMX reason that stands for it.
    expect(ept.exitsByReason[name(BasicExitReason.IO_INSTRUCTION)]).toBe(ept.exits.io);
    expect(
      (ept.exitsByReason[name(BasicExitReason.RDMSR)] ?? 0) +
        (ept.exitsByReason[name(BasicExitReason.WRMSR)] ?? 0),
    ).toBe(ept.exits.msr);
    // The kernel asks CPUID at least for the x2APIC check (apic_init).
    expect(ept.exitsByReason[name(BasicExitReason.CPUID)]).toBeGreaterThanOrEqual(1);
    const total = Object.values(ept.exitsByReason).reduce((a, b) => a + b, 0);
    expect(ept.perVcpu[0]!.exits).toBe(total);
    // By RIP: sorted, at most 20, and the UART polling loop is where most I/O exits come from.
    expect(ept.exitsByRip.length).toBeLessThanOrEqual(20);
    for (let i = 1; i < ept.exitsByRip.length; i++)
      expect(ept.exitsByRip[i - 1]!.count).toBeGreaterThanOrEqual(ept.exitsByRip[i]!.count);
    expect(ept.exitsByRip[0]!.reason).toBe(name(BasicExitReason.IO_INSTRUCTION));
    expect(ept.shadowFaults).toEqual({});
  });

  it('EPT walks add EPT references to the guest walks; 2 MiB EPT pages need fewer', () => {
    const run = (mmu: (typeof RUNNABLE)[number]) => {
      const vm = new Vm({ command: 'memdirty mb=2 passes=1', mmu });
      const r = vm.run({ maxInstructions: 50_000_000 });
      // NestedMmu's counters: all references of its 2-D walks, and the guest-entry share.
      const stats = (vm.vcpus[0]!.translation.mmu as NestedMmu).stats;
      return { r, stats };
    };
    const native = run('native').r;
    const ept = run('ept');
    const lp = run('ept-lp');
    expect(native.walkReferences).toBeGreaterThan(0);
    expect(native.tlb.misses).toBeGreaterThan(0);
    for (const { r, stats } of [ept, lp]) {
      expect(r.walkReferences).toBe(stats.references);
      expect(stats.references - stats.guestReferences).toBeGreaterThan(0);
      expect(r.tlb).toEqual({ hits: stats.hits, misses: stats.misses });
    }
    // 2 MiB leaves end EPT walks one level earlier and cover more per cached mapping.
    const eptOnly = (x: typeof ept) => x.stats.references - x.stats.guestReferences;
    expect(eptOnly(lp)).toBeLessThan(eptOnly(ept));
    expect(lp.r.walkReferences).toBeLessThan(ept.r.walkReferences);
    // Simulated time: the same guest work plus exits and EPT references costs more.
    expect(ept.r.simulatedCycles).toBeGreaterThan(native.simulatedCycles);
    expect(lp.r.simulatedCycles).toBeLessThan(ept.r.simulatedCycles);
    expect(ept.r.simulatedSeconds).toBeGreaterThan(0);
  }, 60_000);

  it('no guest-physical address reaches the EPT tables above guest RAM', () => {
    for (const mmu of ['ept', 'ept-lp'] as const) {
      const vm = new Vm({ command: 'hello', mmu, memoryMiB: 8 });
      const mmuOf = vm.vcpus[0]!.translation.mmu;
      // Map linear 8 MiB to guest-physical 8 MiB (just past RAM, where the host keeps the EPT
      // tables) with a 2 MiB PDE in the boot page directory (SDM Vol. 3A Table 4-15).
      vm.memory.write32(bootLayout.pd + 8 * 4, 0x80_0000 | 0x83);
      expect(vm.strategy.tableBytes()).toBeGreaterThan(0);
      expect(mmuOf.translate(0, 0x80_0000, 0)).toBe(WalkOutcome.SECOND_STAGE_FAULT);
      // Inside RAM the same walk succeeds, at the identity host address.
      expect(mmuOf.translate(0, 0x60_0010, 0)).toBe(WalkOutcome.OK);
      expect(mmuOf.result.hostPhysical).toBe(0x60_0010);
    }
  });

  it('stops the VM on an EPT violation, naming the guest-physical address', () => {
    // mov eax, [0x580000]; out 0xf4, eax — 5.5 MiB is inside the boot identity map (whole
    // 2 MiB pages) but past the 5 MiB of RAM.
    const image = elf(Uint8Array.from([0x8b, 0x04, 0x25, 0x00, 0x00, 0x58, 0x00, 0xe7, 0xf4]));
    for (const mmu of ['ept', 'ept-lp'] as const) {
      const r = new Vm({ image, memoryMiB: 5, mmu }).run();
      expect(r.end).toBe('ept-violation');
      expect(r.error).toMatch(/EPT violation at guest-physical 0x580000 /);
      expect(r.exitsByReason['EPT violation']).toBe(1);
    }
    // Without EPT the access is a machine check for the guest (no IDT here: shutdown).
    for (const mmu of ['native', 'spt'] as const)
      expect(new Vm({ image, memoryMiB: 5, mmu }).run().end).toBe('triple-fault');
  });

  it('lists every strategy and refuses unknown ones', () => {
    expect(MMU_STRATEGIES).toEqual(['native', 'spt', 'ept', 'ept-lp']);
    expect(() => new Vm({ mmu: 'npt' as never })).toThrow(
      expect.objectContaining({ code: 'BAD_CONFIG' }),
    );
    expect(() => new Vm({ vcpus: 9 })).toThrow(expect.objectContaining({ code: 'BAD_CONFIG' }));
    expect(() => new Vm({ pcpus: 0 })).toThrow(expect.objectContaining({ code: 'BAD_CONFIG' }));
  });

  it('reports progress at most every PROGRESS_INTERVAL instructions, with the total so far', () => {
    const seen: number[] = [];
    const r = new Vm({ command: 'compute n=10000', mmu: 'ept' }).run({
      onProgress: (n) => seen.push(n),
    });
    expect(r.end).toBe('exit');
    expect(seen.length).toBeGreaterThanOrEqual(2);
    // At most one call per interval of PROGRESS_INTERVAL instructions.
    for (let i = 1; i < seen.length; i++)
      expect(Math.floor(seen[i]! / PROGRESS_INTERVAL)).toBeGreaterThan(
        Math.floor(seen[i - 1]! / PROGRESS_INTERVAL),
      );
    expect(seen.at(-1)!).toBeLessThanOrEqual(r.instructions);
    // Progress does not change the run.
    expect(new Vm({ command: 'compute n=10000', mmu: 'ept' }).run()).toEqual(r);
  }, 60_000);
});
