import { isGroupAddress, sameMac, tagFrame, untagFrame, vlanOf } from './ethernet.js';

/** A port of the switch: one VF. */
export interface SwitchPort {
  /** The VF number (1-based). */
  readonly vf: number;
  /** The VF's MAC address. */
  mac: Uint8Array;
  /** Port VLAN: frames from the VF are tagged with it on the wire and only frames of it reach the VF. */
  vlan: number | undefined;
  /** Delivers a frame to the VF's receive queue; returns whether it was accepted. */
  receive(frame: Uint8Array): boolean;
}

/** Counters of the switch. */
export interface SwitchStats {
  /** Frames switched VF to VF inside the NIC. */
  local: number;
  /** Frames sent to the wire. */
  toWire: number;
  /** Frames from the wire delivered to a VF. */
  fromWire: number;
  /** Frames no port took. */
  dropped: number;
}

/**
 * The NIC's layer-2 switch between its VFs and the uplink, as the 82576/82599 embedded switch
 * (VMDq pools) behaves: a frame whose destination MAC (within its VLAN) belongs to a VF is
 * delivered to that VF and not to the wire; group addresses go to every VF of the VLAN except the
 * sender and to the wire; unknown unicast goes to the wire. Port VLANs are inserted on egress to
 * the wire and stripped on delivery to a VF.
 */
export class L2Switch {
  /** Counters. */
  readonly stats: SwitchStats = { local: 0, toWire: 0, fromWire: 0, dropped: 0 };
  private readonly ports = new Map<number, SwitchPort>();
  private readonly uplink: (frame: Uint8Array) => void;

  /** @param uplink - sends a frame to the wire */
  constructor(uplink: (frame: Uint8Array) => void) {
    this.uplink = uplink;
  }

  /**
   * Connects a VF port.
   *
   * @param port - the port
   */
  attach(port: SwitchPort): void {
    this.ports.set(port.vf, port);
  }

  /**
   * Disconnects a VF port.
   *
   * @param vf - VF number
   */
  detach(vf: number): void {
    this.ports.delete(vf);
  }

  /**
   * A frame transmitted by VF `from` (untagged, as the VF driver built it).
   *
   * @param from - VF number
   * @param frame - the frame
   */
  fromVf(from: number, frame: Uint8Array): void {
    const src = this.ports.get(from);
    if (src === undefined) return;
    const vlan = src.vlan;
    const group = isGroupAddress(frame);
    let delivered = false;
    for (const p of this.ports.values()) {
      if (p === src || p.vlan !== vlan) continue;
      if (group || sameMac(frame, 0, p.mac)) {
        if (p.receive(frame)) this.stats.local++;
        delivered = true;
        if (!group) return;
      }
    }
    if (!delivered || group) {
      this.uplink(vlan === undefined ? frame : tagFrame(frame, vlan));
      this.stats.toWire++;
    }
  }

  /**
   * A frame arriving from the wire.
   *
   * @param frame - the frame (tagged or not)
   */
  fromWire(frame: Uint8Array): void {
    const vlan = vlanOf(frame);
    const inner = vlan === undefined ? frame : untagFrame(frame);
    const group = isGroupAddress(inner);
    let taken = false;
    for (const p of this.ports.values()) {
      if (p.vlan !== vlan) continue;
      if (group || sameMac(inner, 0, p.mac)) {
        if (p.receive(inner)) {
          taken = true;
          this.stats.fromWire++;
        }
      }
    }
    if (!taken) this.stats.dropped++;
  }
}
