import { GuestPhysicalMemory } from '@vmkit/memory';
import { describe, expect, it } from 'vitest';
import {
  DmaRemapping,
  encodeFaultRecord,
  FaultReason,
  lookupContext,
  type RemappingCapabilities,
  walkSecondLevel,
} from '../src/index.js';

// Raw entries written bit by bit from the VT-d spec formats, independent of src/table-builders.
const CAPS: RemappingCapabilities = {
  haw: 46,
  mgaw: 48,
  sagaw: [39, 48],
  passThrough: true,
  pages2M: true,
  pages1G: true,
};
const ROOT = 0x10_0000;
const CTX = 0x10_1000;
const PML4 = 0x10_2000;
const PDPT = 0x10_3000;
const PD = 0x10_4000;
const PT = 0x10_5000;

function mem() {
  return new GuestPhysicalMemory({ ram: [{ base: 0, size: 0x20_0000 }] });
}

/** Root entry (§9.1): P = bit 0, CTP = bits 63:12. */
const rootEntry = (ctp: number) => BigInt(ctp) | 1n;
/** Context entry (§9.3): low P 0, FPD 1, TT 3:2, SLPTPTR 63:12; high AW 2:0, DID 23:8. */
const contextLow = (slptptr: number, tt = 0n, fpd = false) =>
  BigInt(slptptr) | (tt << 2n) | (fpd ? 2n : 0n) | 1n;
const contextHigh = (aw: bigint, did: number) => aw | (BigInt(did) << 8n);
/** Second-level entry (§9.8): R bit 0, W bit 1, PS bit 7, ADDR 51:12. */
const sl = (addr: number, r = true, w = true, ps = false) =>
  BigInt(addr) | (r ? 1n : 0n) | (w ? 2n : 0n) | (ps ? 0x80n : 0n);

function build() {
  const m = mem();
  const sid = 0x0310; // bus 3, devfn 0x10
  m.write64(ROOT + 3 * 16, rootEntry(CTX));
  m.write64(CTX + 0x10 * 16, contextLow(PML4));
  m.write64(CTX + 0x10 * 16 + 8, contextHigh(0b010n, 7));
  // iova 0x4020_3000: PML4 index 1? no: bits 47:39 = 0, 38:30 = 1, 29:21 = 1, 20:12 = 3.
  m.write64(PML4 + 0 * 8, sl(PDPT));
  m.write64(PDPT + 1 * 8, sl(PD));
  m.write64(PD + 1 * 8, sl(PT));
  m.write64(PT + 3 * 8, sl(0x5_000, true, false));
  return { m, sid, iova: 0x4020_3000 };
}

describe('root and context entries (VT-d §9.1, §9.3)', () => {
  it('decodes domain, width, page table and translation type', () => {
    const { m, sid } = build();
    const r = lookupContext(m, ROOT, sid, CAPS);
    expect(r).toEqual({
      ok: true,
      context: {
        domainId: 7,
        passThrough: false,
        agaw: 48,
        levels: 4,
        pageTable: PML4,
        faultProcessingDisable: false,
      },
    });
  });

  const cases: [string, (m: GuestPhysicalMemory) => void, number][] = [
    ['root not present', (m) => m.write64(ROOT + 3 * 16, 0n), FaultReason.ROOT_NOT_PRESENT],
    [
      'root reserved bit 1',
      (m) => m.write64(ROOT + 3 * 16, rootEntry(CTX) | 2n),
      FaultReason.ROOT_RESERVED,
    ],
    [
      'root upper QWORD non-zero',
      (m) => m.write64(ROOT + 3 * 16 + 8, 1n),
      FaultReason.ROOT_RESERVED,
    ],
    [
      'root CTP above HAW',
      (m) => m.write64(ROOT + 3 * 16, rootEntry(CTX) | (1n << 50n)),
      FaultReason.ROOT_RESERVED,
    ],
    ['context not present', (m) => m.write64(CTX + 0x100, 0n), FaultReason.CONTEXT_NOT_PRESENT],
    [
      'context reserved bit 4',
      (m) => m.write64(CTX + 0x100, contextLow(PML4) | 0x10n),
      FaultReason.CONTEXT_RESERVED,
    ],
    [
      'context reserved high bit 7',
      (m) => m.write64(CTX + 0x108, contextHigh(0b010n, 7) | 0x80n),
      FaultReason.CONTEXT_RESERVED,
    ],
    [
      'context reserved high bit 24',
      (m) => m.write64(CTX + 0x108, contextHigh(0b010n, 7) | (1n << 24n)),
      FaultReason.CONTEXT_RESERVED,
    ],
    ['TT = 11b', (m) => m.write64(CTX + 0x100, contextLow(PML4, 3n)), FaultReason.CONTEXT_INVALID],
    [
      'TT = 01b without device-TLB support',
      (m) => m.write64(CTX + 0x100, contextLow(PML4, 1n)),
      FaultReason.CONTEXT_INVALID,
    ],
    [
      'AW = 57-bit not in SAGAW',
      (m) => m.write64(CTX + 0x108, contextHigh(0b011n, 7)),
      FaultReason.CONTEXT_INVALID,
    ],
    [
      'AW = 100b reserved',
      (m) => m.write64(CTX + 0x108, contextHigh(0b100n, 7)),
      FaultReason.CONTEXT_INVALID,
    ],
  ];
  for (const [name, corrupt, reason] of cases) {
    it(`faults with reason 0x${reason.toString(16)}: ${name}`, () => {
      const { m, sid } = build();
      corrupt(m);
      const r = lookupContext(m, ROOT, sid, CAPS);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toBe(reason);
    });
  }

  it('faults 08h when the root entry is unreadable and 09h for the context entry', () => {
    const { m, sid } = build();
    expect(lookupContext(m, 0x20_0000, sid, CAPS)).toMatchObject({ ok: false, reason: 0x08 });
    m.write64(ROOT + 3 * 16, rootEntry(0x40_0000));
    expect(lookupContext(m, ROOT, sid, CAPS)).toMatchObject({ ok: false, reason: 0x09 });
  });

  it('reports FPD even for a not-present context entry', () => {
    const { m, sid } = build();
    m.write64(CTX + 0x100, 2n);
    expect(lookupContext(m, ROOT, sid, CAPS)).toEqual({
      ok: false,
      reason: 0x02,
      faultProcessingDisable: true,
    });
  });
});

