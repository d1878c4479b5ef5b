import { describe, expect, it } from 'vitest';
import {
  GuestMemoryError,
  type GuestMemoryErrorCode,
  GuestPhysicalMemory,
  type MmioHandler,
} from '../src/index.js';
import { describeGuestMemory } from '../src/testing.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

function codeOf(fn: () => unknown): GuestMemoryErrorCode | 'none' {
  try {
    fn();
  } catch (e) {
    if (e instanceof GuestMemoryError) return e.code;
    throw e;
  }
  return 'none';
}

/** Two RAM regions with a hole between them and an MMIO range in the hole. */
function layout(handler: MmioHandler = recordingDevice().handler) {
  return new GuestPhysicalMemory({
    ram: [
      { name: 'low', base: 0, size: 1 * MiB },
      { name: 'high', base: 4 * GiB, size: 60 * GiB },
    ],
    mmio: [{ name: 'dev', base: 0xfee0_0000, size: 0x1000, handler }],
  });
}

function recordingDevice() {
  const log: string[] = [];
  const handler: MmioHandler = {
    read(offset, size) {
      log.push(`r${size}@${offset}`);
      return 0x1122_3344_5566_7788n;
    },
    write(offset, size, value) {
      log.push(`w${size}@${offset}=${value.toString(16)}`);
    },
  };
  return { log, handler };
}

describeGuestMemory('GuestPhysicalMemory', () => ({
  mem: layout(),
  ramBase: 4 * GiB + 8 * MiB,
  hole: 2 * MiB,
}));

describe('GuestPhysicalMemory layout', () => {
  it('allocates a 64 GiB guest lazily, one page per first write', () => {
    const mem = layout();
    expect(mem.materializedPages).toBe(0);
    expect(mem.read64(4 * GiB + 50 * GiB)).toBe(0n);
    expect(mem.materializedPages).toBe(0);
    mem.write8(4 * GiB + 50 * GiB, 1);
    mem.write8(4 * GiB + 50 * GiB + 4095, 1);
    expect(mem.materializedPages).toBe(1);
    mem.fill(4 * GiB, 16 * MiB, 0);
    expect(mem.materializedPages).toBe(1);
  });

  it('accepts accesses that end exactly at a region end and refuses one byte more', () => {
    const mem = layout();
    const end = 1 * MiB;
    expect(codeOf(() => mem.write64(end - 8, 5n))).toBe('none');
    expect(mem.read64(end - 8)).toBe(5n);
    for (let size = 2; size <= 8; size *= 2) {
      const read = { 2: mem.read16, 4: mem.read32, 8: mem.read64 }[size]!.bind(mem);
      for (let k = 1; k < size; k++) expect(codeOf(() => read(end - k))).toBe('CROSSES_REGION');
      expect(codeOf(() => read(end))).toBe('OUT_OF_RANGE');
      expect(codeOf(() => read(end - size))).toBe('none');
    }
    expect(codeOf(() => mem.readBytes(end - 10, new Uint8Array(11)))).toBe('CROSSES_REGION');
    expect(codeOf(() => mem.copy(0, end - 10, 11))).toBe('CROSSES_REGION');
    expect(codeOf(() => mem.read8(4 * GiB - 1))).toBe('OUT_OF_RANGE');
    expect(codeOf(() => mem.read8(64 * GiB - 1))).toBe('none');
    expect(codeOf(() => mem.read8(64 * GiB))).toBe('OUT_OF_RANGE');
  });

  it('names the address and size in the error', () => {
    const mem = layout();
    try {
      mem.read32(1 * MiB - 2);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(GuestMemoryError);
      const err = e as GuestMemoryError;
      expect([err.code, err.address, err.size]).toEqual(['CROSSES_REGION', 1 * MiB - 2, 4]);
      expect(err.message).toContain('0xffffe');
    }
  });

  it('does not let an access wrap around the top of the address space', () => {
    const mem = new GuestPhysicalMemory({ ram: [{ base: 2 ** 52 - 4096, size: 4096 }] });
    expect(codeOf(() => mem.read64(2 ** 52 - 4))).toBe('CROSSES_REGION');
    expect(codeOf(() => mem.read8(2 ** 52))).toBe('INVALID_ADDRESS');
    mem.write32(2 ** 52 - 4, 0xabcdef01);
    expect(mem.read32(2 ** 52 - 4)).toBe(0xabcdef01);
  });

  it('rejects malformed and overlapping regions', () => {
    expect(codeOf(() => new GuestPhysicalMemory({ ram: [{ base: 100, size: 4096 }] }))).toBe(
      'INVALID_REGION',
    );
    expect(codeOf(() => new GuestPhysicalMemory({ ram: [{ base: 0, size: 0 }] }))).toBe(
      'INVALID_REGION',
    );
    expect(codeOf(() => new GuestPhysicalMemory({ ram: [{ base: 2 ** 52, size: 4096 }] }))).toBe(
      'INVALID_REGION',
    );
    expect(
      codeOf(
        () =>
          new GuestPhysicalMemory({
            ram: [
              { base: 0, size: 8192 },
              { base: 4096, size: 8192 },
            ],
          }),
      ),
    ).toBe('OVERLAPPING_REGION');
    const mem = layout();
    const handler = recordingDevice().handler;
    expect(codeOf(() => mem.addMmio({ base: 1 * MiB - 1, size: 2, handler }))).toBe(
      'OVERLAPPING_REGION',
    );
    expect(codeOf(() => mem.addMmio({ name: 'low', base: 3 * MiB, size: 2, handler }))).toBe(
      'INVALID_REGION',
    );
    expect(codeOf(() => mem.removeRegion('nope'))).toBe('UNKNOWN_REGION');
  });

  it('reports regions sorted by base and answers range queries', () => {
    const mem = layout();
    expect(mem.regions().map((r) => [r.name, r.kind])).toEqual([
      ['low', 'ram'],
      ['dev', 'mmio'],
      ['high', 'ram'],
    ]);
    expect(mem.contains(0, 1 * MiB)).toBe(true);
    expect(mem.contains(0, 1 * MiB + 1)).toBe(false);
    expect(mem.contains(0xfee0_0ffc, 4)).toBe(true);
    expect(mem.contains(-1, 1)).toBe(false);
  });

  it('routes sized MMIO accesses to the handler with region-relative offsets', () => {
    const { log, handler } = recordingDevice();
    const mem = layout(handler);
    expect(mem.read32(0xfee0_0030)).toBe(0x5566_7788);
    expect(mem.read8(0xfee0_0031)).toBe(0x88);
    expect(mem.read64(0xfee0_0008)).toBe(0x1122_3344_5566_7788n);
    mem.write32(0xfee0_00b0, -1);
    mem.write64(0xfee0_0010, 0xabn);
    expect(log).toEqual(['r4@48', 'r1@49', 'r8@8', 'w4@176=ffffffff', 'w8@16=ab']);
    expect(codeOf(() => mem.readBytes(0xfee0_0000, new Uint8Array(4)))).toBe('MMIO_BULK_ACCESS');
    mem.removeRegion('dev');
    expect(codeOf(() => mem.read32(0xfee0_0030))).toBe('OUT_OF_RANGE');
  });
});

