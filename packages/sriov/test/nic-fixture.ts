import { ApicBus, composeMsi } from '@vmkit/interrupts';
import {
  BumpAllocator,
  ContextTables,
  InterruptRemappingTable,
  Iommu,
  remappableMsi,
  SecondLevelTables,
} from '@vmkit/iommu';
import {
  type GuestMemory,
  GuestMemoryError,
  GuestPhysicalMemory,
  type RegionInfo,
} from '@vmkit/memory';
import { mapBars, PciSegment, routingId } from '@vmkit/pci';
import { SriovNic, SriovPfDriver, VfDriver } from '../src/index.js';

const MiB = 2 ** 20;

/** A guest's physical address space as its CPU sees it: ranges mapped onto host addresses (what EPT does). */
export class GuestView implements GuestMemory {
  constructor(
    private readonly host: GuestMemory,
    private readonly ranges: { gpa: number; size: number; hpa: number }[],
  ) {}
  private t(gpa: number, len: number): number {
    const r = this.ranges.find((x) => gpa >= x.gpa && gpa + len <= x.gpa + x.size);
    if (r === undefined)
      throw new GuestMemoryError('OUT_OF_RANGE', `guest access at ${gpa}`, gpa, len);
    return r.hpa + (gpa - r.gpa);
  }
  read8 = (a: number) => this.host.read8(this.t(a, 1));
  read16 = (a: number) => this.host.read16(this.t(a, 2));
  read32 = (a: number) => this.host.read32(this.t(a, 4));
  read64 = (a: number) => this.host.read64(this.t(a, 8));
  write8 = (a: number, v: number) => this.host.write8(this.t(a, 1), v);
  write16 = (a: number, v: number) => this.host.write16(this.t(a, 2), v);
  write32 = (a: number, v: number) => this.host.write32(this.t(a, 4), v);
  write64 = (a: number, v: bigint) => this.host.write64(this.t(a, 8), v);
  readBytes = (a: number, d: Uint8Array) => this.host.readBytes(this.t(a, d.length), d);
  writeBytes = (a: number, s: Uint8Array) => this.host.writeBytes(this.t(a, s.length), s);
  fill = (a: number, n: number, b: number) => this.host.fill(this.t(a, n), n, b);
  copy = (d: number, s: number, n: number) => this.host.copy(this.t(d, n), this.t(s, n), n);
  contains = (a: number, n: number) =>
    this.ranges.some((x) => a >= x.gpa && a + n <= x.gpa + x.size);
  regions = (): readonly RegionInfo[] => [];
}

/**
 * A host with 128 MiB of RAM, an IOMMU, an APIC bus with 2 CPUs and an SR-IOV NIC at 03:00.0 with
 * `vfs` VFs enabled by the PF driver. Guest n owns `guestBytes` of host RAM from 8 MiB + (n - 1) * guestBytes as its
 * guest-physical [0, guestBytes), through its VF's IOMMU domain (n) and its CPU view alike.
 */
export function nicHost(vfs: number, options: { interruptRemapping?: boolean } = {}) {
  const host = new GuestPhysicalMemory({ ram: [{ base: 0, size: 128 * MiB }] });
  const pages = new BumpAllocator(host, 0, 8 * MiB);
  const contexts = new ContextTables(host, pages);
  const apics = new ApicBus({ cpus: 2 });
  const iommu = new Iommu({ tables: host, memory: host });
  iommu.dma.setRootTable(contexts.rootTable);
  iommu.dma.translationEnabled = true;
  const segment = new PciSegment();
  segment.setBusMode(3, 'link-ari');
  // With interrupt remapping, VF MSIs go through the IOMMU's IRTEs (source-ID checked) first.
  const irt = new InterruptRemappingTable(host, 124 * MiB, 8);
  if (options.interruptRemapping) {
    iommu.interrupts.connect(apics);
    iommu.interrupts.setTable({ address: irt.address, sizeField: irt.sizeField });
    iommu.interrupts.remappingEnabled = true;
  }
  const nic = new SriovNic({
    segment,
    routingId: routingId(3, 0, 0),
    dma: (rid) => iommu.dmaMemory(rid),
    interrupts: options.interruptRemapping
      ? { deliverMsi: (m) => iommu.interrupts.deliverMsi(m), setIntx: () => {} }
      : apics,
  });
  const pfDriver = new SriovPfDriver(
    segment,
    routingId(3, 0, 0),
    { base: 0xe000_0000, size: 0x1000_0000 },
    { ariCapableHierarchy: true },
  );
  const rids = pfDriver.setNumVfs(vfs);
  const guestBytes = vfs > 3 ? 1.5 * MiB : 16 * MiB;
  const drivers: VfDriver[] = [];
  const guests: GuestView[] = [];
  for (let n = 1; n <= vfs; n++) {
    const vf = nic.sriov.virtualFunctions().get(n)!;
    mapBars(vf, host, `vf${n}`);
    const hpa = 8 * MiB + (n - 1) * guestBytes;
    const domain = new SecondLevelTables(host, pages, 3);
    domain.map(0, hpa, guestBytes, { read: true, write: true });
    contexts.setContext(rids[n - 1]!, { domainId: n, addressWidth: 39, pageTable: domain.root });
    const bars = vf.decodedBars();
    const bar0 = bars.find((b) => b.index === 0)!.base;
    const bar3 = bars.find((b) => b.index === 3)!.base;
    // Guest view: RAM at 0, the VF's BARs at the same addresses the host mapped them (as a VMM
    // would pass them through with EPT).
    const guest = new GuestView(host, [
      { gpa: 0, size: guestBytes, hpa },
      { gpa: bar0, size: 0x4000, hpa: bar0 },
      { gpa: bar3, size: 0x4000, hpa: bar3 },
    ]);
    guests.push(guest);
    const rid = rids[n - 1]!;
    const driver = new VfDriver({
      config: {
        read: (o, s) => segment.configRead(rid, o, s),
        write: (o, s, v) => segment.configWrite(rid, o, s, v),
      },
      memory: guest,
      bar0,
      bar3,
      dmaArea: 0x10_0000,
      msix: (v) => {
        const vector = 0x40 + 3 * (n % 40) + v;
        if (!options.interruptRemapping) {
          return composeMsi({
            vector,
            destination: n % 2,
            destinationMode: 'physical',
            deliveryMode: 0,
            triggerMode: 'edge',
          });
        }
        // The VMM owns the IRTEs: entry 3n + v, valid only for this VF's requester ID.
        const index = 3 * n + v;
        irt.set(index, {
          vector,
          destination: n % 2,
          sourceValidation: 'requester-id',
          sourceId: rid,
        });
        return { ...remappableMsi(index), addressHigh: 0 };
      },
    });
    driver.init();
    drivers.push(driver);
  }
  return { host, iommu, apics, segment, nic, pfDriver, rids, drivers, guests, guestBytes, irt };
}
