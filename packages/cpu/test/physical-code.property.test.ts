// Property: random short loops that store random bytes into their own code through a second
// linear mapping of its frame, run in random budget slices with the code cache, end in the
// same state as one run in the reference mode (decodeCacheSize 0: every instruction fetched
// and decoded afresh right before it executes, nothing cached). The stores hit opcodes,
// ModRM bytes, immediates and the loop branch, so the programs turn into anything: faults,
// other loops, other stores; both modes must agree on all of it (SDM Vol. 3A §8.1.3, §11.6).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Cpu, CpuOptions, StopReason } from '../src/index.js';
import { Spaces } from './support/spaces.js';

const CODE = 0x1_0000;
const ALIAS = 0x3_0000;
const FRAME = 0x4_0000;
const LIMIT = 2000;

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

/** Instruction templates; `store` ones take an offset into the code and a byte. */
type Piece =
  | { kind: 'plain'; bytes: readonly number[] }
  | { kind: 'store8'; at: number; value: number }
  | { kind: 'store32'; at: number };

const plain = fc.oneof(
  fc
    .integer({ min: 0, max: 0xffff_ffff })
    .map((v) => [0x05, ...le32(v)]), // add eax, imm32
  fc
    .integer({ min: 0, max: 0xffff_ffff })
    .map((v) => [0x81, 0xf3, ...le32(v)]), // xor ebx, imm32
  fc.constant([0xff, 0xc1]), // inc ecx
  fc.constant([0x8d, 0x34, 0x18]), // lea esi, [rax + rbx]
  fc.constant([0x48, 0x0f, 0xaf, 0xc1]), // imul rax, rcx
);
const piece: fc.Arbitrary<Piece> = fc.oneof(
  { weight: 3, arbitrary: plain.map((bytes) => ({ kind: 'plain' as const, bytes })) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('store8' as const),
      at: fc.nat(),
      value: fc.integer({ min: 0, max: 255 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('store32' as const), at: fc.nat() }) },
);

/**
 * The loop's bytes, to be placed at page offset `start`: the pieces, then dec edx; jnz start;
 * int3. Store offsets wrap the code.
 */
function assemble(pieces: readonly Piece[], start: number): number[] {
  const size = (p: Piece): number =>
    p.kind === 'plain' ? p.bytes.length : p.kind === 'store8' ? 8 : 7;
  const length = pieces.reduce((n, p) => n + size(p), 0) + 2 + 6 + 1;
  const out: number[] = [];
  for (const p of pieces) {
    if (p.kind === 'plain') out.push(...p.bytes);
    // mov byte [ALIAS + at], imm8
    else if (p.kind === 'store8')
      out.push(0xc6, 0x04, 0x25, ...le32(ALIAS + start + (p.at % length)), p.value);
    // mov [ALIAS + at], eax
    else out.push(0x89, 0x04, 0x25, ...le32(ALIAS + start + (p.at % length)));
  }
  out.push(0xff, 0xca); // dec edx
  out.push(0x0f, 0x85, ...le32((-(out.length + 6) >>> 0) >>> 0)); // jnz start (rel32)
  out.push(0xcc); // int3
  return out;
}

function machine(
  code: number[],
  start: number,
  options: Partial<CpuOptions>,
): { cpu: Cpu; s: Spaces } {
  const s = new Spaces(1 << 20, 0x8_0000);
  const pml4 = s.space();
  s.map(pml4, CODE, FRAME, { user: true, write: false });
  s.map(pml4, CODE + 0x1000, FRAME + 0x1000, { user: true, write: false });
  s.map(pml4, ALIAS, FRAME, { user: true, nx: true });
  s.map(pml4, ALIAS + 0x1000, FRAME + 0x1000, { user: true, nx: true });
  s.identity(pml4, 0x7_0000, 0x8_0000, { user: true, nx: true });
  s.mem.writeBytes(FRAME + start, Uint8Array.from(code));
  const cpu = s.cpu(pml4, { ...options, cpl: 3 });
  cpu.cs = 0x2b;
  cpu.rip = BigInt(CODE + start);
  cpu.setReg('rsp', 0x8_0000n);
  cpu.setReg('rdx', 6n);
  cpu.setReg('rcx', 3n);
  return { cpu, s };
}

function state(cpu: Cpu, s: Spaces, stop: StopReason): unknown {
  const bytes = new Uint8Array(0x2000);
  s.mem.readBytes(FRAME, bytes);
  return {
    stop,
    regs: [...cpu.lo, ...cpu.hi],
    rip: cpu.rip,
    rflags: cpu.rflags,
    instructions: cpu.instructions,
    code: [...bytes],
  };
}

function run(cpu: Cpu, slices: readonly number[]): StopReason {
  let stop: StopReason = { kind: 'budget' };
  for (let k = 0; cpu.instructions < LIMIT; k++) {
    stop = cpu.run(Math.min(slices[k % slices.length]!, LIMIT - cpu.instructions));
    if (stop.kind !== 'budget') break;
  }
  return stop;
}

describe('self-modifying code through a second mapping (property)', () => {
  it('ends as the reference mode does, whatever the budget slices', () => {
    fc.assert(
      fc.property(
        fc.array(piece, { minLength: 1, maxLength: 10 }),
        // At the start of the frame, or across the boundary into the next one (blocks whose
        // last instruction ends in the second frame are tracked in both).
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }),
        (pieces, straddle, slices) => {
          const start = straddle ? 0x1000 - 24 : 0;
          const code = assemble(pieces, start);
          const cached = machine(code, start, {});
          const reference = machine(code, start, { decodeCacheSize: 0 });
          const a = state(cached.cpu, cached.s, run(cached.cpu, slices));
          const b = state(reference.cpu, reference.s, run(reference.cpu, [LIMIT]));
          expect(a).toEqual(b);
        },
      ),
      { numRuns: 150 },
    );
  });
});
