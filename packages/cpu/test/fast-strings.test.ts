// The fast-string counters (Cpu.fastStrings): REP MOVS/STOS starts, elements and bytes, against
// hand counts of hand-assembled programs and against an independent model of a straight-line
// program (how many instructions precede each REP, how many elements of what size it moves),
// at every stop of random budget splits, in the cached and the reference (decodeCacheSize: 0)
// modes, and across faults and VM exits in the middle of a REP.
import { PinBasedControls } from '@vmkit/vmx';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cpu, FlatMemory } from '../src/index.js';
import { machine } from './support/machine.js';
import { NONE } from './support/vmx.js';

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const movEcx = (v: number) => [0xb9, ...le32(v)];
const movEsi = (v: number) => [0xbe, ...le32(v)];
const movEdi = (v: number) => [0xbf, ...le32(v)];
const STD = 0xfd;
const CLD = 0xfc;
const HLT = 0xf4;

/** REP MOVS or REP STOS of one element size, hand-encoded (SDM Vol. 2 MOVS, STOS opcodes). */
function rep(op: 'movs' | 'stos', size: 1 | 2 | 4 | 8): number[] {
  const opcode = op === 'movs' ? 0xa4 : 0xaa;
  if (size === 1) return [0xf3, opcode];
  if (size === 2) return [0x66, 0xf3, opcode + 1];
  if (size === 4) return [0xf3, opcode + 1];
  return [0xf3, 0x48, opcode + 1];
}

function counts(cpu: Cpu) {
  return cpu.fastStrings;
}