describe('second-level walk (VT-d §9.8)', () => {
  it('checks the requested right before reserved bits (VT-d §7.1.3)', () => {
    const { m, iova } = build();
    m.write64(PT + 24, sl(0x5000, true, false) | (1n << 11n));
    expect(walkSecondLevel(m, PML4, 4, iova, true, CAPS)).toEqual({
      fault: FaultReason.WRITE_NOT_PERMITTED,
    });
    expect(walkSecondLevel(m, PML4, 4, iova, false, CAPS)).toEqual({
      fault: FaultReason.PAGING_ENTRY_RESERVED,
    });
  });

  it('translates a 4 KiB page and ANDs the rights of every level', () => {
    const { m, iova } = build();
    expect(walkSecondLevel(m, PML4, 4, iova + 0x123, false, CAPS)).toEqual({
      pageBase: 0x5000,
      pageSize: 4096,
      read: true,
      write: false,
      references: 4,
    });
    expect(walkSecondLevel(m, PML4, 4, iova, true, CAPS)).toEqual({
      fault: FaultReason.WRITE_NOT_PERMITTED,
    });
    m.write64(PT + 3 * 8, sl(0x5000, true, true));
    m.write64(PD + 8, sl(PT, true, false)); // W clear at the PDE level denies writes below it
    expect(walkSecondLevel(m, PML4, 4, iova, true, CAPS)).toEqual({
      fault: FaultReason.WRITE_NOT_PERMITTED,
    });
    m.write64(PD + 8, sl(PT, false, true));
    expect(walkSecondLevel(m, PML4, 4, iova, false, CAPS)).toEqual({
      fault: FaultReason.READ_NOT_PERMITTED,
    });
  });

  it('maps 2 MiB and 1 GiB superpages with PS = 1', () => {
    const { m } = build();
    m.write64(PD + 2 * 8, sl(0x40_0000, true, true, true));
    expect(walkSecondLevel(m, PML4, 4, 0x4040_1234, true, CAPS)).toMatchObject({
      pageBase: 0x40_0000,
      pageSize: 2 ** 21,
    });
    m.write64(PDPT + 2 * 8, sl(0x4000_0000, true, true, true));
    expect(walkSecondLevel(m, PML4, 4, 0x8123_4567, false, CAPS)).toMatchObject({
      pageBase: 0x4000_0000,
      pageSize: 2 ** 30,
      references: 2,
    });
  });

  const reserved: [string, number, bigint][] = [
    ['PML4E bit 7', PML4, sl(PDPT) | 0x80n],
    ['PML4E address above HAW', PML4, sl(PDPT) | (1n << 47n)],
    ['PTE bit 11', PT + 24, sl(0x5000) | (1n << 11n)],
    ['PTE bit 62', PT + 24, sl(0x5000) | (1n << 62n)],
    ['PDE (non-leaf) bit 11', PD + 8, sl(PT) | (1n << 11n)],
    ['PDPE (non-leaf) bit 62', PDPT + 8, sl(PD) | (1n << 62n)],
    ['PTE address above HAW', PT + 24, sl(0x5000) | (1n << 46n)],
    ['2 MiB PDE address bits 20:12', PD + 8, sl(0x40_1000, true, true, true)],
  ];
  for (const [name, at, value] of reserved) {
    it(`faults 0Ch on a reserved bit: ${name}`, () => {
      const { m, iova } = build();
      m.write64(at, value);
      expect(walkSecondLevel(m, PML4, 4, iova, false, CAPS)).toEqual({
        fault: FaultReason.PAGING_ENTRY_RESERVED,
      });
    });
  }

  it('ignores the ignored bits: 61:52, 63, A/D, X, EMT/IPAT and PTE bit 7', () => {
    const { m, iova } = build();
    m.write64(PT + 24, sl(0x5000, true, false) | (0x3ffn << 52n) | (1n << 63n) | 0x3fcn);
    expect(walkSecondLevel(m, PML4, 4, iova, false, CAPS)).toMatchObject({ pageBase: 0x5000 });
  });

  it('treats PS as reserved where the unit lacks that page size', () => {
    const { m } = build();
    m.write64(PD + 2 * 8, sl(0x40_0000, true, true, true));
    const no2M = { ...CAPS, pages2M: false };
    expect(walkSecondLevel(m, PML4, 4, 0x4040_0000, false, no2M)).toEqual({
      fault: FaultReason.PAGING_ENTRY_RESERVED,
    });
  });
});

