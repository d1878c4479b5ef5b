import { remappableMsi } from '@vmkit/iommu';
import { describe, expect, it } from 'vitest';
import { buildFrame, formatMac, parseMac, tagFrame, vlanOf } from '../src/index.js';
import { nicHost } from './nic-fixture.js';

const payload = (text: string) => new TextEncoder().encode(text);
const BROADCAST = parseMac('ff:ff:ff:ff:ff:ff');

describe('SR-IOV NIC: VF queues, DMA through the IOMMU, MSI-X, L2 switch', () => {
  it('switches a frame VF1 -> VF2 inside the NIC, with TX and RX interrupts', () => {
    const { nic, drivers, apics } = nicHost(3);
    const [a, b] = drivers as [(typeof drivers)[0], (typeof drivers)[0]];
    expect(formatMac(a.mac)).toBe('02:00:00:00:03:01');
    const frame = buildFrame(b.mac, a.mac, 0x0800, payload('hello VF2'));
    expect(a.send(frame)).toBe(true);
    const got = b.receive();
    expect(got).toEqual([frame]);
    expect(nic.wire.framesOut).toBe(0);
    expect(nic.l2.stats.local).toBe(1);
    expect(nic.vf(1)!.stats).toMatchObject({ txFrames: 1, dmaErrors: 0 });
    // VF1 TX is vector 0x40 + 3 + 1 on CPU 1, VF2 RX is 0x40 + 6 on CPU 0.
    expect(apics.cpus[1]!.isRequested(0x44)).toBe(true);
    expect(apics.cpus[0]!.isRequested(0x46)).toBe(true);
    expect(b.receive()).toEqual([]);
  });

  it('floods broadcasts to the other VFs and the wire; unknown unicast goes to the wire only', () => {
    const { nic, drivers } = nicHost(3);
    const out: Uint8Array[] = [];
    nic.wire.onTransmit = (f) => out.push(f);
    const bcast = buildFrame(BROADCAST, drivers[0]!.mac, 0x0806, payload('who has'));
    drivers[0]!.send(bcast);
    expect(drivers[1]!.receive()).toEqual([bcast]);
    expect(drivers[2]!.receive()).toEqual([bcast]);
    expect(drivers[0]!.receive()).toEqual([]);
    const far = buildFrame(parseMac('00:1b:21:00:00:01'), drivers[0]!.mac, 0x0800, payload('out'));
    drivers[0]!.send(far);
    expect(out).toEqual([bcast, far]);
    expect(nic.wire.bytesOut).toBe(bcast.length + far.length);
  });

  it('isolates port VLANs: tags on the wire, strips on delivery, no cross-VLAN switching', () => {
    const { nic, drivers } = nicHost(3);
    nic.setVfVlan(1, 10);
    nic.setVfVlan(2, 20);
    nic.setVfVlan(3, 10);
    const out: Uint8Array[] = [];
    nic.wire.onTransmit = (f) => out.push(f);
    const toVf2 = buildFrame(drivers[1]!.mac, drivers[0]!.mac, 0x0800, payload('x'));
    drivers[0]!.send(toVf2);
    expect(drivers[1]!.receive()).toEqual([]);
    expect(out.length).toBe(1);
    expect(vlanOf(out[0]!)).toBe(10);
    // From the wire: a VLAN-20 frame for VF2 arrives untagged; a VLAN-10 frame for VF2 is dropped.
    const inbound = buildFrame(
      drivers[1]!.mac,
      parseMac('00:1b:21:00:00:01'),
      0x0800,
      payload('in'),
    );
    nic.wire.receive(tagFrame(inbound, 20));
    nic.wire.receive(tagFrame(inbound, 10));
    expect(drivers[1]!.receive()).toEqual([inbound]);
    expect(nic.l2.stats.dropped).toBe(1);
  });

  it('blocks a VF DMA outside its guest: fault recorded with the VF RID, frame not sent, memory untouched', () => {
    const { nic, drivers, iommu, rids, host, guests, guestBytes } = nicHost(2);
    // A malicious guest 1 points a TX descriptor at guest-physical 15 MiB + 16 MiB: beyond its domain.
    const g1 = guests[0]!;
    const secret = 8 * 2 ** 20 + guestBytes + 0x1000; // guest 2's RAM in host-physical terms
    host.writeBytes(secret, payload('guest 2 secret'));
    const tx = 0x10_0000;
    g1.write32(tx, guestBytes + 0x1000); // buffer address outside guest 1's domain
    g1.write32(tx + 4, 0);
    g1.write32(tx + 8, (64 | (0x0b << 24)) >>> 0);
    const bar0 = nic.sriov.virtualFunctions().get(1)!.decodedBars()[0]!.base;
    host.write32(bar0 + 0x2018, 1); // TDT doorbell
    expect(nic.vf(1)!.stats.dmaErrors).toBe(1);
    expect(nic.vf(1)!.stats.txFrames).toBe(0);
    expect(nic.wire.framesOut + nic.l2.stats.local).toBe(0);
    const fault = iommu.dma.faults.pending().at(-1)!;
    expect(fault).toMatchObject({
      sourceId: rids[0],
      reason: 0x06,
      faultInfo: guestBytes + 0x1000,
    });
    // Guest 2's RX ring stays as its driver left it.
    expect(drivers[1]!.receive()).toEqual([]);
  });

  it("sends VF interrupts through IOMMU interrupt remapping; a VF using another VF's entry is blocked", () => {
    const { drivers, apics, iommu, nic, rids, host } = nicHost(2, { interruptRemapping: true });
    const [a, b] = drivers as [(typeof drivers)[0], (typeof drivers)[0]];
    a.send(buildFrame(b.mac, a.mac, 0x0800, payload('remapped')));
    expect(b.receive().length).toBe(1);
    expect(apics.cpus[1]!.isRequested(0x44)).toBe(true); // VF1 TX via IRTE 4
    expect(apics.cpus[0]!.isRequested(0x46)).toBe(true); // VF2 RX via IRTE 6
    // Guest 1 rewrites its RX vector's MSI-X entry to VF2's IRTE (index 6): the source-ID check fails.
    const bar3 = nic.sriov
      .virtualFunctions()
      .get(1)!
      .decodedBars()
      .find((x) => x.index === 3)!.base;
    host.write32(bar3, remappableMsi(6).addressLow);
    b.send(buildFrame(a.mac, b.mac, 0x0800, payload('to VF1')));
    expect(a.receive().length).toBe(1); // the frame arrives; its interrupt does not
    const fault = iommu.dma.faults.pending().at(-1)!;
    expect(fault).toMatchObject({ sourceId: rids[0], reason: 0x26, faultInfo: 6 });
  });

  it('stops DMA when the guest clears Bus Master Enable', () => {
    const { segment, rids, drivers, nic } = nicHost(2);
    segment.configWrite(rids[1]!, 0x04, 2, 0);
    drivers[0]!.send(buildFrame(drivers[1]!.mac, drivers[0]!.mac, 0x0800, payload('x')));
    expect(drivers[1]!.receive()).toEqual([]);
    expect(nic.vf(2)!.stats).toMatchObject({ rxDropped: 1, dmaErrors: 1 });
  });

  it('runs 63 VFs, each reaching its neighbour, and detaches ports when VFs go away', () => {
    const { drivers, nic, pfDriver } = nicHost(63);
    for (let i = 0; i < 63; i++) {
      const from = drivers[i]!;
      const to = drivers[(i + 1) % 63]!;
      expect(from.send(buildFrame(to.mac, from.mac, 0x0800, payload(`from ${i}`)))).toBe(true);
    }
    for (let i = 0; i < 63; i++) {
      const frames = drivers[i]!.receive();
      expect(frames.length).toBe(1);
      expect(
        new TextDecoder()
          .decode(frames[0]!.subarray(14, 14 + 8))
          .startsWith(`from ${(i + 62) % 63}`),
      ).toBe(true);
    }
    expect(nic.l2.stats.local).toBe(63);
    pfDriver.setNumVfs(0);
    expect(nic.vf(1)).toBeUndefined();
  });
});
