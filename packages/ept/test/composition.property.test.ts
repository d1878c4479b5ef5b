// fast-check: the two-dimensional walk (paging's PageWalker + Ept) equals a composition of two
// independent one-dimensional walks: paging's PageWalker on the guest tables, with every
// guest-physical access translated by the SDM model of test/support/sdm-model.ts reading the
// EPT tables with bigints. Random guest tables, random EPT permissions, every kind of access.
import { GuestPhysicalMemory } from '@vmkit/memory';
import {
  ACCESS_FETCH,
  ACCESS_USER,
  ACCESS_WRITE,
  PageWalker,
  PagingState,
  SECOND_STAGE_FETCH,
  SECOND_STAGE_GUEST_EXECUTE_DISABLE,
  SECOND_STAGE_GUEST_USER_PAGE,
  SECOND_STAGE_GUEST_WRITABLE,
  SECOND_STAGE_PAGING_STRUCTURE,
  SECOND_STAGE_WRITE,
  type SecondStage,
  WalkOutcome,
} from '@vmkit/paging';
import { CR0, CR4, EFER } from '@vmkit/x86';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { Ept, EptBuilder } from '../src/index.js';
import { type ModelFeatures, misconfigCauses, modelTranslate } from './support/sdm-model.js';

const HOST = 0x4000_0000;
const FEATURES: ModelFeatures = {
  maxPhyAddr: 46,
  executeOnly: true,
  mbec: false,
  ad: false,
  advanced: true,
  pages1GB: true,
  pages2MB: true,
};

function memories() {
  return new GuestPhysicalMemory({
    ram: [
      { base: 0, size: 0x40_0000 },
      { base: HOST, size: 0x40_0000 },
    ],
  });
}

/** The model second stage: walks the EPT with bigint reads and the SDM model. */
class ModelSecondStage implements SecondStage {
  qualification = 0;
  constructor(
    private readonly mem: GuestPhysicalMemory,
    private readonly root: number,
  ) {}
  translate(gpa: number, access: number): number {
    const path: bigint[] = [];
    let table = BigInt(this.root);
    for (let level = 4; level >= 1; level--) {
      const v = this.mem.read64(
        Number(table) + Number((BigInt(gpa) >> BigInt(12 + 9 * (level - 1))) & 0x1ffn) * 8,
      );
      path.push(v);
      if ((v & 7n) === 0n) break;
      const m = misconfigCauses(v, level, FEATURES);
      if (m.causes.length > 0 || m.leaf) break;
      table = v & 0xf_ffff_ffff_f000n;
    }
    const r = modelTranslate(
      4,
      path,
      BigInt(gpa),
      {
        kind:
          (access & SECOND_STAGE_FETCH) !== 0
            ? 'fetch'
            : (access & SECOND_STAGE_WRITE) !== 0
              ? 'write'
              : 'read',
        structure: (access & SECOND_STAGE_PAGING_STRUCTURE) !== 0,
        userPage: (access & SECOND_STAGE_GUEST_USER_PAGE) !== 0,
        guestWritable: (access & SECOND_STAGE_GUEST_WRITABLE) !== 0,
        guestXd: (access & SECOND_STAGE_GUEST_EXECUTE_DISABLE) !== 0,
      },
      FEATURES,
    );
    if (r.outcome === 'ok') return Number(r.hpa);
    this.qualification = r.outcome === 'violation' ? r.qualification : -1;
    return -1;
  }
}

it('2D walk = guest walk composed with the EPT model', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 7 })), {
        maxLength: 12,
      }),
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 7 }),
          fc.integer({ min: 0, max: 3 }),
          fc.constantFrom(0x27n, 0x67n, 0x25n, 0x23n, 0x26n, 0x1a7n),
        ),
        { maxLength: 10 },
      ),
      fc.integer({ min: 0, max: 15 }),
      fc.constantFrom(0, ACCESS_WRITE, ACCESS_FETCH),
      fc.boolean(),
      (eptChanges, guestChanges, page, kind, user) => {
        const mems = [memories(), memories()];
        const roots: number[] = [];
        for (const mem of mems) {
          const b = new EptBuilder(mem, { tableBase: 0x10_0000, tableLimit: 0x20_0000 });
          b.map(0, HOST, 0x40_0000);
          // Random EPT leaf permissions for the first 16 guest pages (W without R avoided so
          // both sides see violations; misconfigurations are covered elsewhere).
          for (const [p, rights] of eptChanges)
            b.map(p * 0x1000, HOST + p * 0x1000, 0x1000, {
              rights: rights === 2 || rights === 6 ? rights | 1 : rights,
            });
          roots.push(b.root);
          const put = (gpa: number, v: bigint) => mem.write64(HOST + gpa, v);
          put(0x1000, 0x2027n);
          put(0x2000, 0x3027n);
          put(0x3000, 0x4027n);
          for (let i = 0; i < 16; i++)
            put(0x4000 + i * 8, BigInt(0x8000 + (i % 8) * 0x1000) | 0x27n);
          for (const [i, target, flags] of guestChanges) {
            const at = [0x1000, 0x2000, 0x3000, 0x4000][target]! + (target === 3 ? i * 8 : 0);
            const next = target === 3 ? 0x8000 + i * 0x1000 : [0x2000, 0x3000, 0x4000][target]!;
            put(at, BigInt(next) | (target < 3 ? flags & ~0x80n : flags));
          }
        }
        const state = new PagingState({
          features: { maxPhyAddr: 46 },
          cr0: CR0.PG | CR0.PE | CR0.WP,
          cr4: CR4.PAE,
          efer: EFER.LME | EFER.LMA | EFER.NXE,
          cr3: 0x1000n,
        });
        const ept = new Ept(mems[0]!, {
          eptp: BigInt(roots[0]!) | 0x1en,
          features: { maxPhyAddr: 46 },
        });
        const model = new ModelSecondStage(mems[1]!, roots[1]!);
        const a = new PageWalker(mems[0]!, ept);
        const b = new PageWalker(mems[1]!, model);
        const access = kind | (user ? ACCESS_USER : 0);
        const got = a.walk(state, 0, page * 0x1000 + 0x10, access);
        const want = b.walk(state, 0, page * 0x1000 + 0x10, access);
        expect(got).toBe(want);
        if (want === WalkOutcome.OK) expect(a.result.hostPhysical).toBe(b.result.hostPhysical);
        if (want === WalkOutcome.PAGE_FAULT) expect(a.result.errorCode).toBe(b.result.errorCode);
        if (want === WalkOutcome.SECOND_STAGE_FAULT) {
          expect(a.result.faultAddress).toBe(b.result.faultAddress);
          expect(ept.exit.qualification).toBe(model.qualification);
        }
        // Both sides wrote the same guest A/D flags.
        for (const at of [
          0x1000, 0x2000, 0x3000, 0x4000, 0x4008, 0x4010, 0x4018, 0x4020, 0x4028, 0x4030, 0x4038,
        ]) {
          expect(mems[0]!.read64(HOST + at)).toBe(mems[1]!.read64(HOST + at));
        }
      },
    ),
    { numRuns: 300 },
  );
});
