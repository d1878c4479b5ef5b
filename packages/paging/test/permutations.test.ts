// Exhaustive permutation test in the spirit of kvm-unit-tests' x86/access test: every
// combination of the flags of the leaf entry and of the entry above it, against CR0.WP,
// CR4.SMEP/SMAP/PKE/PKS, EFER.NXE, EFLAGS.AC, PKRU/IA32_PKRS and the access kind, for 4-level
// and 5-level paging and 4 KiB / 2 MiB / 1 GiB leaves. Expected results come from
// support/sdm-model.ts, which shares no code with src/. Page tables are written here as raw
// 64-bit values.
import { GuestPhysicalMemory } from '@vmkit/memory';
import { describe, expect, it } from 'vitest';
import {
  ACCESS_FETCH,
  ACCESS_IMPLICIT,
  ACCESS_USER,
  ACCESS_WRITE,
  PageWalker,
  PagingState,
  WalkOutcome,
} from '../src/index.js';
import {
  type EntryFlags,
  type Expected,
  expectedTranslation,
  type ModelAccess,
  type ModelCpu,
} from './support/sdm-model.js';

const MAXPHYADDR = 46;
// Architectural bit positions, written out here rather than imported from src.
const P = 1n << 0n;
const RW = 1n << 1n;
const US = 1n << 2n;
const A = 1n << 5n;
const D = 1n << 6n;
const PS = 1n << 7n;
const XD = 1n << 63n;
const RESERVED_51 = 1n << 51n; // in 51:MAXPHYADDR for MAXPHYADDR = 46
const CR0_PE_PG = (1 << 0) | (2 ** 31);
const CR0_WP = 1 << 16;
const CR4_PAE = 1 << 5;
const CR4_LA57 = 1 << 12;
const CR4_SMEP = 1 << 20;
const CR4_SMAP = 1 << 21;
const CR4_PKE = 1 << 22;
const CR4_PKS = 1 << 24;
const EFER_LME_LMA = (1 << 8) | (1 << 10);
const EFER_NXE = 1 << 11;
const RFLAGS_AC = 1 << 18;

interface Shape {
  name: string;
  levels: 4 | 5;
  /** Level of the entry mapping the page: 1 (4 KiB), 2 (2 MiB), 3 (1 GiB). */
  leafLevel: 1 | 2 | 3;
}

const TABLE = [0, 0x14000, 0x13000, 0x12000, 0x11000, 0x10000]; // table holding level-n entries
const INDEX = [0, 0x13c, 0x0c3, 0x15a, 0x0a5, 0x07b];
const LINEAR_LO =
  ((INDEX[3]! & 3) * 2 ** 30 + INDEX[2]! * 2 ** 21 + INDEX[1]! * 2 ** 12 + 0x123) >>> 0;
const linearHi = (levels: number) =>
  (INDEX[3]! >>> 2) | (INDEX[4]! << 7) | (levels === 5 ? INDEX[5]! << 16 : 0);
const PAGE_FRAME: bigint[] = [0n, 0x4000_5000n, 0x4060_0000n, 0x8000_0000n];

const leafCombos: EntryFlags[] = [];
const upperCombos: EntryFlags[] = [];
const none = (): EntryFlags => ({
  present: false,
  writable: false,
  user: false,
  accessed: false,
  dirty: false,
  executeDisable: false,
  reservedAddressBit: false,
  reservedPageSize: false,
  protectionKey: 0,
});
leafCombos.push(none());
upperCombos.push(none());
for (let m = 0; m < 128; m++) {
  leafCombos.push({
    ...none(),
    present: true,
    writable: (m & 1) !== 0,
    user: (m & 2) !== 0,
    accessed: (m & 4) !== 0,
    dirty: (m & 8) !== 0,
    executeDisable: (m & 16) !== 0,
    reservedAddressBit: (m & 32) !== 0,
    protectionKey: (m & 64) !== 0 ? 1 : 0,
  });
}
for (let m = 0; m < 32; m++) {
  upperCombos.push({
    ...none(),
    present: true,
    writable: (m & 1) !== 0,
    user: (m & 2) !== 0,
    accessed: (m & 4) !== 0,
    executeDisable: (m & 8) !== 0,
    reservedAddressBit: (m & 16) !== 0,
  });
}
// Entries above the two varied ones: present, writable, user, with A = 0 so the test sees
// the walker set A on every level.
const permissive: EntryFlags = { ...none(), present: true, writable: true, user: true };

