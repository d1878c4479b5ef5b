import { GuestPhysicalMemory } from '@vmkit/memory';
import { Cpu, FlatMemory } from '../../src/index.js';

/** A CPU over 1 MiB of flat memory with `code` at 0x1000 and RSP at 0x80000. */
export function machine(
  code: number[] | Uint8Array,
  cpl: 0 | 3 = 0,
): { cpu: Cpu; mem: GuestPhysicalMemory } {
  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 1 << 20 }] });
  mem.writeBytes(0x1000, Uint8Array.from(code));
  const cpu = new Cpu({ memory: new FlatMemory(mem), cpl });
  cpu.rip = 0x1000n;
  cpu.setReg('rsp', 0x80000n);
  return { cpu, mem };
}