describe('hand-assembled programs', () => {
  for (const op of ['movs', 'stos'] as const) {
    for (const size of [1, 2, 4, 8] as const) {
      for (const down of [false, true]) {
        it(`REP ${op.toUpperCase()} of 37 ${size}-byte elements${down ? ' with DF = 1' : ''}`, () => {
          const code = [
            ...(down ? [STD] : [CLD]),
            ...movEcx(37),
            ...movEsi(0x40000),
            ...movEdi(0x60000),
            ...rep(op, size),
            HLT,
          ];
          const { cpu, mem } = machine(code);
          for (let k = 0; k < 37 * 8; k++) mem.write8(0x40000 - 37 * 8 + k, k & 0xff);
          cpu.setReg('rax', 0x1122334455667788n);
          expect(cpu.run(1000)).toEqual({ kind: 'hlt' });
          expect(counts(cpu)).toEqual({ starts: 1, elements: 37, bytes: 37 * size });
          expect(cpu.retiredByClass.string).toBe(37);
          // DF decides the direction of RDI, not what is counted.
          expect(cpu.getReg('rdi')).toBe(BigInt(0x60000 + (down ? -37 : 37) * size));
        });
      }
    }
  }

  it('counts nothing for RCX = 0, non-repeated MOVS/STOS, or the element-wise forms', () => {
    const code = [
      ...movEcx(0),
      ...rep('movs', 8), // RCX = 0: no start (one `string` retirement)
      ...movEsi(0x40000),
      ...movEdi(0x60000),
      0xa4, // movsb
      0x48,
      0xab, // stosq
      ...movEcx(5),
      0xf3,
      0xac, // rep lodsb
      ...movEcx(5),
      ...movEdi(0x60000),
      0xf3,
      0xae, // repe scasb
      ...movEcx(5),
      0xf3,
      0xa6, // repe cmpsb
      HLT,
    ];
    const { cpu } = machine(code);
    expect(cpu.run(1000)).toEqual({ kind: 'hlt' });
    expect(counts(cpu)).toEqual({ starts: 0, elements: 0, bytes: 0 });
    expect(cpu.retiredByClass.string).toBeGreaterThan(3);
  });

  it('keeps the elements before a fault, and counts the resumption as a start', () => {
    // 48 bytes up to the end of RAM at 1 MiB: 16 elements fit, the 17th faults (#PF).
    const code = [...movEcx(48), ...movEsi(0x40000), ...movEdi(0x100000 - 16), ...rep('movs', 1)];
    const { cpu } = machine([...code, HLT]);
    const stop = cpu.run(1000);
    expect(stop).toMatchObject({ kind: 'exception', vector: 14 });
    expect(counts(cpu)).toEqual({ starts: 1, elements: 16, bytes: 16 });
    expect(cpu.getReg('rcx')).toBe(32n);
    // The "handler" moves the destination; the REP resumes where it stopped.
    cpu.setReg('rdi', 0x70000n);
    expect(cpu.run(1000)).toEqual({ kind: 'hlt' });
    expect(counts(cpu)).toEqual({ starts: 2, elements: 48, bytes: 48 });
  });

  it('counts a resumption after a VM exit in the middle as a start', () => {
    // The exception bitmap turns the #PF into a VM exit (reason 0) at element 17.
    const code = [...movEcx(48), ...movEsi(0x40000), ...movEdi(0x100000 - 16), ...rep('stos', 1)];
    const { cpu } = machine([...code, HLT]);
    cpu.vmEntry({ ...NONE, exceptionBitmap: 1 << 14 });
    expect(cpu.run(1000)).toMatchObject({ kind: 'vm-exit' });
    expect(counts(cpu)).toEqual({ starts: 1, elements: 16, bytes: 16 });
    cpu.setReg('rdi', 0x70000n);
    expect(cpu.run(1000)).toEqual({ kind: 'hlt' });
    expect(counts(cpu)).toEqual({ starts: 2, elements: 48, bytes: 48 });
  });

  it('does not count a resumption after a budget stop, but does after an interrupt exit', () => {
    const code = [...movEcx(100), ...movEdi(0x60000), ...rep('stos', 4), HLT];
    const { cpu } = machine(code);
    cpu.vmEntry({ ...NONE, pinBased: PinBasedControls.EXTERNAL_INTERRUPT_EXITING });
    expect(cpu.run(12)).toEqual({ kind: 'budget' });
    expect(cpu.run(10)).toEqual({ kind: 'budget' });
    expect(counts(cpu)).toEqual({ starts: 1, elements: 20, bytes: 80 });
    // An interrupt arrives: the next run exits before the REP goes on (SDM Vol. 3C §26.2).
    cpu.requestInterrupt(0x30);
    expect(cpu.run(10)).toMatchObject({ kind: 'vm-exit' });
    expect(cpu.run(1000)).toEqual({ kind: 'hlt' });
    expect(counts(cpu)).toEqual({ starts: 2, elements: 100, bytes: 400 });
  });

  it('counts every single-stepped element as a start: each #DB trap interrupts the REP', () => {
    const code = [...movEcx(3), ...movEdi(0x60000), ...rep('stos', 8), HLT];
    const { cpu } = machine(code);
    cpu.rflags = 0x102n; // TF
    for (let k = 0; k < 5; k++) {
      expect(cpu.run(1000)).toMatchObject({ kind: 'exception', vector: 1 });
    }
    expect(counts(cpu)).toEqual({ starts: 3, elements: 3, bytes: 24 });
  });
});

// A straight-line program of REP MOVS/STOS pieces, and the model of its counts after any number
// of retired instructions: each piece is 4 set-up instructions (CLD/STD, RCX, RSI, RDI), then the
// REP (n elements, or one retirement when n = 0).
interface Piece {
  readonly op: 'movs' | 'stos';
  readonly size: 1 | 2 | 4 | 8;
  readonly n: number;
  readonly down: boolean;
  /** When set and 0 < k < n: RDI is placed so that element k faults (#PF, past RAM or below 0). */
  readonly faultAt?: number;
}

/** Where RDI starts: clear of everything, or so that element `faultAt` leaves RAM. */
function destination(p: Piece): number {
  const k = p.faultAt;
  if (k === undefined || k <= 0 || k >= p.n) return 0x60000;
  return p.down ? (k - 1) * p.size : 0x100000 - k * p.size;
}

function assemble(pieces: readonly Piece[]): number[] {
  return [
    ...pieces.flatMap((p) => [
      p.down ? STD : CLD,
      ...movEcx(p.n),
      ...movEsi(0x40000),
      ...movEdi(destination(p)),
      ...rep(p.op, p.size),
    ]),
    HLT,
  ];
}

function model(pieces: readonly Piece[], retired: number) {
  let left = retired;
  let starts = 0;
  let elements = 0;
  let bytes = 0;
  for (const p of pieces) {
    left -= 4;
    if (left <= 0) break;
    const done = Math.min(p.n, left);
    if (done > 0) starts++;
    elements += done;
    bytes += done * p.size;
    left -= Math.max(p.n, 1);
    if (left <= 0) break;
  }
  return { starts, elements, bytes };
}

