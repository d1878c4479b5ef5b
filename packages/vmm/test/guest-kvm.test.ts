// The Vm boots @vmkit/guest's kernel image and must print what the same image prints under
// KVM (packages/guest's kvm-run, through runOnKvm), the oracle. Only differences that are not
// the VMM's or the CPU's are normalized, for the reasons packages/cpu/test/guest-boot.test.ts
// documents:
// - "system calls: A by SYSCALL/SYSRET, B completed from #PF": this project's KVM (PVM
//   backend) only half-completes SYSCALL and the kernel finishes it from the #PF; the
//   interpreter completes it architecturally. The total must agree.
// - cr2=... in reports of non-#PF exceptions: under KVM CR2 holds that SYSCALL fallback's
//   address, and for #DF the KVM backend leaves CR2 unwritten.
// - cr3=... in user exception reports: which page a new PML4 gets is timer-dependent.
// - ticks=N in RESULT lines: the Vm counts ticks in instructions, KVM in wall-clock time.
// - a leading 0x01 byte: kvm-run prints the UART divisor-latch write as a character; the Vm
//   models LCR.DLAB.
import { kvmUsability, parseResults, runOnKvm } from '@vmkit/guest';
import { describe, expect, it } from 'vitest';
import { Vm } from '../src/index.js';

function normalize(text: string): string {
  return (text.startsWith(String.fromCharCode(1)) ? text.slice(1) : text)
    .replace(/(user exception: .*) cr3=0x[0-9a-f]+/g, '$1 cr3=*')
    .replace(/ ticks=\d+/g, ' ticks=*')
    .replace(
      /system calls: (\d+) by SYSCALL\/SYSRET, (\d+) completed from #PF/g,
      (_, a: string, b: string) => `system calls: ${Number(a) + Number(b)}`,
    )
    .replace(/(vector=(?!14)\d+ .*) cr2=0x[0-9a-f]+/g, '$1 cr2=*');
}

const kvm = kvmUsability();
if (!kvm.usable) console.log(`vmm guest test: KVM comparison skipped: ${kvm.reason}`);

describe('the guest kernel under the Vm', () => {
  const programs: [string, number][] = [
    ['hello', 0],
    ['syscalls', 0],
    ['faults', 0],
    ['compute', 0],
    ['kfault', 0x1000e],
    ['kdoublefault', 0x10008],
    ['memdirty', 0],
    ['web', 0],
    ['kbuild', 0],
  ];
  for (const [command, status] of programs) {
    it(`${command}: exits with status 0x${status.toString(16)}${kvm.usable ? ', console as under KVM' : ''}`, async () => {
      const r = new Vm({ command }).run({ maxInstructions: 50_000_000 });
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
