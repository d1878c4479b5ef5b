// Differential: translating through the shadow tables (hardware walk of the shadows plus the
// VMM's fault handling) gives what paging's walker gives on the guest tables: the same outcome,
// guest-physical address, error code, and the same guest accessed/dirty flags afterwards.
import {
  ACCESS_FETCH,
  ACCESS_USER,
  ACCESS_WRITE,
  PageWalker,
  PagingState,
  WalkOutcome,
} from '@vmkit/paging';
import { CR0, CR4, EFER, RFLAGS } from '@vmkit/x86';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { GuestView, ShadowMmu, ShadowOutcome } from '../src/index.js';
import { GUEST_REGS, get, host, p2m, put, RAM_BASE, SHADOW } from './support/guest.js';

// Guest tables: roots 0x1000 and 0x9000, PDPT 0x2000, PDs 0x3000/0x4000, PTs 0x5000..0x8000.
const TABLES: Record<number, number[]> = {
  4: [0x2000],
  3: [0x3000, 0x4000],
  2: [0x5000, 0x6000, 0x7000, 0x8000],
};
const SLOTS: Record<number, number[]> = {
  4: [0x1000, 0x9000],
  3: [0x2000],
  2: [0x3000, 0x4000],
  1: [0x5000, 0x6000, 0x7000, 0x8000],
};
const flagsArb = fc.record({
  p: fc.integer({ min: 0, max: 9 }).map((v) => v > 0),
  rw: fc.boolean(),
  us: fc.boolean(),
  a: fc.boolean(),
  d: fc.boolean(),
  xd: fc.integer({ min: 0, max: 5 }).map((v) => v === 0),
  rsv: fc.integer({ min: 0, max: 15 }).map((v) => v === 0),
  ps: fc.integer({ min: 0, max: 3 }).map((v) => v === 0),
  g: fc.boolean(),
});
const entryArb = fc.record({
  level: fc.integer({ min: 1, max: 4 }),
  slot: fc.nat(3),
  index: fc.nat(3),
  target: fc.nat(3),
  flags: flagsArb,
});
type Entry = typeof entryArb extends fc.Arbitrary<infer T> ? T : never;

function entryValue(e: Entry): { at: number; value: bigint } {
  const slots = SLOTS[e.level]!;
  const at = slots[e.slot % slots.length]! + e.index * 8;
  const f = e.flags;
  let target: number;
  const large = e.level === 2 && f.ps;
  if (e.level === 1 || large)
    target = large ? 0x40_0000 + (e.target % 2) * 0x20_0000 : 0x10_0000 + e.target * 0x1000;
  else target = TABLES[e.level]![e.target % TABLES[e.level]!.length]!;
  let v = BigInt(target);
  if (f.p) v |= 1n;
  if (f.rw) v |= 2n;
  if (f.us) v |= 4n;
  if (f.a) v |= 0x20n;
  if (f.d) v |= 0x40n;
  if (large) v |= 0x80n;
  if (f.g) v |= 0x100n;
  if (f.xd) v |= 1n << 63n;
  if (f.rsv) v |= 1n << 45n;
  // An entry pointing at data beyond RAM now and then: MMIO.
  if (e.level === 1 && e.target === 3 && f.g) v = (v & ~0xf_ffff_ffff_f000n) | 0x200_0000n;
  return { at, value: v };
}

const opArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('access' as const),
      l4: fc.nat(1),
      l2: fc.nat(3),
      l1: fc.nat(3),
      kind: fc.constantFrom(0, ACCESS_WRITE, ACCESS_FETCH),
      user: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('write' as const), entry: entryArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('cr3' as const), root: fc.nat(1) }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('invlpg' as const), l2: fc.nat(3), l1: fc.nat(3) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('regs' as const),
      smep: fc.boolean(),
      smap: fc.boolean(),
      ac: fc.boolean(),
    }),
  },
);

