// Hand-transcribed vectors from SDM Vol. 3C: the EPTP checks of VM entry (§27.2.1.1 with
// Table 25-9), the misconfiguration list (§29.3.3.1), Table 28-7 exit qualifications.
import { GuestPhysicalMemory } from '@vmkit/memory';
import { SECOND_STAGE_FETCH, SECOND_STAGE_READ, SECOND_STAGE_WRITE } from '@vmkit/paging';
import { describe, expect, it } from 'vitest';
import {
  checkEptp,
  decodeEptp,
  Ept,
  EptError,
  EptOutcome,
  eptFeaturesFromMsr,
  resolveEptFeatures,
} from '../src/index.js';

describe('EPTP checks at VM entry', () => {
  const all = resolveEptFeatures({ maxPhyAddr: 46 });
  const rows: [
    string,
    bigint,
    ReturnType<typeof checkEptp>,
    Parameters<typeof resolveEptFeatures>[0]?,
  ][] = [
    ['WB, 4-level', 0x1000n | 0x1en, undefined],
    ['UC, 4-level', 0x1000n | 0x18n, undefined],
    ['WB, 5-level', 0x1000n | 0x26n, undefined],
    ['WB, 4-level, A/D', 0x1000n | 0x5en, undefined],
    ['memory type 1 (WC)', 0x1000n | 0x19n, 'MEMORY_TYPE'],
    ['memory type 4 (WT)', 0x1000n | 0x1cn, 'MEMORY_TYPE'],
    ['memory type 7', 0x1000n | 0x1fn, 'MEMORY_TYPE'],
    ['UC unsupported', 0x1000n | 0x18n, 'MEMORY_TYPE', { memoryTypeUC: false }],
    ['WB unsupported', 0x1000n | 0x1en, 'MEMORY_TYPE', { memoryTypeWB: false }],
    ['walk length 1', 0x1000n | 0x06n, 'WALK_LENGTH'],
    ['walk length 3', 0x1000n | 0x16n, 'WALK_LENGTH'],
    ['walk length 6', 0x1000n | 0x2en, 'WALK_LENGTH'],
    ['5-level unsupported', 0x1000n | 0x26n, 'WALK_LENGTH', { walkLength5: false }],
    ['A/D unsupported', 0x1000n | 0x5en, 'ACCESSED_DIRTY', { accessedDirty: false }],
    ['bit 7 without shadow-stack support', 0x1000n | 0x9en, 'SHADOW_STACK'],
    ['bit 8', 0x1000n | 0x11en, 'RESERVED'],
    ['bit 11', 0x1000n | 0x81en, 'RESERVED'],
    ['bit 46 = MAXPHYADDR', (1n << 46n) | 0x1en, 'RESERVED'],
    ['bit 63', (1n << 63n) | 0x1en, 'RESERVED'],
    ['bit 45 (below MAXPHYADDR)', (1n << 45n) | 0x1en, undefined],
  ];
  for (const [name, eptp, want, features] of rows) {
    it(`${name}: ${want ?? 'passes'}`, () => {
      const f = features === undefined ? all : resolveEptFeatures({ maxPhyAddr: 46, ...features });
      expect(checkEptp(eptp, f)).toBe(want);
    });
  }
  it('the Ept constructor refuses what VM entry refuses', () => {
    const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 0x10000 }] });
    expect(() => new Ept(mem, { eptp: 0x1006n })).toThrow(EptError);
  });
  it('decodes the fields', () => {
    expect(decodeEptp(0xabc_d000n | 0x5en)).toEqual({
      memoryType: 6,
      walkLength: 4,
      accessedDirty: true,
      supervisorShadowStack: false,
      root: 0xabc_d000,
    });
  });
  it('reads IA32_VMX_EPT_VPID_CAP', () => {
    // Bits 0, 6, 8, 14, 16, 17, 21, 22 set; 7 (5-level) clear.
    const f = eptFeaturesFromMsr(
      (1n << 0n) |
        (1n << 6n) |
        (1n << 8n) |
        (1n << 14n) |
        (1n << 16n) |
        (1n << 17n) |
        (1n << 21n) |
        (1n << 22n),
      46,
    );
    expect(f).toMatchObject({
      executeOnly: true,
      walkLength4: true,
      walkLength5: false,
      pages1GB: true,
      accessedDirty: true,
    });
  });
});

