import { GuestPhysicalMemory } from '@vmkit/memory';
import { formatRoutingId, mapBars, routingId, type TopologyEvent } from '@vmkit/pci';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SriovError, SriovPfDriver } from '../src/index.js';
import { makePf } from './fixtures.js';

const WINDOW = { base: 0x1_0000_0000, size: 0x1000_0000 };

describe('VF routing IDs (PCIe 4.0 §9.2.1.2)', () => {
  it('are PF + First VF Offset + (n-1) * VF Stride, carrying into the bus number', () => {
    const { sriov, pf, segment } = makePf({ routing: { firstVfOffset: 0x80, vfStride: 4 } });
    pf.config.write(sriov.offset + 0x10, 2, 63);
    pf.config.write(sriov.offset + 0x08, 2, 0x1);
    const rids = [...sriov.virtualFunctions().values()].map((vf) => vf.routingId!);
    // Independent oracle: bus 3, devfn 0 -> 0x0300; + 0x80 + 4(n-1), as bus:dev.fn.
    const expected = Array.from({ length: 63 }, (_, k) => {
      const v = 0x0300 + 0x80 + 4 * k;
      return routingId(v >> 8, (v >> 3) & 31, v & 7);
    });
    expect(rids).toEqual(expected);
    expect(formatRoutingId(rids[0]!)).toBe('03:10.0');
    expect(formatRoutingId(rids[31]!)).toBe('03:1f.4');
    expect(formatRoutingId(rids[32]!)).toBe('04:00.0'); // 0x0300 + 0x80 + 4 * 32 = 0x0400: carry
    expect(formatRoutingId(rids[62]!)).toBe('04:0f.0'); // 0x0300 + 0x80 + 4 * 62 = 0x0478
    expect(segment.routingIds().length).toBe(64);
  });

  it('does not create VFs whose routing ID would pass 0xFFFF', () => {
    // PF at ff:00.0: VF n sits at 0xff80 + 4(n-1), so only n <= 32 fit below 0x10000.
    const { sriov, pf } = makePf(
      { routing: { firstVfOffset: 0x80, vfStride: 4 } },
      routingId(255, 0, 0),
    );
    pf.config.write(sriov.offset + 0x10, 2, 63);
    pf.config.write(sriov.offset + 0x08, 2, 0x1);
    expect(sriov.virtualFunctions().size).toBe(32);
    expect(sriov.vfRoutingId(33)).toBeUndefined();
  });
});

describe('VF lifecycle', () => {
  it('creates VFs on VF Enable 0 -> 1 and removes them on 1 -> 0, announcing both', () => {
    const { sriov, pf, segment } = makePf();
    const events: TopologyEvent[] = [];
    segment.onChange((e) => events.push(e));
    pf.config.write(sriov.offset + 0x10, 2, 3);
    pf.config.write(sriov.offset + 0x08, 2, 0x1);
    pf.config.write(sriov.offset + 0x08, 2, 0x9); // setting VF MSE too: no new VFs
    expect(events.map((e) => [e.kind, e.routingId])).toEqual([
      ['added', 0x0380],
      ['added', 0x0382],
      ['added', 0x0384],
    ]);
    pf.config.write(sriov.offset + 0x08, 2, 0x0);
    expect(events.slice(3).map((e) => e.kind)).toEqual(['removed', 'removed', 'removed']);
    expect(sriov.virtualFunctions().size).toBe(0);
    expect(segment.configRead(0x0380, 0, 4)).toBe(0xffff_ffff);
  });

  it('gives VFs the VF configuration rules: IDs read FFFFh, only Bus Master is RW', () => {
    const { sriov, pf, segment } = makePf();
    pf.config.write(sriov.offset + 0x10, 2, 1);
    pf.config.write(sriov.offset + 0x08, 2, 0x1);
    const vf = 0x0380;
    expect(segment.configRead(vf, 0x00, 4)).toBe(0xffff_ffff);
    expect(segment.configRead(vf, 0x08, 4) >>> 8).toBe(0x02_00_00);
    segment.configWrite(vf, 0x04, 2, 0xffff);
    expect(segment.configRead(vf, 0x04, 2)).toBe(0x0004);
    for (let bar = 0x10; bar < 0x28; bar += 4) {
      segment.configWrite(vf, bar, 4, 0xffff_ffff);
      expect(segment.configRead(vf, bar, 4)).toBe(0);
    }
    segment.configWrite(vf, 0x3c, 1, 0xff);
    expect(segment.configRead(vf, 0x3c, 2)).toBe(0);
    // Not discovered by a normal scan, since their Vendor ID reads FFFFh.
    segment.setBusMode(3, 'link-ari');
    expect(segment.enumerate()).toEqual([0x0300]);
  });

  it('removes VFs when the PF is reset (FLR clears VF Enable)', () => {
    const { sriov, pf } = makePf();
    pf.config.write(sriov.offset + 0x10, 2, 2);
    pf.config.write(sriov.offset + 0x08, 2, 0x1);
    pf.reset();
    expect(sriov.virtualFunctions().size).toBe(0);
    expect(sriov.numVfs).toBe(0);
  });

  it('decodes VF BARs at base + (n-1) * aperture while VF MSE is set, and maps them', () => {
    const { sriov, pf, handlers } = makePf();
    const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 0x10_0000 }] });
    pf.config.write(sriov.offset + 0x10, 2, 4);
    pf.config.write(sriov.offset + 0x24, 4, 0xe000_0000);
    pf.config.write(sriov.offset + 0x08, 2, 0x1);
    const vfs = [...sriov.virtualFunctions().values()];
    const maps = vfs.map((vf) => mapBars(vf, mem, `vf${vf.routingId}`));
    expect(mem.regions().length).toBe(1);
    pf.config.write(sriov.offset + 0x08, 2, 0x9);
    expect(vfs.map((vf) => vf.decodedBars().map((b) => b.base))).toEqual([
      [0xe000_0000],
      [0xe000_4000],
      [0xe000_8000],
      [0xe000_c000],
    ]);
    expect(mem.read32(0xe000_8010)).toBe(3); // VF 3's handler answers its own number
    mem.write32(0xe000_8010, 0x77);
    expect(handlers.get('3/0')!.read(0x10, 4)).toBe(0x77n);
    pf.config.write(sriov.offset + 0x08, 2, 0x1);
    expect(mem.regions().length).toBe(1);
    for (const m of maps) m.detach();
  });
});