it('shadow translation equals the guest walk (fast-check)', () => {
  fc.assert(
    fc.property(
      fc.array(entryArb, { minLength: 10, maxLength: 40 }),
      fc.array(opArb, { minLength: 10, maxLength: 60 }),
      (entries, ops) => {
        const memS = host();
        const memR = host();
        // A sound skeleton first (so that many accesses translate), then random entries.
        const skeleton: [number, bigint][] = [
          [0x1000, 0x2027n],
          [0x1008, 0x2027n],
          [0x9000, 0x2027n],
          [0x2000, 0x3027n],
          [0x3000, 0x5027n],
          [0x3008, 0x6027n],
        ];
        for (const [at, v] of skeleton) {
          put(memS, at, v);
          put(memR, at, v);
        }
        for (let i = 0; i < 4; i++) {
          put(memS, 0x5000 + i * 8, BigInt(0x10_0000 + i * 0x1000) | 0x27n);
          put(memR, 0x5000 + i * 8, BigInt(0x10_0000 + i * 0x1000) | 0x27n);
        }
        for (const e of entries) {
          const { at, value } = entryValue(e);
          put(memS, at, value);
          put(memR, at, value);
        }
        const shadow = new ShadowMmu(memS, {
          p2m,
          shadowMemory: SHADOW,
          guest: GUEST_REGS,
          rootCache: 1,
        });
        const ref = new PagingState(GUEST_REGS);
        const walker = new PageWalker(new GuestView(memR, p2m, () => {}));
        for (const o of ops) {
          if (o.op === 'access') {
            const hi = o.l4 << 7;
            const lo = ((o.l2 << 21) | (o.l1 << 12) | 0x18) >>> 0;
            const access = o.kind | (o.user ? ACCESS_USER : 0);
            const got = shadow.translate(hi, lo, access);
            const want = walker.walk(ref, hi, lo, access);
            const r = shadow.result;
            if (want === WalkOutcome.OK) {
              const pt = got === ShadowOutcome.PAGE_TABLE_WRITE || got === ShadowOutcome.MMIO;
              expect(got === ShadowOutcome.OK || pt).toBe(true);
              expect(r.physical).toBe(walker.result.physical);
              if (got === ShadowOutcome.OK)
                expect(r.hostPhysical).toBe(p2m(Math.floor(r.physical / 4096)) + 0x18);
              if (got === ShadowOutcome.MMIO) expect(p2m(Math.floor(r.physical / 4096))).toBe(-1);
            } else if (want === WalkOutcome.BAD_PHYSICAL_ADDRESS) {
              expect(got).toBe(ShadowOutcome.MMIO);
            } else {
              expect(got).toBe(want); // PAGE_FAULT (1), GP (2), SS (3) share numbers
              expect(r.errorCode).toBe(walker.result.errorCode);
            }
            // Guest A/D flags: identical in both guests.
            for (const base of [
              0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000, 0x7000, 0x8000, 0x9000,
            ]) {
              for (let i = 0; i < 4; i++)
                expect(get(memS, base + i * 8)).toBe(get(memR, base + i * 8));
            }
          } else if (o.op === 'write') {
            const { at, value } = entryValue(o.entry);
            shadow.emulateWrite(at, value, 8);
            put(memR, at, value);
          } else if (o.op === 'cr3') {
            const cr3 = o.root === 0 ? 0x1000n : 0x9000n;
            shadow.setCr3(cr3);
            ref.setCr3(cr3);
          } else if (o.op === 'invlpg') {
            shadow.invlpg(0, (o.l2 << 21) | (o.l1 << 12));
          } else {
            const cr4 = CR4.PAE | (o.smep ? CR4.SMEP : 0) | (o.smap ? CR4.SMAP : 0);
            const rflags = o.ac ? RFLAGS.AC : 0;
            shadow.setRegisters({ cr4, rflags });
            ref.setCr4(cr4);
            ref.setRflags(rflags);
          }
        }
        void CR0;
        void EFER;
        void RAM_BASE;
      },
    ),
    { numRuns: 200 },
  );
});
