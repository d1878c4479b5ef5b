// The differential model of test/differential.property.test.ts: one guest run through the
// shadow MMU (two vCPUs sharing shadow tables) and through paging's walker on a copy of the
// guest tables, compared access by access. Shared with the regression tests of shrunk
// counterexamples, so that they build exactly the fixtures the property builds.
//
// The oracle has no TLB: it expects every access to see the guest tables as they are now. The
// architecture is looser (SDM Vol. 3A §4.10.4, §4.10.5: a processor may use a cached
// translation until it invalidates it itself), but the shadow MMU promises more: it flushes
// every vCPU's TLB whenever a shadow entry loses rights or disappears, because its
// write-protection of guest page tables reaches only translations still in the shadow tables.
// An oracle allowing architectural staleness would accept the missing flush it must catch.
import {
  ACCESS_FETCH,
  ACCESS_USER,
  ACCESS_WRITE,
  PageWalker,
  PagingState,
  WalkOutcome,
} from '@vmkit/paging';
import { CR4, RFLAGS } from '@vmkit/x86';
import fc from 'fast-check';
import { expect } from 'vitest';
import { GuestView, ShadowMmu, ShadowOutcome } from '../../src/index.js';
import { GUEST_REGS, get, host, p2m, put, SHADOW } from './guest.js';

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
export const flagsArb = fc.record({
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
export const entryArb = fc.record({
  level: fc.integer({ min: 1, max: 4 }),
  slot: fc.nat(3),
  index: fc.nat(3),
  target: fc.nat(3),
  flags: flagsArb,
});
export type Entry = typeof entryArb extends fc.Arbitrary<infer T> ? T : never;

// Frames whose first entries are compared after each access: the tables, and the data frames
// that 'alias' can turn into tables.
const COMPARED = [
  0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000, 0x7000, 0x8000, 0x9000, 0x10_0000, 0x10_1000,
  0x10_2000, 0x10_3000,
];

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

export const opArb = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      op: fc.constant('access' as const),
      cpu: fc.nat(1),
      l4: fc.constantFrom(0, 0, 0, 1),
      l2: fc.constantFrom(0, 0, 1, 1, 2, 3),
      l1: fc.nat(3),
      kind: fc.constantFrom(0, ACCESS_WRITE, ACCESS_FETCH),
      user: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('write' as const), entry: entryArb }) },
  // A PTE that the accesses above use (PT 0x5000 or 0x6000, index 0..3), rewritten by a vCPU.
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('pte' as const),
      pt: fc.nat(1),
      index: fc.nat(3),
      target: fc.nat(3),
      flags: flagsArb,
      cpu: fc.nat(1),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('cr3' as const), root: fc.nat(1), cpu: fc.nat(1) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('invlpg' as const),
      l2: fc.nat(3),
      l1: fc.nat(3),
      cpu: fc.nat(1),
    }),
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

// Guest stores through its own translations, and data frames turned into page tables: a PD
// entry made to reference frame 0x10_0000 + 0x1000 * frame, which the PT at 0x5000 maps at
// linear 0x1000 * frame, so that stores through that mapping rewrite a live page table.
export const storeOpArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('store' as const),
      cpu: fc.nat(1),
      l2: fc.nat(1),
      l1: fc.nat(3),
      index: fc.nat(3),
      entry: entryArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('alias' as const),
      cpu: fc.nat(1),
      index: fc.integer({ min: 1, max: 3 }),
      frame: fc.nat(3),
    }),
  },
  // SMEP, SMAP and AC of one vCPU only: the vCPUs share shadow tables, not registers.
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('vcpuRegs' as const),
      cpu: fc.nat(1),
      smep: fc.boolean(),
      smap: fc.boolean(),
      ac: fc.boolean(),
    }),
  },
);

export type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;
export type StoreOp = typeof storeOpArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * Runs one guest (`entries` written over a sound skeleton, then `ops`) and asserts after every
 * access that the shadow MMU's outcome equals the guest walk's.
 *
 * @returns the hardware TLB hits of both vCPUs
 */
