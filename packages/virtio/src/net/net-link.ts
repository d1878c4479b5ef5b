import { type NetHeader, PLAIN_NET_HEADER } from './net-header.js';

/** A packet on the wire between two endpoints, with its offload metadata carried through. */
export interface NetFrame {
  /** The Ethernet frame (no virtio header). */
  readonly data: Uint8Array;
  /** Checksum and GSO fields as the sender's driver set them (num_buffers is ignored). */
  readonly header: NetHeader;
}

/** Where a network device sends the frames its driver transmits. */
export interface NetBackend {
  /**
   * Takes one transmitted frame.
   *
   * @param frame - the frame
   * @param queuePair - the queue pair it was sent on
   */
  transmit(frame: NetFrame, queuePair: number): void;
}

/** Something a link can plug into: it accepts frames and sends through a backend. */
export interface NetEndpoint {
  /** Sets where this endpoint's transmitted frames go. */
  attach(backend: NetBackend): void;
  /**
   * Delivers a frame to this endpoint.
   *
   * @returns whether it was accepted (false: dropped)
   */
  receive(frame: NetFrame): boolean;
}

/** Counters of one direction of a {@link NetLink}. */
export interface LinkDirectionStats {
  /** Frames offered to the link. */
  frames: number;
  /** Bytes offered (frame data, no headers). */
  bytes: number;
  /** Frames the receiving endpoint refused. */
  dropped: number;
}

/** Counters of both directions of a {@link NetLink}. */
export interface LinkStats {
  /** Frames from the first endpoint to the second. */
  readonly aToB: LinkDirectionStats;
  /** Frames from the second endpoint to the first. */
  readonly bToA: LinkDirectionStats;
}

/**
 * A point-to-point link between two endpoints (two VMs' virtio-net devices, or a device and a
 * {@link HostEndpoint}): every frame one side transmits is delivered to the other at once, with
 * its header metadata. Timing (link rate, latency) belongs to the simulator that drives it; the
 * link only counts.
 *
 * @example
 * ```ts
 * const link = new NetLink(netA, netB);
 * link.stats.aToB.frames; // frames A sent to B
 * ```
 */
export class NetLink {
  /** Per-direction counters. */
  readonly stats: LinkStats = {
    aToB: { frames: 0, bytes: 0, dropped: 0 },
    bToA: { frames: 0, bytes: 0, dropped: 0 },
  };

  /**
   * @param a - one end
   * @param b - the other end
   */
  constructor(a: NetEndpoint, b: NetEndpoint) {
    a.attach({ transmit: (frame) => this.carry(frame, b, this.stats.aToB) });
    b.attach({ transmit: (frame) => this.carry(frame, a, this.stats.bToA) });
  }

  private carry(frame: NetFrame, to: NetEndpoint, stats: LinkDirectionStats): void {
    stats.frames++;
    stats.bytes += frame.data.length;
    if (!to.receive(frame)) stats.dropped++;
  }
}

/**
 * A simulated host at the far end of a link: it records what it receives and can send frames.
 *
 * @example
 * ```ts
 * const host = new HostEndpoint();
 * new NetLink(net, host);
 * host.send(new Uint8Array(60));
 * ```
 */
export class HostEndpoint implements NetEndpoint {
  /** Frames received, in order. */
  readonly received: NetFrame[] = [];
  private backend: NetBackend | undefined;

  attach(backend: NetBackend): void {
    this.backend = backend;
  }

  receive(frame: NetFrame): boolean {
    this.received.push({ data: frame.data.slice(), header: frame.header });
    return true;
  }

  /**
   * Sends a frame towards the other end.
   *
   * @param data - the Ethernet frame
   * @param header - offload metadata (defaults to a plain packet)
   */
  send(data: Uint8Array, header?: NetHeader): void {
    this.backend?.transmit({ data, header: header ?? PLAIN_NET_HEADER }, 0);
  }
}