const piece = fc.record({
  op: fc.constantFrom('movs' as const, 'stos' as const),
  size: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
  n: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 60 })),
  down: fc.boolean(),
});

/** The faults a program takes (one per piece whose `faultAt` lies inside its REP). */
function faultingPieces(pieces: readonly Piece[]): number {
  return pieces.filter((p) => destination(p) !== 0x60000).length;
}

/**
 * Runs `cpu` to HLT in `budgets` (cycled), acting as the fault handler (or the VMM, when the
 * #PF is a VM exit): it moves RDI clear and resumes. After every stop, `check` sees the faults
 * taken before that run: each was resumed at its start (a new start), the one that may have
 * just stopped the CPU was not yet.
 */
function runThrough(cpu: Cpu, budgets: readonly number[], check: (resumed: number) => void) {
  let faults = 0;
  for (let k = 0; ; k++) {
    const resumed = faults;
    const stop = cpu.run(budgets[k % budgets.length]!);
    if (stop.kind === 'exception' || stop.kind === 'vm-exit') {
      faults++;
      cpu.setReg('rdi', 0x60000n);
    } else if (stop.kind !== 'hlt') expect(stop.kind).toBe('budget');
    check(resumed);
    if (stop.kind === 'hlt') break;
  }
  return faults;
}

describe('random programs with faults in the middle of REPs, as exceptions or VM exits', () => {
  for (const nonRoot of [false, true]) {
    it(`count one more start per fault, the same elements and bytes${nonRoot ? ' (non-root: #PF exits)' : ''}`, () => {
      const faulting = fc
        .tuple(piece, fc.integer({ min: 1, max: 59 }), fc.boolean())
        .map(([p, k, f]) => (f ? { ...p, faultAt: k } : p));
      fc.assert(
        fc.property(
          fc.array(faulting, { minLength: 1, maxLength: 6 }),
          fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 6 }),
          (pieces, budgets) => {
            const code = assemble(pieces);
            const make = () => {
              const { cpu } = machine(code);
              if (nonRoot) cpu.vmEntry({ ...NONE, exceptionBitmap: 1 << 14 });
              return cpu;
            };
            const straight = make();
            expect(runThrough(straight, [1_000_000], () => {})).toBe(faultingPieces(pieces));
            const split = make();
            runThrough(split, budgets, (resumed) => {
              const m = model(pieces, split.instructions);
              expect(split.fastStrings).toEqual({ ...m, starts: m.starts + resumed });
            });
            expect(split.fastStrings).toEqual(straight.fastStrings);
            const all = model(pieces, Number.POSITIVE_INFINITY);
            expect(straight.fastStrings).toEqual({
              ...all,
              starts: all.starts + faultingPieces(pieces),
            });
          },
        ),
        { numRuns: 60 },
      );
    });
  }
});

describe('random programs split into random budgets', () => {
  for (const reference of [false, true]) {
    it(`match the model at every stop, and a straight run at the end${reference ? ' (reference mode)' : ''}`, () => {
      fc.assert(
        fc.property(
          fc.array(piece, { minLength: 1, maxLength: 8 }),
          fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 6 }),
          (pieces, budgets) => {
            const code = assemble(pieces);
            const make = () => {
              const { mem } = machine(code);
              const cpu = new Cpu({
                memory: new FlatMemory(mem),
                decodeCacheSize: reference ? 0 : undefined,
              });
              cpu.rip = 0x1000n;
              return cpu;
            };
            const straight = make();
            expect(straight.run(1_000_000)).toEqual({ kind: 'hlt' });
            const split = make();
            for (let k = 0; ; k++) {
              const stop = split.run(budgets[k % budgets.length]!);
              if (stop.kind === 'hlt') break;
              expect(stop.kind).toBe('budget');
              expect(split.fastStrings).toEqual(model(pieces, split.instructions));
            }
            expect(split.fastStrings).toEqual(straight.fastStrings);
            expect(straight.fastStrings).toEqual(model(pieces, Number.POSITIVE_INFINITY));
          },
        ),
        { numRuns: 60 },
      );
    });
  }
});