interface CpuCase {
  cpu: ModelCpu;
  cr0: number;
  cr4: number;
  efer: number;
  rflags: number;
}
const KEY1_AD = 1 << 2;
const KEY1_WD = 1 << 3;
// Protection-key states: keys off (with every right denied in PKRU and IA32_PKRS, which must
// then be ignored), PKE with key 1 access- or write-disabled, PKS likewise.
const keyStates = [
  { pke: false, pks: false, pkru: 0xffff_fffc, pkrs: 0xffff_fffc },
  { pke: true, pks: false, pkru: KEY1_AD, pkrs: 0 },
  { pke: true, pks: false, pkru: KEY1_WD, pkrs: 0 },
  { pke: false, pks: true, pkru: 0, pkrs: KEY1_AD },
  { pke: false, pks: true, pkru: 0, pkrs: KEY1_WD },
];
const cpuCases: CpuCase[] = [];
for (let m = 0; m < 32; m++) {
  for (const k of keyStates) {
    const cpu: ModelCpu = {
      wp: (m & 1) !== 0,
      smep: (m & 2) !== 0,
      smap: (m & 4) !== 0,
      ac: (m & 8) !== 0,
      nxe: (m & 16) !== 0,
      ...k,
    };
    cpuCases.push({
      cpu,
      cr0: CR0_PE_PG | (cpu.wp ? CR0_WP : 0),
      cr4:
        CR4_PAE |
        (cpu.smep ? CR4_SMEP : 0) |
        (cpu.smap ? CR4_SMAP : 0) |
        (cpu.pke ? CR4_PKE : 0) |
        (cpu.pks ? CR4_PKS : 0),
      efer: EFER_LME_LMA | (cpu.nxe ? EFER_NXE : 0),
      rflags: 2 | (cpu.ac ? RFLAGS_AC : 0),
    });
  }
}

const accessCases: { model: ModelAccess; flags: number }[] = [];
for (const kind of ['read', 'write', 'fetch'] as const) {
  const kindFlags = kind === 'write' ? ACCESS_WRITE : kind === 'fetch' ? ACCESS_FETCH : 0;
  accessCases.push({
    model: { kind, userMode: true, implicit: false },
    flags: kindFlags | ACCESS_USER,
  });
  accessCases.push({ model: { kind, userMode: false, implicit: false }, flags: kindFlags });
  if (kind !== 'fetch') {
    accessCases.push({
      model: { kind, userMode: false, implicit: true },
      flags: kindFlags | ACCESS_IMPLICIT,
    });
  }
}

function encode(e: EntryFlags, level: number, leafLevel: number, next: bigint): bigint {
  if (!e.present) return 0n; // every other bit is ignored; left clear here
  let v = P | next;
  if (e.writable) v |= RW;
  if (e.user) v |= US;
  if (e.accessed) v |= A;
  if (e.dirty && level === leafLevel) v |= D;
  if (e.executeDisable) v |= XD;
  if (e.reservedAddressBit) v |= RESERVED_51;
  if (level === leafLevel && level > 1) v |= PS;
  if (level === leafLevel) v |= BigInt(e.protectionKey) << 59n;
  return v;
}