// One-level vectors: a 4-level EPT whose upper entries are all R/W/X and whose PTE is varied.
function oneLeaf(pte: bigint, features = {}, eptpFlags = 0x1en) {
  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 0x10_0000 }] });
  for (const [at, next] of [
    [0x1000, 0x2000],
    [0x2000, 0x3000],
    [0x3000, 0x4000],
  ])
    mem.write64(at!, BigInt(next!) | 0x407n);
  mem.write64(0x4000 + 5 * 8, pte);
  const ept = new Ept(mem, {
    eptp: 0x1000n | eptpFlags,
    features: { maxPhyAddr: 40, ...features },
  });
  return ept;
}
const GPA = 0x5123;

describe('EPT misconfiguration (§29.3.3.1) and violation (§29.3.3.2) vectors', () => {
  const rows: [string, bigint, object, number, string, number?][] = [
    // name, PTE, features, access, outcome/cause, qualification
    ['write-only', 0x9000n | 0x30n | 2n, {}, SECOND_STAGE_READ, 'RESERVED|WRITE_WITHOUT_READ'],
    ['write+execute', 0x9000n | 0x30n | 6n, {}, SECOND_STAGE_READ, 'WRITE_WITHOUT_READ'],
    [
      'execute-only supported: read violates',
      0x9000n | 0x30n | 4n,
      {},
      SECOND_STAGE_READ,
      'violation',
      0x1a1,
    ],
    [
      'execute-only unsupported',
      0x9000n | 0x30n | 4n,
      { executeOnly: false },
      SECOND_STAGE_FETCH,
      'EXECUTE_ONLY',
    ],
    ['memory type 2', 0x9000n | 0x10n | 7n, {}, SECOND_STAGE_READ, 'MEMORY_TYPE'],
    ['memory type 3', 0x9000n | 0x18n | 7n, {}, SECOND_STAGE_READ, 'MEMORY_TYPE'],
    ['memory type 7', 0x9000n | 0x38n | 7n, {}, SECOND_STAGE_READ, 'MEMORY_TYPE'],
    ['memory type 1 is fine', 0x9000n | 0x08n | 7n, {}, SECOND_STAGE_READ, 'ok'],
    ['bit 40 = MAXPHYADDR', (1n << 40n) | 0x9000n | 0x30n | 7n, {}, SECOND_STAGE_READ, 'RESERVED'],
    ['bit 51', (1n << 51n) | 0x9000n | 0x30n | 7n, {}, SECOND_STAGE_READ, 'RESERVED'],
    ['bit 52 is ignored', (1n << 52n) | 0x9000n | 0x30n | 7n, {}, SECOND_STAGE_READ, 'ok'],
    [
      'bit 63 (suppress #VE) is ignored',
      (1n << 63n) | 0x9000n | 0x30n | 7n,
      {},
      SECOND_STAGE_READ,
      'ok',
    ],
    [
      'not present: reserved bits ignored',
      (1n << 51n) | 0x9000n | 0x38n | 0x80n,
      {},
      SECOND_STAGE_READ,
      'violation',
      0x181,
    ],
    ['read-only, write', 0x9000n | 0x30n | 1n, {}, SECOND_STAGE_WRITE, 'violation', 0x18a],
    ['read/write, fetch', 0x9000n | 0x30n | 3n, {}, SECOND_STAGE_FETCH, 'violation', 0x19c],
    [
      'advanced info off: bits 9-11 clear',
      0x9000n | 0x30n | 1n,
      { advancedExitInfo: false },
      SECOND_STAGE_WRITE | 0xe0,
      'violation',
      0x18a,
    ],
    [
      'advanced info on: bits 9-11',
      0x9000n | 0x30n | 1n,
      {},
      SECOND_STAGE_WRITE | 0xe0,
      'violation',
      0xf8a,
    ],
  ];
  for (const [name, pte, features, access, want, q] of rows) {
    it(name, () => {
      const ept = oneLeaf(pte, features);
      const got = ept.translate(GPA, access, 0, 0x7000);
      if (want === 'ok') {
        expect(got).toBe(0x9123);
        expect(ept.exit.outcome).toBe(EptOutcome.OK);
      } else if (want === 'violation') {
        expect(got).toBe(-1);
        expect(ept.exit.outcome).toBe(EptOutcome.VIOLATION);
        expect(ept.exit.qualification.toString(16)).toBe(q!.toString(16));
        expect(ept.exit.guestPhysical).toBe(GPA);
      } else {
        expect(got).toBe(-1);
        expect(ept.exit.outcome).toBe(EptOutcome.MISCONFIGURATION);
        expect(want.split('|')).toContain(ept.exit.cause);
        expect(ept.exit.level).toBe(1);
      }
    });
  }

  it('bits 7:3 of a PML4E are reserved; a PDPTE with bit 7 maps 1 GiB only where supported', () => {
    const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 0x10_0000 }] });
    mem.write64(0x1000, 0x2000n | 7n | 0x80n);
    const ept = new Ept(mem, { eptp: 0x101en });
    expect(ept.translate(0x1000, 1, 0, 0)).toBe(-1);
    expect(ept.exit.cause).toBe('RESERVED');
    expect(ept.exit.level).toBe(4);
    mem.write64(0x1000, 0x2000n | 7n);
    mem.write64(0x2000, 0x4000_0000n | 0x30n | 0x80n | 7n);
    expect(ept.translate(0x1234, 1, 0, 0)).toBe(0x4000_1234);
    const no1G = new Ept(mem, { eptp: 0x101en, features: { pages1GB: false } });
    expect(no1G.translate(0x1234, 1, 0, 0)).toBe(-1);
    expect(no1G.exit.outcome).toBe(EptOutcome.MISCONFIGURATION);
    // Misaligned: bit 29 of a 1-GByte leaf.
    mem.write64(0x2000, 0x6000_0000n | 0x30n | 0x80n | 7n);
    expect(ept.translate(0x1234, 1, 0, 0)).toBe(-1);
    expect(ept.exit.cause).toBe('RESERVED');
  });

  it('EPT-violation #VE: converted unless the entry suppresses #VE', () => {
    const ve = oneLeaf(0x9000n | 0x30n | 1n, { violationVe: true });
    ve.translate(GPA, SECOND_STAGE_WRITE, 0, 0);
    expect(ve.exit.convertToVe).toBe(true);
    const suppressed = oneLeaf((1n << 63n) | 0x9000n | 0x30n | 1n, { violationVe: true });
    suppressed.translate(GPA, SECOND_STAGE_WRITE, 0, 0);
    expect(suppressed.exit.convertToVe).toBe(false);
    const off = oneLeaf(0x9000n | 0x30n | 1n);
    off.translate(GPA, SECOND_STAGE_WRITE, 0, 0);
    expect(off.exit.convertToVe).toBe(false);
  });

  it('MBEC: user-mode linear addresses need XU (bit 10), supervisor ones X (bit 2); bit 6 reports XU', () => {
    const xu = oneLeaf(0x9000n | 0x30n | 0x400n | 1n, { modeBasedExecute: true });
    expect(xu.translate(GPA, SECOND_STAGE_FETCH | 0x20, 0, 0)).toBe(0x9123);
    expect(xu.translate(GPA, SECOND_STAGE_FETCH, 0, 0)).toBe(-1);
    expect(xu.exit.qualification.toString(16)).toBe((0x100 | 0x80 | 0x40 | 0x8 | 0x4).toString(16));
    // Without MBEC bit 10 is ignored: XU alone is not present.
    const plain = oneLeaf(0x9000n | 0x30n | 0x400n);
    expect(plain.translate(GPA, SECOND_STAGE_FETCH | 0x20, 0, 0)).toBe(-1);
    expect(plain.exit.qualification.toString(16)).toBe('384'); // bit 9: a user-mode linear address (advanced information)
  });

  it('memory type and ignore-PAT of the leaf are reported', () => {
    const ept = oneLeaf(0x9000n | (5n << 3n) | 0x40n | 7n);
    ept.translate(GPA, 1, 0, 0);
    expect([ept.exit.memoryType, ept.exit.ignorePat, ept.exit.pageSize]).toEqual([5, true, 4096]);
  });
});
