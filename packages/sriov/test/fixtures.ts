import type { MmioHandler } from '@vmkit/memory';
import { PciFunction, PciSegment, routingId } from '@vmkit/pci';
import { type SriovOptions, SriovPhysicalFunction } from '../src/index.js';

/** An 82576-like PF at 03:00.0: 8 VFs per PF in the real part, 63 VFs for the 82599-style model. */
export function makePf(options: Partial<SriovOptions> = {}, pfRid = routingId(3, 0, 0)) {
  const segment = new PciSegment();
  const pf = new PciFunction({
    vendorId: 0x8086,
    deviceId: 0x10fb,
    classCode: 0x02_00_00,
    bars: [{ index: 0, kind: 'memory64', size: 0x8_0000 }],
  });
  pf.addPciExpress();
  pf.addAri({ nextFunction: 1 });
  const handlers = new Map<string, MmioHandler>();
  const sriov = new SriovPhysicalFunction(pf, segment, {
    totalVfs: 63,
    vfDeviceId: 0x10ed,
    routing: { firstVfOffset: 0x80, vfStride: 2 },
    vfBars: [
      { index: 0, kind: 'memory64', size: 0x4000, prefetchable: true },
      { index: 3, kind: 'memory64', size: 0x4000, prefetchable: true },
    ],
    vf: { classCode: 0x02_00_00, subsystemVendorId: 0x8086 },
    vfHandler: (n, bar) => {
      const regs = new Map<number, bigint>();
      const h: MmioHandler = {
        read: (o) => regs.get(o) ?? BigInt(n),
        write: (o, _s, v) => void regs.set(o, v),
      };
      handlers.set(`${n}/${bar}`, h);
      return h;
    },
    ...options,
  });
  segment.hotAdd(pfRid, pf);
  return { segment, pf, sriov, handlers, rid: pfRid };
}