function runShape(shape: Shape): { combinations: number; failures: string[] } {
  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 4 * 2 ** 30 }] });
  const walker = new PageWalker(mem);
  const hi = linearHi(shape.levels);
  const failures: string[] = [];
  let combinations = 0;
  const levels: number[] = [];
  for (let l = shape.levels; l >= shape.leafLevel; l--) levels.push(l);
  const addressOf = (level: number) => TABLE[level]! + INDEX[level]! * 8;
  const lows = new Uint32Array(6);
  const highs = new Uint32Array(6);

  const write = (level: number, value: bigint) => {
    lows[level] = Number(value & 0xffff_ffffn);
    highs[level] = Number(value >> 32n);
    mem.write32(addressOf(level), lows[level]!);
    mem.write32(addressOf(level) + 4, highs[level]!);
  };
  const restore = () => {
    for (const l of levels) mem.write32(addressOf(l), lows[l]!);
  };

  for (const c of cpuCases) {
    const state = new PagingState({
      features: { maxPhyAddr: MAXPHYADDR },
      cr0: c.cr0,
      cr4: c.cr4 | (shape.levels === 5 ? CR4_LA57 : 0),
      efer: c.efer,
      rflags: c.rflags,
      pkru: c.cpu.pkru,
      pkrs: c.cpu.pkrs,
      cr3: BigInt(TABLE[shape.levels]!),
    });
    for (const upper of upperCombos) {
      for (const leaf of leafCombos) {
        const path: EntryFlags[] = [];
        for (const l of levels) {
          const flags =
            l === shape.leafLevel ? leaf : l === shape.leafLevel + 1 ? upper : permissive;
          path.push(flags);
          const next = l === shape.leafLevel ? PAGE_FRAME[l]! : BigInt(TABLE[l - 1]!);
          write(l, encode(flags, l, shape.leafLevel, next));
        }
        for (const a of accessCases) {
          combinations++;
          const expected = expectedTranslation(path, c.cpu, a.model);
          const outcome = walker.walk(state, hi, LINEAR_LO, a.flags);
          const problem = compare(expected, outcome, walker, mem, levels, addressOf, lows, shape);
          if (problem !== undefined && failures.length < 20) {
            failures.push(
              `${problem} | cpu=${JSON.stringify(c.cpu)} access=${JSON.stringify(a.model)} path=${JSON.stringify(path)}`,
            );
          }
          if (outcome === WalkOutcome.OK) restore();
        }
      }
    }
  }
  return { combinations, failures };
}

function compare(
  expected: Expected,
  outcome: number,
  walker: PageWalker,
  mem: GuestPhysicalMemory,
  levels: number[],
  addressOf: (level: number) => number,
  lows: Uint32Array,
  shape: Shape,
): string | undefined {
  const r = walker.result;
  if (expected.fault) {
    if (outcome !== WalkOutcome.PAGE_FAULT)
      return `expected #PF ${expected.errorCode}, got outcome ${outcome}`;
    if (r.errorCode !== expected.errorCode)
      return `error code ${r.errorCode} != ${expected.errorCode}`;
    if (r.linearLo !== LINEAR_LO) return 'CR2 low half wrong';
    for (const l of levels) {
      if (mem.read32(addressOf(l)) !== lows[l])
        return `entry at level ${l} changed by a faulting walk`;
    }
    return undefined;
  }
  if (outcome !== WalkOutcome.OK)
    return `expected success, got outcome ${outcome} ec ${r.errorCode}`;
  const offsetMask = [0, 0xfff, 0x1f_ffff, 0x3fff_ffff][shape.leafLevel]!;
  const physical = Number(PAGE_FRAME[shape.leafLevel]!) + (LINEAR_LO & offsetMask);
  if (r.physical !== physical) return `physical ${r.physical} != ${physical}`;
  for (const [i, l] of levels.entries()) {
    const now = mem.read32(addressOf(l));
    const a = (now & 0x20) !== 0;
    if (a !== expected.accessed[i]) return `A at level ${l} is ${a}`;
    if (l === shape.leafLevel && ((now & 0x40) !== 0) !== expected.dirty)
      return `D is ${!expected.dirty}`;
    if ((now & ~0x60) !== (lows[l]! & ~0x60)) return `level ${l} changed beyond A/D`;
    if (l !== shape.leafLevel && (now & 0x40) !== (lows[l]! & 0x40)) return `D set in level ${l}`;
  }
  return undefined;
}

const shapes: Shape[] = [
  { name: '4-level, 4 KiB page (leaf PTE, upper PDE)', levels: 4, leafLevel: 1 },
  { name: '4-level, 2 MiB page (leaf PDE, upper PDPTE)', levels: 4, leafLevel: 2 },
  { name: '4-level, 1 GiB page (leaf PDPTE, upper PML4E)', levels: 4, leafLevel: 3 },
  { name: '5-level, 4 KiB page (leaf PTE, upper PDE)', levels: 5, leafLevel: 1 },
];

describe('exhaustive permutations against the SDM model', () => {
  for (const shape of shapes) {
    it(shape.name, () => {
      const t0 = performance.now();
      const { combinations, failures } = runShape(shape);
      console.log(
        `${shape.name}: ${combinations} combinations in ${Math.round(performance.now() - t0)} ms`,
      );
      expect(failures).toEqual([]);
      expect(combinations).toBe(
        cpuCases.length * upperCombos.length * leafCombos.length * accessCases.length,
      );
    });
  }
});
