// fast-check: NestedMmu (combined TLB, combined PSC, EPT caches) equals the uncached 2D walk for
// every guest paging mode (32-bit with 4 MiB pages, PAE, 4-level with 2 MiB / 1 GiB pages) over
// 4 KiB and 2 MiB EPT pages, with small caches so that entries are replaced and reused.
import {
  ACCESS_FETCH,
  ACCESS_USER,
  ACCESS_WRITE,
  PageWalker,
  PagingState,
  WalkOutcome,
} from '@vmkit/paging';
import { CR0, CR4, EFER } from '@vmkit/x86';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { Ept, EptBuilder, NestedMmu } from '../src/index.js';
import { EPT_TABLES, GUEST_SIZE, HOST_OFFSET, hostMemory } from './support/setup.js';

const modes = ['bits32', 'pae', 'level4'] as const;
const AD = 0x60; // A and D preset: the walks write nothing

it('NestedMmu equals uncached 2D walks in every guest mode and EPT page size', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...modes),
      fc.constantFrom(0x1000, 0x20_0000),
      fc.array(
        fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 7 })),
        {
          minLength: 8,
          maxLength: 8,
        },
      ),
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 7 }),
          fc.integer({ min: 0, max: 7 }),
          fc.integer({ min: 0, max: 4095 }),
          fc.constantFrom(0, ACCESS_WRITE, ACCESS_FETCH),
          fc.boolean(),
        ),
        { minLength: 30, maxLength: 80 },
      ),
      fc.boolean(),
      (mode, eptPage, pdes, accesses, huge) => {
        const host = hostMemory();
        const b = new EptBuilder(host, {
          tableBase: EPT_TABLES,
          tableLimit: EPT_TABLES + 0x10_0000,
        });
        b.map(0, HOST_OFFSET, GUEST_SIZE, { pageSize: eptPage });
        const w32 = (gpa: number, v: number) => host.write32(HOST_OFFSET + gpa, v >>> 0);
        const w64 = (gpa: number, v: number) => {
          w32(gpa, v);
          w32(gpa + 4, 0);
        };
        const flags = 7 | AD;
        let guest: ConstructorParameters<typeof PagingState>[0];
        let pdBase: number;
        const large = mode === 'bits32' ? 0x40_0000 : 0x20_0000;
        if (mode === 'bits32') {
          guest = { cr0: CR0.PG | CR0.PE, cr4: CR4.PSE, cr3: 0x1000n };
          pdBase = 0x1000;
        } else if (mode === 'pae') {
          guest = { cr0: CR0.PG | CR0.PE, cr4: CR4.PAE, efer: EFER.NXE, cr3: 0x1000n };
          w64(0x1000, 0x2000 | 1);
          pdBase = 0x2000;
        } else {
          guest = {
            cr0: CR0.PG | CR0.PE,
            cr4: CR4.PAE,
            efer: EFER.LME | EFER.LMA | EFER.NXE,
            cr3: 0x1000n,
          };
          w64(0x1000, 0x2000 | flags);
          // PDPTE 0: the PD; PDPTE 1: a 1 GiB page at 0 when `huge`.
          w64(0x2000, 0x3000 | flags);
          if (huge) w64(0x2008, 0x80 | flags);
          pdBase = 0x3000;
        }
        const entry = mode === 'bits32' ? 4 : 8;
        pdes.forEach(([isLarge, frame, rights], i) => {
          const r = (rights & 6) | 1 | AD; // vary R/W and U/S
          let v: number;
          if (isLarge) v = ((1 + frame) * large) | 0x80 | r;
          else {
            const pt = 0x10_0000 + i * 0x1000;
            v = pt | flags;
            for (let j = 0; j < 8; j++) {
              const pte =
                (0x100_0000 + (i * 8 + ((j + frame) % 8)) * 0x1000) | ((j & 1) === 0 ? 7 : 5) | AD;
              if (entry === 4) w32(pt + j * 4, pte);
              else w64(pt + j * 8, pte);
            }
          }
          if (entry === 4) w32(pdBase + i * 4, v);
          else w64(pdBase + i * 8, v);
        });
        const mmu = new NestedMmu(host, {
          eptp: b.eptp(),
          guest,
          tlb: {
            small: { sets: 2, ways: 2 },
            large: { sets: 2, ways: 2 },
            huge: { sets: 1, ways: 1 },
          },
          psc: {
            pde: { sets: 1, ways: 2 },
            pdpte: { sets: 1, ways: 1 },
            pml4e: { sets: 1, ways: 1 },
          },
        });
        const state = new PagingState(guest);
        mmu.ept.loadPdptes(state);
        const ept = new Ept(host, { eptp: b.eptp() });
        const walker = new PageWalker(host, ept);
        for (const [i, j, off, kind, user] of accesses) {
          const gig = mode === 'level4' && huge && (j & 4) !== 0 ? 0x4000_0000 : 0;
          const lo = (gig + i * large + j * 0x1000 + off) >>> 0;
          const access = kind | (user ? ACCESS_USER : 0);
          const got = mmu.translate(0, lo, access);
          const want = walker.walk(state, 0, lo, access);
          expect(got).toBe(want);
          if (want === WalkOutcome.OK) {
            expect(mmu.result.hostPhysical).toBe(walker.result.hostPhysical);
            expect(mmu.result.physical).toBe(walker.result.physical);
          }
          if (want === WalkOutcome.PAGE_FAULT)
            expect(mmu.result.errorCode).toBe(walker.result.errorCode);
        }
      },
    ),
    { numRuns: 120 },
  );
});