describe('DMA remapping faults and the fault log', () => {
  it('faults 04h above the AGAW and records the fault in the FRCD format', () => {
    const { m, sid } = build();
    m.write64(CTX + 0x108, contextHigh(0b001n, 7)); // 39-bit, 3-level
    const unit = new DmaRemapping({ tables: m });
    unit.setRootTable(ROOT);
    unit.translationEnabled = true;
    expect(unit.translate(sid, 2 ** 39, false)).toEqual({ ok: false, reason: 0x04 });
    const rec = unit.faults.at(0)!;
    expect(rec).toEqual({ sourceId: sid, reason: 0x04, read: true, faultInfo: 2 ** 39 });
    // FI 63:12, SID 79:64, FR 103:96, T 126 (read), F 127.
    expect(encodeFaultRecord(rec)).toBe(
      (1n << 39n) | (0x0310n << 64n) | (0x04n << 96n) | (1n << 126n) | (1n << 127n),
    );
    expect(unit.faults.status).toBe(0x0102); // PPF, FRI = 1
  });

  it('passes requests through untranslated while translation is disabled, and in pass-through contexts', () => {
    const { m, sid } = build();
    const unit = new DmaRemapping({ tables: m });
    unit.setRootTable(ROOT);
    expect(unit.translate(sid, 0x1234, true)).toMatchObject({ ok: true, address: 0x1234 });
    unit.translationEnabled = true;
    m.write64(CTX + 0x100, contextLow(0, 2n));
    expect(unit.translate(sid, 0x12_3456, true)).toMatchObject({ ok: true, address: 0x12_3456 });
    const noPt = new DmaRemapping({ tables: m, passThrough: false });
    noPt.setRootTable(ROOT);
    noPt.translationEnabled = true;
    expect(noPt.translate(sid, 0, false)).toEqual({ ok: false, reason: 0x03 });
  });

  it('does not record faults of a context with FPD set, but still blocks', () => {
    const { m, sid, iova } = build();
    m.write64(CTX + 0x100, contextLow(PML4, 0n, true));
    const unit = new DmaRemapping({ tables: m });
    unit.setRootTable(ROOT);
    unit.translationEnabled = true;
    expect(unit.translate(sid, iova, true)).toEqual({ ok: false, reason: 0x05 });
    expect(unit.faults.pending()).toEqual([]);
  });

  it('overflows when every record is pending: PFO set, fault lost', () => {
    const { m } = build();
    const unit = new DmaRemapping({ tables: m, faultRecords: 2 });
    unit.setRootTable(ROOT);
    unit.translationEnabled = true;
    for (const sid of [0x100, 0x200, 0x300 + 1]) unit.translate(sid, 0, false);
    expect(unit.faults.pending().map((r) => r.sourceId)).toEqual([0x100, 0x200]);
    expect(unit.faults.status & 1).toBe(1);
    expect(unit.faults.lostFaults).toBe(1);
    unit.faults.clear(0);
    unit.translate(0x400, 0, false);
    expect(unit.faults.pending().length).toBe(1 + 0); // PFO still set: nothing recorded
    unit.faults.clearOverflow();
    unit.translate(0x400, 0, false);
    expect(unit.faults.at(0)?.sourceId).toBe(0x400);
  });
});
