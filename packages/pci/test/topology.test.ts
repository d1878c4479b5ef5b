import { GuestPhysicalMemory } from '@vmkit/memory';
import { describe, expect, it } from 'vitest';
import {
  ariRoutingId,
  ConfigPorts,
  Ecam,
  formatRoutingId,
  PciError,
  PciFunction,
  PciSegment,
  routingId,
  type TopologyEvent,
} from '../src/index.js';

const fn = (deviceId: number, multiFunction = false) =>
  new PciFunction({ vendorId: 0x8086, deviceId, classCode: 0x020000, multiFunction });

describe('routing IDs (PCIe 4.0 §2.2.6.2, §6.13)', () => {
  it('packs bus, device and function; ARI packs an 8-bit function', () => {
    expect(routingId(3, 0x10, 1)).toBe(0x0381);
    expect(ariRoutingId(3, 0x81)).toBe(0x0381);
    expect(formatRoutingId(0x0381)).toBe('03:10.1');
    expect(() => routingId(0, 32, 0)).toThrow(PciError);
    expect(() => routingId(0, 0, 8)).toThrow(PciError);
    expect(() => ariRoutingId(256, 0)).toThrow(PciError);
  });
});

describe('PciSegment: hot-add, removal, enumeration', () => {
  it('adds and removes functions, announces both, and refuses double placement', () => {
    const seg = new PciSegment();
    const events: TopologyEvent[] = [];
    seg.onChange((e) => events.push(e));
    const a = fn(1);
    seg.hotAdd(routingId(0, 3, 0), a);
    expect(a.routingId).toBe(0x18);
    expect(() => seg.hotAdd(routingId(0, 3, 0), fn(2))).toThrow(PciError);
    expect(() => seg.hotAdd(routingId(0, 4, 0), a)).toThrow(PciError);
    expect(seg.configRead(0x18, 0, 4)).toBe(0x0001_8086);
    expect(seg.remove(0x18)).toBe(a);
    expect(a.routingId).toBeUndefined();
    expect(seg.configRead(0x18, 0, 4)).toBe(0xffff_ffff);
    expect(() => seg.remove(0x18)).toThrow(PciError);
    expect(events.map((e) => [e.kind, e.routingId])).toEqual([
      ['added', 0x18],
      ['removed', 0x18],
    ]);
  });

  it('enumerates like software: function 0 first, functions 1-7 only for multi-function devices', () => {
    const seg = new PciSegment();
    seg.hotAdd(routingId(0, 0, 0), fn(1));
    seg.hotAdd(routingId(0, 2, 0), fn(2, true));
    seg.hotAdd(routingId(0, 2, 5), fn(3));
    seg.hotAdd(routingId(0, 4, 0), fn(4)); // single-function: its function 1 is invisible
    seg.hotAdd(routingId(0, 4, 1), fn(5));
    seg.hotAdd(routingId(0, 6, 1), fn(6)); // no function 0: invisible
    seg.hotAdd(routingId(1, 0, 0), fn(7));
    expect(seg.enumerate().map(formatRoutingId)).toEqual([
      '00:00.0',
      '00:02.0',
      '00:02.5',
      '00:04.0',
      '01:00.0',
    ]);
  });

  it('reaches only Device 0 behind a link without ARI forwarding, all 256 functions with it', () => {
    const seg = new PciSegment();
    seg.setBusMode(2, 'link');
    const pf = fn(0x10, true);
    pf.addAri({ nextFunction: 1 });
    seg.hotAdd(ariRoutingId(2, 0), pf);
    const f1 = fn(0x11);
    f1.addAri({ nextFunction: 0x40 });
    seg.hotAdd(ariRoutingId(2, 1), f1);
    const f40 = fn(0x12);
    f40.addAri({ nextFunction: 0 });
    seg.hotAdd(ariRoutingId(2, 0x40), f40);
    expect(seg.configRead(ariRoutingId(2, 0x40), 0, 2)).toBe(0xffff);
    expect(seg.enumerate().map((r) => r & 0xff)).toEqual([0, 1]);
    seg.setBusMode(2, 'link-ari');
    expect(seg.configRead(ariRoutingId(2, 0x40), 2, 2)).toBe(0x12);
    expect(seg.enumerate().map((r) => r & 0xff)).toEqual([0, 1, 0x40]);
  });
});

