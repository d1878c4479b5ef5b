// Exhaustive permutations of the leaf and the entry above it, at every EPT level and page size,
// in the manner of kvm-unit-tests' ept_access tests: permission bits (R, W, X, XU), memory
// types (valid and invalid), reserved bits (above MAXPHYADDR, bits 6:3 of a non-leaf entry,
// a misaligned large page), x A/D on/off x MBEC on/off x execute-only supported or not x every
// kind of access. Each is checked against test/support/sdm-model.ts.
import { GuestPhysicalMemory } from '@vmkit/memory';
import {
  SECOND_STAGE_FETCH,
  SECOND_STAGE_GUEST_USER_PAGE,
  SECOND_STAGE_GUEST_WRITABLE,
  SECOND_STAGE_PAGING_STRUCTURE,
  SECOND_STAGE_READ,
  SECOND_STAGE_WRITE,
} from '@vmkit/paging';
import { describe, expect, it } from 'vitest';
import { Ept, EptOutcome } from '../src/index.js';
import { type ModelAccess, type ModelFeatures, modelTranslate } from './support/sdm-model.js';

const MAXPHY = 46;
const GPA = 0x1234_5678_9abcn;
const FRAME = 0x2_4000_0000n;

interface AccessCase {
  flags: number;
  model: ModelAccess;
}
const base = { userPage: false, guestWritable: true, guestXd: false };
const ACCESSES: AccessCase[] = [
  {
    flags: SECOND_STAGE_READ | SECOND_STAGE_GUEST_WRITABLE,
    model: { kind: 'read', structure: false, ...base },
  },
  {
    flags: SECOND_STAGE_WRITE | SECOND_STAGE_GUEST_WRITABLE,
    model: { kind: 'write', structure: false, ...base },
  },
  {
    flags: SECOND_STAGE_FETCH | SECOND_STAGE_GUEST_USER_PAGE | SECOND_STAGE_GUEST_WRITABLE,
    model: { kind: 'fetch', structure: false, ...base, userPage: true },
  },
  {
    flags: SECOND_STAGE_FETCH | SECOND_STAGE_GUEST_WRITABLE,
    model: { kind: 'fetch', structure: false, ...base },
  },
  {
    flags: SECOND_STAGE_READ | SECOND_STAGE_PAGING_STRUCTURE,
    model: { kind: 'read', structure: true, ...base },
  },
  {
    flags: SECOND_STAGE_WRITE | SECOND_STAGE_PAGING_STRUCTURE,
    model: { kind: 'write', structure: true, ...base },
  },
];

function write64(mem: GuestPhysicalMemory, at: number, v: bigint): void {
  mem.write32(at, Number(v & 0xffff_ffffn));
  mem.write32(at + 4, Number(v >> 32n));
}

function run(walkLength: 4 | 5, leafLevel: 1 | 2 | 3): { cases: number; mismatches: string[] } {
  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 2 ** 24 }] });
  const table = (level: number) => 0x1000 * (walkLength - level + 1);
  const index = (level: number) => Number((GPA >> BigInt(12 + 9 * (level - 1))) & 0x1ffn);
  const at = (level: number) => table(level) + index(level) * 8;
  // Fixed entries above the varied upper entry: R | W | X | XU.
  for (let l = walkLength; l > leafLevel + 1; l--)
    write64(mem, at(l), BigInt(table(l - 1)) | 0x407n);
  const upperValues: bigint[] = [];
  for (let rwx = 0; rwx < 8; rwx++)
    for (const xu of [0n, 0x400n])
      for (const rsv of [0n, 1n << 3n, 1n << BigInt(MAXPHY)])
        upperValues.push(BigInt(table(leafLevel)) | BigInt(rwx) | xu | rsv);
  const ps = leafLevel > 1 ? 0x80n : 0n;
  const leafValues: bigint[] = [];
  for (let rwx = 0; rwx < 8; rwx++)
    for (const xu of [0n, 0x400n])
      for (const type of [6n, 0n, 2n, 7n])
        for (const rsv of [0n, 1n << BigInt(MAXPHY), leafLevel > 1 ? 1n << 12n : 0x80n])
          leafValues.push(FRAME | BigInt(rwx) | xu | (type << 3n) | 0x40n | ps | rsv);
  const mismatches: string[] = [];
  let cases = 0;
  for (const ad of [false, true])
    for (const mbec of [false, true])
      for (const executeOnly of [false, true]) {
        const f: ModelFeatures = {
          maxPhyAddr: MAXPHY,
          executeOnly,
          mbec,
          ad,
          advanced: true,
          pages1GB: true,
          pages2MB: true,
        };
        const eptp =
          BigInt(table(walkLength)) | 6n | (BigInt(walkLength - 1) << 3n) | (ad ? 0x40n : 0n);
        const ept = new Ept(mem, {
          eptp,
          features: { maxPhyAddr: MAXPHY, executeOnly, modeBasedExecute: mbec },
        });
        for (const upper of upperValues) {
          for (const leaf of leafValues) {
            for (const a of ACCESSES) {
              write64(mem, at(leafLevel + 1), upper);
              write64(mem, at(leafLevel), leaf);
              const path: bigint[] = [];
              for (let l = walkLength; l > leafLevel + 1; l--)
                path.push(BigInt(table(l - 1)) | 0x407n);
              path.push(upper, leaf);
              const want = modelTranslate(walkLength, path, GPA, a.model, f);
              const got = ept.translate(Number(GPA), a.flags, 0x1, 0x2000);
              const e = ept.exit;
              cases++;
              let ok: boolean;
              if (want.outcome === 'ok')
                ok = got === Number(want.hpa) && e.outcome === EptOutcome.OK;
              else if (want.outcome === 'violation')
                ok =
                  got === -1 &&
                  e.outcome === EptOutcome.VIOLATION &&
                  e.qualification === want.qualification &&
                  e.guestPhysical === Number(GPA) &&
                  e.linearHi === 1 &&
                  e.linearLo === 0x2000;
              else
                ok =
                  got === -1 &&
                  e.outcome === EptOutcome.MISCONFIGURATION &&
                  want.causes.includes(e.cause ?? '');
              if (!ok && mismatches.length < 5) {
                mismatches.push(
                  `ad=${ad} mbec=${mbec} xo=${executeOnly} upper=${upper.toString(16)} leaf=${leaf.toString(16)} access=${a.flags}: want ${JSON.stringify(want, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v))} got ${got} outcome=${e.outcome} q=${e.qualification.toString(16)} cause=${e.cause}`,
                );
              }
            }
          }
        }
      }
  return { cases, mismatches };
}

describe('EPT permutations against the SDM model', () => {
  for (const [walkLength, leafLevel] of [
    [4, 1],
    [4, 2],
    [4, 3],
    [5, 1],
  ] as const) {
    it(`walk length ${walkLength}, leaf at level ${leafLevel}`, () => {
      const { cases, mismatches } = run(walkLength, leafLevel);
      expect(mismatches).toEqual([]);
      expect(cases).toBe(48 * 192 * 6 * 8);
    });
  }
});
