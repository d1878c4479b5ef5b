// Run by scripts/pack-install-test.mjs in an empty project where only the packed tarballs are
// installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import { Cpu, decode, FlatMemory } from '@vmkit/cpu';
import { GuestPhysicalMemory } from '@vmkit/memory';

const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 0x10000 }] });
// mov ecx, 10; xor eax, eax; loop: add eax, ecx; dec ecx; jnz loop; hlt
mem.writeBytes(
  0x1000,
  Uint8Array.from([0xb9, 10, 0, 0, 0, 0x31, 0xc0, 0x01, 0xc8, 0xff, 0xc9, 0x75, 0xfa, 0xf4]),
);
const cpu = new Cpu({ memory: new FlatMemory(mem) });
cpu.rip = 0x1000n;
assert.deepEqual(cpu.run(1000), { kind: 'hlt' });
assert.equal(cpu.getReg('rax'), 55n);
assert.equal(decode((i) => [0x48, 0x01, 0xd8][i]).mnemonic, 'Add');

// VMX non-root operation: HLT exiting turns the same HLT into a VM exit (basic reason 12).
cpu.rip = 0x1000n;
cpu.vmEntry({ pinBased: 0, primary: 1 << 7, secondary: 0, exceptionBitmap: 0 });
const stop = cpu.run(1000);
assert.equal(stop.kind, 'vm-exit');
assert.equal(stop.info.exitReason, 12);
