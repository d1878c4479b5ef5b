// Compiled block factories outlive code-cache flushes (block.ts, FactoryCache): a block decoded
// again from the same bytes at the same address reuses the compiled JavaScript; different
// bytes, or the same bytes at another address, compile afresh. Behaviour must not change.
import { GuestPhysicalMemory } from '@vmkit/memory';
import { describe, expect, it } from 'vitest';
import { buildCachedBlock, type FactoryCache } from '../src/block.js';
import { FlatMemory } from '../src/index.js';
import { machine } from './support/machine.js';

// mov eax, imm32; add eax, [rip + 0x10]; hlt
const code = (imm: number): number[] => [
  0xb8,
  imm & 0xff,
  (imm >>> 8) & 0xff,
  (imm >>> 16) & 0xff,
  imm >>> 24,
  0x03,
  0x05,
  0x10,
  0,
  0,
  0,
  0xf4,
];

describe('compiled block factories', () => {
  it('are shared by blocks from the same bytes at the same address only', () => {
    const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 1 << 16 }] });
    const flat = new FlatMemory(mem);
    const factories: FactoryCache = new Map();
    mem.writeBytes(0x1000, Uint8Array.from(code(5)));
    mem.writeBytes(0x2000, Uint8Array.from(code(5)));
    buildCachedBlock(flat, 0, 0x1000, factories);
    buildCachedBlock(flat, 0, 0x1000, factories);
    expect(factories.size).toBe(1);
    // Same bytes elsewhere: RIP-relative addresses and branch targets differ.
    buildCachedBlock(flat, 0, 0x2000, factories);
    expect(factories.size).toBe(2);
    // Different bytes at the same address.
    mem.writeBytes(0x1000, Uint8Array.from(code(6)));
    buildCachedBlock(flat, 0, 0x1000, factories);
    expect(factories.size).toBe(3);
  });

  it('run the code as it is after a flush, whether the bytes changed or not', () => {
    const { cpu, mem } = machine(code(5));
    mem.write32(0x101b, 100); // the RIP-relative operand: 0x100b + 0x10
    expect(cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(cpu.getReg('rax')).toBe(105n);
    // The same bytes again after a flush (as after a CR3 load).
    cpu.invalidateCode(0x1000, 4096);
    cpu.rip = 0x1000n;
    expect(cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(cpu.getReg('rax')).toBe(105n);
    // New bytes at the same address.
    mem.writeBytes(0x1000, Uint8Array.from(code(7)));
    cpu.invalidateCode(0x1000, 4096);
    cpu.rip = 0x1000n;
    expect(cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(cpu.getReg('rax')).toBe(107n);
    // The same bytes at another address read their own RIP-relative operand.
    mem.writeBytes(0x3000, Uint8Array.from(code(7)));
    mem.write32(0x301b, 1000);
    cpu.rip = 0x3000n;
    expect(cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(cpu.getReg('rax')).toBe(1007n);
    expect(cpu.instructions).toBe(12);
  });
});