describe('ECAM (PCIe 4.0 §7.2.2, Table 7-1)', () => {
  const setup = () => {
    const seg = new PciSegment();
    const a = fn(0x1234);
    a.addPciExpress();
    seg.hotAdd(routingId(0, 3, 0), a);
    const b = fn(0x5678);
    seg.hotAdd(routingId(5, 31, 7), b);
    const ecam = new Ecam(seg);
    const mem = new GuestPhysicalMemory({
      ram: [{ base: 0, size: 0x10_0000 }],
      mmio: [{ name: 'ecam', base: 0xe000_0000, size: ecam.size, handler: ecam }],
    });
    const at = (bus: number, dev: number, f: number, reg: number) =>
      0xe000_0000 + ((bus << 20) | (dev << 15) | (f << 12) | reg);
    return { seg, a, b, mem, at, ecam };
  };

  it('decodes bus 27:20, device 19:15, function 14:12, register 11:0', () => {
    const { mem, at, a } = setup();
    expect(mem.read32(at(0, 3, 0, 0))).toBe(0x1234_8086);
    expect(mem.read16(at(5, 31, 7, 2))).toBe(0x5678);
    expect(mem.read8(at(5, 31, 7, 1))).toBe(0x80);
    expect(mem.read32(at(0, 4, 0, 0))).toBe(0xffff_ffff);
    mem.write16(at(0, 3, 0, 4), 0x0006);
    expect(a.config.read(4, 2)).toBe(0x0006);
    expect(mem.read32(at(0, 3, 0, 0x100))).toBe(0); // no extended capabilities: a zero header
    expect(mem.read64(at(0, 3, 0, 0))).toBe(0x0010_0006_1234_8086n);
  });

  it('reads all ones for DWORD-crossing accesses and drops such writes', () => {
    const { mem, at, a } = setup();
    expect(mem.read32(at(0, 3, 0, 2))).toBe(0xffff_ffff);
    expect(mem.read16(at(0, 3, 0, 3))).toBe(0xffff);
    mem.write32(at(0, 3, 0, 2), 0xffff_ffff);
    expect(a.config.read(4, 2)).toBe(0);
  });

  it('decodes a bus range starting above 0', () => {
    const seg = new PciSegment();
    seg.hotAdd(routingId(0x10, 1, 0), fn(9));
    const ecam = new Ecam(seg, { startBus: 0x10, endBus: 0x1f });
    expect(ecam.size).toBe(16 << 20);
    expect(ecam.read(1 << 15, 4)).toBe(0x0009_8086n);
    expect(() => new Ecam(seg, { startBus: 5, endBus: 4 })).toThrow(PciError);
  });

  it("reads all ones past a conventional function's 256 bytes", () => {
    const seg = new PciSegment();
    seg.hotAdd(0, new PciFunction({ vendorId: 1, deviceId: 2, classCode: 0, express: false }));
    const ecam = new Ecam(seg);
    expect(ecam.read(0x100, 4)).toBe(0xffff_ffffn);
    expect(ecam.read(0xfc, 4)).toBe(0n);
  });
});

describe('Configuration Mechanism #1 (PCI LB 3.0 §3.2.2.3.2)', () => {
  it('latches CONFIG_ADDRESS and reaches the addressed DWORD through 0xCFC-0xCFF', () => {
    const seg = new PciSegment();
    const a = fn(0xabcd);
    seg.hotAdd(routingId(0, 3, 0), a);
    const ports = new ConfigPorts(seg);
    ports.ioWrite(0xcf8, 4, 0x8000_1803);
    expect(ports.ioRead(0xcf8, 4)).toBe(0x8000_1800);
    expect(ports.ioRead(0xcfc, 4)).toBe(0xabcd_8086);
    expect(ports.ioRead(0xcfe, 2)).toBe(0xabcd);
    ports.ioWrite(0xcf8, 4, 0x8000_1804);
    ports.ioWrite(0xcfc, 2, 0x0002);
    expect(a.memorySpaceEnabled).toBe(true);
    ports.ioWrite(0xcf8, 4, 0x0000_1800);
    expect(ports.ioRead(0xcfc, 4)).toBe(0xffff_ffff);
    ports.ioWrite(0xcf8, 4, 0x8000_2000);
    expect(ports.ioRead(0xcfc, 4)).toBe(0xffff_ffff);
  });
});
