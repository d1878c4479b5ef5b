// Self-modifying-code bookkeeping at byte granularity: a store drops cached blocks exactly
// when it writes a byte of a cached instruction, not when it merely shares a 64-byte line with
// one (gcc places small `.data` variables right after `.text`).
import { GuestPhysicalMemory } from '@vmkit/memory';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodeCache, Cpu, compileBlock, decode, FlatMemory } from '../src/index.js';
import { machine } from './support/machine.js';

// Encodings of 1, 3, 5 and 10 bytes: nop; add eax, 1; mov eax, imm32; mov rax, imm64.
const ENCODINGS = [
  [0x90],
  [0x83, 0xc0, 0x01],
  [0xb8, 1, 2, 3, 4],
  [0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8],
];

describe('code cache: stores near cached code', () => {
  it('drops a block iff the store writes one of its instruction bytes (property)', () => {
    fc.assert(
      fc.property(
        // Start anywhere in a page, so that blocks may cross into the next page.
        fc.integer({ min: 0x10_0000, max: 0x10_1fff }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: -80, max: 120 }),
        fc.constantFrom(1, 2, 4, 8),
        (start, kinds, offset, size) => {
          const instructions = kinds.map((k) => decode((i) => ENCODINGS[k]![i]!));
          const length = instructions.reduce((n, ins) => n + ins.length, 0);
          const cache = new CodeCache(1024);
          const block = compileBlock(start, instructions);
          cache.insert(block);
          const store = start + offset;
          cache.noteStore(store, size);
          const overlaps = store < start + length && store + size > start;
          expect(cache.lookup(start) === undefined).toBe(overlaps);
          expect(cache.epoch !== 0).toBe(overlaps);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('drops exactly the frames whose code a store writes, at any physical address (property)', () => {
    // Frames below, inside and above the store filter's bitmap (it covers 2^20 frames at
    // first, grows to 2^24, and leaves higher frames to the page map).
    const frame = fc.oneof(
      fc.integer({ min: 0, max: 64 }),
      fc.integer({ min: (1 << 20) - 4, max: (1 << 20) + 4 }),
      fc.integer({ min: (1 << 24) - 4, max: (1 << 24) + 4 }),
      fc.integer({ min: 2 ** 30, max: 2 ** 30 + 4 }),
    );
    // A block inside one frame: offset 0..4000, at most 8 instructions of at most 10 bytes.
    const block = fc.record({
      frame,
      offset: fc.integer({ min: 0, max: 4000 }),
      kinds: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 8 }),
    });
    const op = fc.oneof(
      fc.record({ kind: fc.constant('insert' as const), block }),
      // Near an inserted block (so that stores hit code often), or anywhere in a frame.
      fc.record({
        kind: fc.constant('store' as const),
        near: fc.nat(),
        delta: fc.integer({ min: -12, max: 90 }),
        size: fc.constantFrom(1, 2, 4, 8),
      }),
      fc.record({
        kind: fc.constant('store' as const),
        frame,
        offset: fc.integer({ min: 0, max: 4095 }),
        size: fc.constantFrom(1, 2, 4, 8),
      }),
      fc.record({ kind: fc.constant('clear' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 30 }), (ops) => {
        const cache = new CodeCache(1 << 20);
        // The model: cached blocks by start, with their byte range; a store writing a byte of
        // one drops every block of that frame.
        const model = new Map<number, { frame: number; end: number }>();
        const inserted: number[] = [];
        for (const o of ops) {
          if (o.kind === 'insert') {
            const start = o.block.frame * 4096 + o.block.offset;
            const instructions = o.block.kinds.map((k) => decode((i) => ENCODINGS[k]![i]!));
            const length = instructions.reduce((n, ins) => n + ins.length, 0);
            cache.insert(compileBlock(start, instructions));
            model.set(start, { frame: o.block.frame, end: start + length });
            inserted.push(start);
          } else if (o.kind === 'store') {
            if ('near' in o && inserted.length === 0) continue;
            const at =
              'near' in o
                ? Math.max(0, inserted[o.near % inserted.length]! + o.delta)
                : o.frame * 4096 + o.offset;
            // Every frame the store reaches (it may cross into the next one) whose code it
            // writes loses all its blocks.
            const hitFrames = new Set<number>();
            for (const [start, b] of model) {
              if (at < b.end && at + o.size > start) hitFrames.add(b.frame);
            }
            for (const [start, b] of model) if (hitFrames.has(b.frame)) model.delete(start);
            cache.noteStore(at, o.size);
          } else {
            cache.clear();
            model.clear();
          }
          for (const [start] of model) expect(cache.lookup(start)?.start).toBe(start);
        }
        // Blocks the model dropped are gone from the cache too.
        for (const o of ops) {
          if (o.kind !== 'insert') continue;
          const start = o.block.frame * 4096 + o.block.offset;
          if (!model.has(start)) expect(cache.lookup(start)).toBeUndefined();
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a loop compiled while it stores to a variable right after its code', () => {
    // 0x1000: mov ecx, 1000
    // 0x1005: add dword [rip+8], ecx  (the variable at 0x1013, the byte after the hlt)
    // 0x100b: dec ecx
    // 0x100d: jne 0x1005
    // 0x100f: nop; nop; nop
    // 0x1012: hlt
    // 0x1013: dd 0 (shares the 64-byte line 0x1000-0x103f with the code)
    const code = [
      0xb9, 0xe8, 0x03, 0x00, 0x00, 0x01, 0x0d, 0x08, 0x00, 0x00, 0x00, 0xff, 0xc9, 0x75, 0xf6,
      0x90, 0x90, 0x90, 0xf4, 0, 0, 0, 0,
    ];
    const { cpu, mem } = machine(code);
    expect(cpu.run(10_000)).toEqual({ kind: 'hlt' });
    expect(mem.read32(0x1013)).toBe(500_500);
    expect(cpu.instructions).toBe(1 + 3 * 1000 + 4);
    // No store wrote an instruction byte: nothing was dropped or recompiled.
    expect(cpu.code.epoch).toBe(0);
  });

  it('still drops the code when a store writes an immediate of cached code', () => {
    // 0x1000: xor ecx, ecx
    // 0x1002: mov eax, 1          (imm32 at 0x1003)
    // 0x1007: inc ecx
    // 0x1009: mov byte [rip-0xd], 7  (rip after = 0x1010; 0x1010-0xd = 0x1003)
    // 0x1010: cmp ecx, 2
    // 0x1013: jne 0x1002
    // 0x1015: hlt
    const code = [
      0x31, 0xc9, 0xb8, 0x01, 0x00, 0x00, 0x00, 0xff, 0xc1, 0xc6, 0x05, 0xf3, 0xff, 0xff, 0xff,
      0x07, 0x83, 0xf9, 0x02, 0x75, 0xed, 0xf4,
    ];
    const { cpu } = machine(code);
    expect(cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(cpu.getReg('rax')).toBe(7n);
    expect(cpu.code.epoch).toBeGreaterThan(0);
  });

  it('byte bitmaps are dropped with their page: recompiled code is tracked afresh', () => {
    const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 1 << 16 }] });
    // 0x1000: inc eax; hlt (3 bytes)
    mem.writeBytes(0x1000, Uint8Array.from([0xff, 0xc0, 0xf4]));
    const cpu = new Cpu({ memory: new FlatMemory(mem) });
    cpu.rip = 0x1000n;
    expect(cpu.run(10)).toEqual({ kind: 'hlt' });
    cpu.code.noteStore(0x1001, 1);
    const epoch = cpu.code.epoch;
    expect(epoch).toBe(1);
    // A longer program at the same place: its new bytes are code now.
    mem.writeBytes(0x1000, Uint8Array.from([0xff, 0xc0, 0xff, 0xc0, 0xf4]));
    cpu.rip = 0x1000n;
    expect(cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(cpu.getReg('rax')).toBe(3n);
    cpu.code.noteStore(0x1004, 1);
    expect(cpu.code.epoch).toBe(epoch + 1);
  });
});
