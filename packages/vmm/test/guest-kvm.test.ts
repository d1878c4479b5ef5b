// The Vm boots @vmkit/guest's kernel image and must print what the same image prints under
// KVM (packages/guest's kvm-run, through runOnKvm), the oracle. Only differences that are not
// the VMM's or the CPU's are normalized, for the reasons packages/cpu/test/guest-boot.test.ts
// documents (test/support/normalize.ts lists them).
import { kvmUsability, parseResults, runOnKvm } from '@vmkit/guest';
import { describe, expect, it } from 'vitest';
import { type MmuStrategy, Vm } from '../src/index.js';
import { normalize } from './support/normalize.js';

const kvm = kvmUsability();
if (!kvm.usable) console.log(`vmm guest test: KVM comparison skipped: ${kvm.reason}`);

describe('the guest kernel under the Vm', () => {
  // Each program under one memory strategy (all four covered; hello and compute run under
  // every strategy in strategies.test.ts): the guest must not see which.
  const programs: [string, number, MmuStrategy][] = [
    ['hello', 0, 'native'],
    ['syscalls', 0, 'spt'],
    ['faults', 0, 'spt'],
    ['compute', 0, 'ept-lp'],
    ['kfault', 0x1000e, 'spt'],
    ['kdoublefault', 0x10008, 'spt'],
    ['memdirty', 0, 'ept'],
    ['web requests=32', 0, 'ept'],
    ['kbuild tasks=16', 0, 'native'],
  ];
  for (const [command, status, mmu] of programs) {
    it(`${command} (${mmu}): exits with status 0x${status.toString(16)}${kvm.usable ? ', console as under KVM' : ''}`, async () => {
      const r = new Vm({ command, mmu }).run({ maxInstructions: 50_000_000 });
      expect(r.end).toBe('exit');
      expect(r.status).toBe(status);
      expect(r.console).toContain(`cmdline="${command}"`);
      expect(r.exits.io).toBeGreaterThan(0);
      if (kvm.usable) {
        const k = await runOnKvm({ command });
        expect(k.status).toBe(status);
        expect(normalize(r.console)).toBe(normalize(k.stdout));
      }
    }, 60_000);
  }

  it('counts one #PF per demand-zero page memdirty touches (guest README: heap/mmap pages are demand-zero)', () => {
    const faults = (mb: number) =>
      new Vm({ command: `memdirty mb=${mb} passes=2` }).run({ maxInstructions: 20_000_000 }).exits
        .exceptions;
    // 1 MiB more mapping = 256 more 4 KiB pages, each faulting once on its first touch.
    expect(faults(3) - faults(2)).toBe(256);
    expect(faults(4) - faults(2)).toBe(512);
  }, 60_000);

  it('compute with parameters gives the RESULT fields KVM gives', async () => {
    const command = 'compute n=3000 m=16 seed=7 iters=2';
    const r = new Vm({ command, timerQuantum: 250_000 }).run({ maxInstructions: 50_000_000 });
    expect(r.status).toBe(0);
    const mine = parseResults(r.console)[0];
    expect(mine?.program).toBe('compute');
    expect(mine?.fields.checksum).toMatch(/^0x[0-9a-f]+$/);
    if (kvm.usable) {
      const k = await runOnKvm({ command });
      expect(mine?.fields).toEqual(parseResults(k.stdout)[0]?.fields);
    }
  }, 60_000);
});