export function runDifferential(entries: readonly Entry[], ops: readonly (Op | StoreOp)[]): number {
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
  // Two vCPUs share the shadow tables; each has its own registers, root and TLB.
  const cpus = [shadow, shadow.addVcpu()];
  const refs = [new PagingState(GUEST_REGS), new PagingState(GUEST_REGS)];
  const walker = new PageWalker(new GuestView(memR, p2m, () => {}));
  for (const o of ops) {
    if (o.op === 'access' || o.op === 'store') {
      const store = o.op === 'store';
      const hi = store ? 0 : o.l4 << 7;
      const lo = ((o.l2 << 21) | (o.l1 << 12) | (store ? o.index * 8 : 0x18)) >>> 0;
      const access = store ? ACCESS_WRITE : o.kind | (o.user ? ACCESS_USER : 0);
      const cpu = cpus[o.cpu]!;
      const got = cpu.translate(hi, lo, access);
      const want = walker.walk(refs[o.cpu]!, hi, lo, access);
      const r = cpu.result;
      if (want === WalkOutcome.OK) {
        const pt = got === ShadowOutcome.PAGE_TABLE_WRITE || got === ShadowOutcome.MMIO;
        expect(got === ShadowOutcome.OK || pt).toBe(true);
        expect(r.physical).toBe(walker.result.physical);
        if (got === ShadowOutcome.OK)
          expect(r.hostPhysical).toBe(p2m(Math.floor(r.physical / 4096)) + (lo & 0xfff));
        if (got === ShadowOutcome.MMIO) expect(p2m(Math.floor(r.physical / 4096))).toBe(-1);
      } else if (want === WalkOutcome.BAD_PHYSICAL_ADDRESS) {
        expect(got).toBe(ShadowOutcome.MMIO);
      } else {
        expect(got).toBe(want); // PAGE_FAULT (1), GP (2), SS (3) share numbers
        expect(r.errorCode).toBe(walker.result.errorCode);
      }
      if (store && want === WalkOutcome.OK) {
        // The store itself: through the host frame on a hit, emulated on a page-table write.
        const { value } = entryValue({ ...o.entry, level: 1 });
        if (got === ShadowOutcome.OK) {
          memS.write32(r.hostPhysical, Number(value & 0xffff_ffffn));
          memS.write32(r.hostPhysical + 4, Number(value >> 32n));
        } else if (got === ShadowOutcome.PAGE_TABLE_WRITE) cpu.emulateWrite(r.physical, value, 8);
        if (got !== ShadowOutcome.MMIO) put(memR, walker.result.physical, value);
      }
      // Guest tables (A/D flags, stores): identical in both guests.
      for (const base of COMPARED) {
        for (let i = 0; i < 4; i++) expect(get(memS, base + i * 8)).toBe(get(memR, base + i * 8));
      }
    } else if (o.op === 'write') {
      const { at, value } = entryValue(o.entry);
      cpus[o.entry.slot % 2]!.emulateWrite(at, value, 8);
      put(memR, at, value);
    } else if (o.op === 'pte') {
      const { value } = entryValue({
        level: 1,
        slot: 0,
        index: 0,
        target: o.target,
        flags: o.flags,
      });
      const at = 0x5000 + o.pt * 0x1000 + o.index * 8;
      cpus[o.cpu]!.emulateWrite(at, value, 8);
      put(memR, at, value);
    } else if (o.op === 'alias') {
      const at = 0x3000 + o.index * 8;
      const value = BigInt(0x10_0000 + o.frame * 0x1000) | 0x27n;
      cpus[o.cpu]!.emulateWrite(at, value, 8);
      put(memR, at, value);
    } else if (o.op === 'cr3') {
      const cr3 = o.root === 0 ? 0x1000n : 0x9000n;
      cpus[o.cpu]!.setCr3(cr3);
      refs[o.cpu]!.setCr3(cr3);
    } else if (o.op === 'invlpg') {
      cpus[o.cpu]!.invlpg(0, (o.l2 << 21) | (o.l1 << 12));
    } else {
      const cr4 = CR4.PAE | (o.smep ? CR4.SMEP : 0) | (o.smap ? CR4.SMAP : 0);
      const rflags = o.ac ? RFLAGS.AC : 0;
      for (let c = 0; c < 2; c++) {
        if (o.op === 'vcpuRegs' && c !== o.cpu) continue;
        cpus[c]!.setRegisters({ cr4, rflags });
        refs[c]!.setCr4(cr4);
        refs[c]!.setRflags(rflags);
      }
    }
  }
  return cpus[0]!.hardware.stats.hits + cpus[1]!.hardware.stats.hits;
}
