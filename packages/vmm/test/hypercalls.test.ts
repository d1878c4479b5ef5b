import { bootProtocol } from '@vmkit/guest';
import { describe, expect, it } from 'vitest';
import { HYPERCALL_UNKNOWN, MMU_STRATEGIES, Vm, vmkitCpuid } from '../src/index.js';
import { codeOf, elf } from './support/elf.js';

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
/** mov eax, nr; mov edi, a0; mov esi, a1; vmcall; out 0xf4, eax (the result is the status). */
function callThenExit(nr: number, a0: number, a1 = 0): Uint8Array {
  return Uint8Array.from([
    0xb8,
    ...le32(nr),
    0xbf,
    ...le32(a0),
    0xbe,
    ...le32(a1),
    0x0f,
    0x01,
    0xc1,
    0xe7,
    0xf4,
  ]);
}

describe.each(MMU_STRATEGIES)('hypercalls under %s', (mmu) => {
  it('the guest recognises vmkit and its print and exit hypercalls are served', () => {
    const vm = new Vm({ command: 'hypercall', mmu });
    const r = vm.run({ maxInstructions: 20_000_000 });
    expect(r.end).toBe('exit');
    expect(r.status).toBe(0);
    expect(r.console).toContain(
      `signature="${bootProtocol.hypervisorSignature}" max_leaf=0x40000000 vmkit=1`,
    );
    // The raw VMCALL: an empty print returns 0 (guest README, "Hypercalls").
    expect(r.console).toContain('vmcall nr=0x1000 returned rax=0');
    expect(r.console).toContain('hv_print: hello through the hypercall library\n');
    expect(r.console).toContain(
      `RESULT hypercall signature=${bootProtocol.hypervisorSignature} vmcall=0\n`,
    );
    // raw print, two library prints, the exit: four VMCALLs; the debug-exit port was not used.
    expect(r.exits.vmcall).toBe(4);
    expect(vm.debugExit.status).toBeUndefined();
    // Under VMX each is a VMCALL exit (basic reason 18, SDM Vol. 3C §26.1.2).
    if (mmu !== 'native') expect(r.exitsByReason.VMCALL).toBe(4);
  });

  it('serves registered numbers, answers unknown ones with -1000 and bad buffers with -EFAULT', () => {
    const vm = new Vm({ image: elf(callThenExit(0x2000, 41)), memoryMiB: 4, mmu });
    vm.hypercalls.register(0x2000, ({ args }) => ({ result: args[0] + 1n }));
    // Three MOVs, the VMCALL (served by the VMM, it retires for the guest) and the OUT.
    expect(vm.run()).toMatchObject({
      end: 'exit',
      status: 42,
      instructions: 5,
      exits: { vmcall: 1 },
    });
    const unknown = new Vm({ image: elf(callThenExit(0x7777, 0)), memoryMiB: 4, mmu }).run();
    expect(unknown.status).toBe(Number(BigInt.asUintN(32, HYPERCALL_UNKNOWN)));
    const badPrint = new Vm({
      image: elf(callThenExit(0x1000, 0xfff_0000, 16)),
      memoryMiB: 4,
      mmu,
    }).run();
    expect(badPrint.status).toBe(2 ** 32 - 14);
    const print = new Vm({
      image: elf(callThenExit(0x1000, 0x10_0000, 2)),
      memoryMiB: 4,
      mmu,
    }).run();
    // Prints the program's own first two bytes (mov eax: 0xb8 0x00), returns 2.
    expect(print.console).toBe('\xb8\x00');
    expect(print.status).toBe(2);
    expect(codeOf(() => vm.hypercalls.register(0x1000, () => ({ result: 0n })))).toBe('BAD_CONFIG');
  });
});

describe('CPUID', () => {
  it('names vmkit in the hypervisor leaf and sets the hypervisor bit', () => {
    const cpuid = vmkitCpuid(36);
    const [eax, ebx, ecx, edx] = cpuid(0x4000_0000, 0) ?? [0, 0, 0, 0];
    const text = Buffer.alloc(12);
    text.writeUInt32LE(ebx, 0);
    text.writeUInt32LE(ecx, 4);
    text.writeUInt32LE(edx, 8);
    expect(text.toString('latin1')).toBe('vmkitvmkitvm');
    expect(eax).toBe(0x4000_0000);
    expect(((cpuid(1, 0)?.[2] ?? 0) >>> 31) & 1).toBe(1);
  });
});