describe('PF driver with Linux sriov_numvfs semantics', () => {
  it('enables, refuses, no-ops and disables as drivers/pci/iov.c does', () => {
    const { segment, rid, sriov } = makePf();
    const driver = new SriovPfDriver(segment, rid, WINDOW, { ariCapableHierarchy: true });
    expect(driver.totalVfs).toBe(63);
    expect(() => driver.setNumVfs(64)).toThrow(expect.objectContaining({ code: 'RANGE' }));
    expect(driver.setNumVfs(8)).toEqual(Array.from({ length: 8 }, (_, k) => 0x0380 + 2 * k));
    expect(sriov.virtualFunctions().size).toBe(8);
    expect(sriov.control & 0x19).toBe(0x19);
    // VF BAR0 region: 8 VFs x 16 KiB from the window base; VF BAR3 after it.
    expect(
      sriov
        .virtualFunctions()
        .get(2)!
        .decodedBars()
        .map((b) => [b.index, b.base]),
    ).toEqual([
      [0, WINDOW.base + 0x4000],
      [3, WINDOW.base + 8 * 0x4000 + 0x4000],
    ]);
    expect(driver.setNumVfs(8).length).toBe(8); // same count: no-op
    expect(() => driver.setNumVfs(4)).toThrow(SriovError);
    expect(() => driver.setNumVfs(4)).toThrow(expect.objectContaining({ code: 'BUSY' }));
    expect(driver.setNumVfs(0)).toEqual([]);
    expect(sriov.virtualFunctions().size).toBe(0);
    expect(driver.setNumVfs(4).length).toBe(4);
  });

  it('matches a model of sriov_numvfs over random request sequences (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 70 }), { maxLength: 12 }), (requests) => {
        const { segment, rid, sriov } = makePf();
        const driver = new SriovPfDriver(segment, rid, WINDOW);
        let enabled = 0;
        for (const n of requests) {
          let expected: 'ok' | 'RANGE' | 'BUSY' = 'ok';
          if (n > 63) expected = 'RANGE';
          else if (n !== enabled && n !== 0 && enabled !== 0) expected = 'BUSY';
          let got: string = 'ok';
          try {
            driver.setNumVfs(n);
          } catch (e) {
            got = (e as SriovError).code;
          }
          expect(got).toBe(expected);
          if (expected === 'ok') enabled = n;
          expect(sriov.virtualFunctions().size).toBe(enabled);
          expect(segment.routingIds().length).toBe(1 + enabled);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a PF without the capability', () => {
    const { segment } = makePf();
    expect(() => new SriovPfDriver(segment, 0x0380, WINDOW)).toThrow(
      expect.objectContaining({ code: 'NO_CAPABILITY' }),
    );
  });
});