describe('GuestPhysicalMemory dirty log', () => {
  it('logs every page a write touches, including page-straddling and bulk writes', () => {
    const mem = layout();
    mem.startDirtyLog('high');
    const base = 4 * GiB;
    mem.write8(base + 5, 1);
    mem.write32(base + 3 * 4096 - 2, 1);
    mem.writeBytes(base + 10 * 4096 + 4000, new Uint8Array(200));
    mem.fill(base + 20 * 4096, 3 * 4096, 0);
    mem.copy(base + 30 * 4096, base, 4096);
    mem.write8(0, 1); // 'low' is not logged
    expect(mem.harvestDirtyPages().map((a) => (a - base) / 4096)).toEqual([
      0, 2, 3, 10, 11, 20, 21, 22, 30,
    ]);
    expect(mem.harvestDirtyPages()).toEqual([]);
  });

  it('does not log reads or writes after it is stopped', () => {
    const mem = layout();
    mem.startDirtyLog();
    mem.read32(0x2000);
    expect(mem.harvestDirtyPages()).toEqual([]);
    mem.write32(0x2000, 1);
    mem.stopDirtyLog();
    expect(mem.isDirtyLogging('low')).toBe(false);
    mem.write32(0x3000, 1);
    mem.startDirtyLog();
    expect(mem.harvestDirtyPages()).toEqual([]);
  });

  it('refuses to log an MMIO region or an unknown one', () => {
    const mem = layout();
    expect(codeOf(() => mem.startDirtyLog('dev'))).toBe('INVALID_REGION');
    expect(codeOf(() => mem.harvestDirtyPages('nope'))).toBe('UNKNOWN_REGION');
  });
});
