// Compiled blocks outlive code-cache flushes and are shared by every CPU of the process
// (block.ts, FactoryCache, SHARED_FACTORIES): a block decoded again from the same bytes at the
// same address reuses the compiled JavaScript; different bytes, or the same bytes at another
// address, compile afresh. Behaviour must not change.
import { GuestPhysicalMemory } from '@vmkit/memory';
import { describe, expect, it } from 'vitest';
import { buildCachedBlock, type FactoryCache, SHARED_FACTORIES } from '../src/block.js';
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

  it('are shared by CPUs, each with blocks of its own (CPL, physical address, links)', () => {
    // Bytes no other test uses, so the shared cache has not seen them.
    const bytes = code(0x5eed_0001);
    const a = machine(bytes);
    const b = machine(bytes, 3);
    a.mem.write32(0x101b, 1);
    b.mem.write32(0x101b, 2);
    expect(a.cpu.run(10)).toEqual({ kind: 'hlt' });
    const sizeAfterA = SHARED_FACTORIES.size;
    // CPL 3: HLT faults, after the two instructions before it ran.
    expect(b.cpu.run(10)).toMatchObject({ kind: 'exception', vector: 13 });
    expect(SHARED_FACTORIES.size).toBe(sizeAfterA);
    const blockA = a.cpu.code.lookup(0x1000)!;
    const blockB = b.cpu.code.lookup(0x1000)!;
    expect(blockB).not.toBe(blockA);
    expect(blockB.run).toBe(blockA.run);
    expect(blockB.instructions).toBe(blockA.instructions);
    expect([blockA.cpl, blockB.cpl]).toEqual([0, 3]);
    // Each ran on its own registers and memory.
    expect(a.cpu.getReg('rax')).toBe(BigInt(0x5eed_0001 + 1));
    expect(b.cpu.getReg('rax')).toBe(BigInt(0x5eed_0001 + 2));
    // A store into one CPU's code drops only that CPU's block; the other keeps running its own.
    a.mem.write8(0x1001, 0x02);
    a.cpu.invalidateCode(0x1000, 16);
    a.cpu.rip = 0x1000n;
    expect(a.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(a.cpu.getReg('rax')).toBe(BigInt(0x5eed_0002 + 1));
    expect(b.cpu.code.lookup(0x1000)).toBe(blockB);
  });
});
