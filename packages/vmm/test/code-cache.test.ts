// The VM's vCPUs share one code cache keyed by physical address (@vmkit/cpu's CodeCache): a
// store by any vCPU or by the host through `vm.memory` drops the blocks it overwrites for all
// of them, and CR3 loads no longer throw compiled code away.
import { describe, expect, it } from 'vitest';
import { Vm } from '../src/index.js';

describe('the shared code cache', () => {
  it('is one cache for every vCPU', () => {
    const vm = new Vm({ command: 'hello', vcpus: 3, mmu: 'ept' });
    for (const v of vm.vcpus) expect(v.cpu.code).toBe(vm.code);
  });

  it('drops code the host overwrites through vm.memory, and only that', () => {
    const vm = new Vm({ command: 'hello', mmu: 'native' });
    vm.run({ maxInstructions: 20_000 });
    const cpu = vm.vcpus[0]!.cpu;
    // A frame holding the first byte of a cached block.
    const code = [...vm.code.pages].find(([, page]) => page.count > 0)![0];
    const before = vm.code.stats.invalidatedPages;
    // A write to a frame without code changes nothing.
    const free = 0x9000_00 / 4096;
    expect(vm.code.pages.has(free)).toBe(false);
    vm.memory.write32(free * 4096, 0);
    expect(vm.code.stats.invalidatedPages).toBe(before);
    // Rewriting cached instruction bytes with themselves is still a store into code.
    const byte = vm.memory.read8(code * 4096 + firstCodeOffset(vm, code));
    vm.memory.writeBytes(code * 4096 + firstCodeOffset(vm, code), Uint8Array.of(byte));
    expect(vm.code.stats.invalidatedPages).toBeGreaterThan(before);
    expect(vm.code.pages.has(code)).toBe(false);
    // The guest runs on, decoding the dropped code again.
    const r = vm.run({ maxInstructions: 20_000_000 });
    expect(r.end).toBe('exit');
    expect(cpu.code).toBe(vm.code);
  });

  it('keeps kernel code across the CR3 loads of a multi-process guest on two vCPUs', () => {
    const vm = new Vm({ command: 'kbuild tasks=8 jobs=4', vcpus: 2, mmu: 'ept' });
    const r = vm.run({ maxInstructions: 100_000_000 });
    expect(r.end).toBe('exit');
    expect(r.status).toBe(0);
    const stats = vm.code.stats;
    // Far fewer blocks decoded than block entries served from the cache, and no full flush.
    expect(stats.clears).toBe(0);
    expect(stats.hits).toBeGreaterThan(10 * stats.decodes);
  });
});

/** The page offset of the first cached block's first byte in frame `page`. */
function firstCodeOffset(vm: Vm, page: number): number {
  const slots = vm.code.pages.get(page)!.slots;
  const offset = slots.findIndex((b) => b !== undefined);
  return offset < 0 ? 0 : offset;
}
