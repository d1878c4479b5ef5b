import type { GuestMemory } from '@vmkit/memory';
import { type InterruptSink, NO_INTERRUPTS, PciFunction, type PciSegment } from '@vmkit/pci';
import { SriovError } from '../errors.js';
import { SriovPhysicalFunction } from '../sriov-pf.js';
import { L2Switch } from './l2-switch.js';
import { VfDevice } from './vf-device.js';
import { Wire } from './wire.js';

/** Options of an {@link SriovNic}. */
export interface SriovNicOptions {
  /** The segment the PF (and its VFs) live in. */
  readonly segment: PciSegment;
  /** The PF's routing ID. */
  readonly routingId: number;
  /** TotalVFs, 1-63 (default 63, the 82599's VFs per port). */
  readonly totalVfs?: number;
  /** Each VF's DMA view: pass `(rid) => iommu.dmaMemory(rid)` so VF DMA is remapped. */
  readonly dma: (requesterId: number) => GuestMemory;
  /** Where VF interrupts go (an `ApicBus`, or the IOMMU's interrupt remapping). */
  readonly interrupts?: InterruptSink;
  /** The uplink (default: a new 10 Gb/s wire). */
  readonly wire?: Wire;
}

/** VF BAR layout: BAR0 16 KiB of registers, BAR3 16 KiB holding the MSI-X table and PBA (as on the 82599 VF). */
const VF_BAR_SIZE = 0x4000;

/**
 * An SR-IOV NIC in the spirit of the Intel 82576/82599: a PF (8086:10FB) with the SR-IOV
 * capability (TotalVFs up to 63, First VF Offset 0x80, VF Stride 2, VF Device ID 10EDh), VFs with
 * a register BAR (one RX and one TX legacy-descriptor queue, see {@link VfDevice}), an MSI-X BAR
 * with 3 vectors (RX, TX, mailbox), a PCI Express capability with FLR, and a layer-2 switch
 * between the VFs and a 10 Gb/s wire. The PF driver (or a VMM) sets each VF's MAC and port VLAN
 * with {@link setVfMac} / {@link setVfVlan}, as `ip link set <pf> vf <n> mac|vlan` does.
 */
export class SriovNic {
  /** The physical function. */
  readonly pf: PciFunction;
  /** Its SR-IOV capability. */
  readonly sriov: SriovPhysicalFunction;
  /** The embedded switch. */
  readonly l2: L2Switch;
  /** The uplink. */
  readonly wire: Wire;
  private readonly devices = new Map<number, VfDevice>();
  private readonly macs = new Map<number, Uint8Array>();
  private readonly vlans = new Map<number, number | undefined>();

  /** @param options - placement, DMA and interrupt wiring */
  constructor(options: SriovNicOptions) {
    const total = options.totalVfs ?? 63;
    if (!Number.isInteger(total) || total < 1 || total > 63) {
      throw new SriovError('INVALID_CONFIG', `TotalVFs ${total} is not 1-63`);
    }
    this.wire = options.wire ?? new Wire();
    this.l2 = new L2Switch((frame) => this.wire.transmit(frame));
    this.wire.deliver = (frame) => this.l2.fromWire(frame);
    this.pf = new PciFunction({
      vendorId: 0x8086,
      deviceId: 0x10fb,
      classCode: 0x02_00_00,
      subsystemVendorId: 0x8086,
      bars: [{ index: 0, kind: 'memory64', size: 0x8_0000 }],
    });
    this.pf.addPciExpress();
    this.pf.addAri({ nextFunction: 0 });
    const segment = options.segment;
    const sink = options.interrupts ?? NO_INTERRUPTS;
    this.sriov = new SriovPhysicalFunction(this.pf, segment, {
      totalVfs: total,
      vfDeviceId: 0x10ed,
      routing: { firstVfOffset: 0x80, vfStride: 2 },
      vfBars: [
        { index: 0, kind: 'memory64', size: VF_BAR_SIZE, prefetchable: true },
        { index: 3, kind: 'memory64', size: VF_BAR_SIZE, prefetchable: true },
      ],
      vf: { classCode: 0x02_00_00, subsystemVendorId: 0x8086 },
      vfHandler: (n, bar) => (bar === 0 ? this.device(n, options.dma) : undefined),
      setupVf: (vf, n) => {
        vf.addPciExpress();
        vf.addMsix({ vectors: 3, tableBar: 3, tableOffset: 0, pbaBar: 3, pbaOffset: 0x2000 });
        vf.connectInterrupts(sink);
        const dev = this.device(n, options.dma);
        dev.fn = vf;
        vf.onReset(() => dev.reset());
        this.l2.attach(dev);
      },
    });
    segment.onChange((e) => {
      if (e.kind !== 'removed') return;
      for (const [n, dev] of this.devices) {
        if (dev.fn === e.fn) {
          this.l2.detach(n);
          this.devices.delete(n);
        }
      }
    });
    segment.hotAdd(options.routingId, this.pf);
  }

  /**
   * The device model of VF `n`, while it exists.
   *
   * @param n - VF number (1-based)
   * @returns the VF device or undefined
   */
  vf(n: number): VfDevice | undefined {
    return this.devices.get(n);
  }

  /**
   * Sets VF `n`'s MAC address (PF administration).
   *
   * @param n - VF number
   * @param mac - 6 bytes
   */
  setVfMac(n: number, mac: Uint8Array): void {
    this.macs.set(n, mac.slice(0, 6));
    const dev = this.devices.get(n);
    if (dev !== undefined) dev.mac = mac.slice(0, 6);
  }

  /**
   * Sets VF `n`'s port VLAN (undefined: untagged).
   *
   * @param n - VF number
   * @param vlan - VID 1-4094
   */
  setVfVlan(n: number, vlan: number | undefined): void {
    if (vlan !== undefined && (!Number.isInteger(vlan) || vlan < 1 || vlan > 4094)) {
      throw new SriovError('INVALID_CONFIG', `VLAN ${vlan} is not 1-4094`);
    }
    this.vlans.set(n, vlan);
    const dev = this.devices.get(n);
    if (dev !== undefined) dev.vlan = vlan;
  }

  private device(n: number, dma: (rid: number) => GuestMemory): VfDevice {
    let dev = this.devices.get(n);
    if (dev === undefined) {
      // Locally administered default MAC 02:00:00:00:<PF bus>:<n>.
      const mac =
        this.macs.get(n) ?? Uint8Array.from([0x02, 0, 0, 0, (this.pf.routingId ?? 0) >>> 8, n]);
      const created: VfDevice = new VfDevice(
        n,
        mac,
        () => dma(created.fn?.routingId ?? 0),
        (from, frame) => this.l2.fromVf(from, frame),
      );
      created.vlan = this.vlans.get(n);
      dev = created;
      this.devices.set(n, dev);
    }
    return dev;
  }
}
