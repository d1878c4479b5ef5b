import type { DescriptorChain } from '../chain.js';
import { ConfigSpace } from '../config-space.js';
import { DeviceId, featureMask, hasFeature } from '../constants.js';
import type { DeviceContext, VirtioDeviceModel } from '../device-model.js';
import { VirtioError } from '../errors.js';
import {
  completeChecksum,
  decodeNetHeader,
  encodeNetHeader,
  NET_HDR_SIZE,
  NetGsoType,
  NetHdrFlags,
  type NetHeader,
} from './net-header.js';
import type { NetBackend, NetEndpoint, NetFrame } from './net-link.js';

/** virtio-net feature bits, virtio 1.2 §5.1.3. */
export const NetFeature = {
  /** Device handles packets with partial checksum. */
  CSUM: 0,
  /** Driver handles packets with partial checksum. */
  GUEST_CSUM: 1,
  /** Control channel offloads reconfiguration support. */
  CTRL_GUEST_OFFLOADS: 2,
  /** Device maximum MTU reporting is supported. */
  MTU: 3,
  /** Device has given MAC address. */
  MAC: 5,
  /** Driver can receive TSOv4. */
  GUEST_TSO4: 7,
  /** Driver can receive TSOv6. */
  GUEST_TSO6: 8,
  /** Driver can receive TSO with ECN. */
  GUEST_ECN: 9,
  /** Driver can receive UFO. */
  GUEST_UFO: 10,
  /** Device can receive TSOv4. */
  HOST_TSO4: 11,
  /** Device can receive TSOv6. */
  HOST_TSO6: 12,
  /** Device can receive TSO with ECN. */
  HOST_ECN: 13,
  /** Device can receive UFO. */
  HOST_UFO: 14,
  /** Driver can merge receive buffers. */
  MRG_RXBUF: 15,
  /** Configuration status field is available. */
  STATUS: 16,
  /** Control channel is available. */
  CTRL_VQ: 17,
  /** Control channel RX mode support. */
  CTRL_RX: 18,
  /** Control channel VLAN filtering. */
  CTRL_VLAN: 19,
  /** Driver can send gratuitous packets. */
  GUEST_ANNOUNCE: 21,
  /** Device supports multiqueue with automatic receive steering. */
  MQ: 22,
  /** Set MAC address through control channel. */
  CTRL_MAC_ADDR: 23,
} as const;

/** struct virtio_net_config offsets (§5.1.4). */
export const NetConfig = {
  /** u8 mac[6]. */
  mac: 0,
  /** le16 status. */
  status: 6,
  /** le16 max_virtqueue_pairs. */
  maxVirtqueuePairs: 8,
  /** le16 mtu. */
  mtu: 10,
  /** Size of the structure up to and including mtu. */
  size: 12,
} as const;

/** `status` bit: the link is up (§5.1.4). */
export const VIRTIO_NET_S_LINK_UP = 1;
/** Control queue class for multiqueue (§5.1.6.5.5). */
export const VIRTIO_NET_CTRL_MQ = 4;
/** Control command: set the number of queue pairs in use. */
export const VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET = 0;
/** Control queue ack: success. */
export const VIRTIO_NET_OK = 0;
/** Control queue ack: failure. */
export const VIRTIO_NET_ERR = 1;

/**
 * The largest packet the device carries: 65550 bytes, a maximum TCP/UDP packet plus the 14-byte
 * Ethernet header (the receive-buffer size §5.1.6.3 asks for with guest TSO).
 */
const MAX_FRAME = 65550;
/** Control commands are a few bytes; longer ones are read only this far. */
const MAX_CONTROL = 4096;

/** Counters of a {@link VirtioNet}. */
export interface NetStats {
  /** Frames taken from transmit queues and handed to the backend. */
  txFrames: number;
  /** Transmitted frames dropped (malformed offload requests, no backend). */
  txDropped: number;
  /** Frames written into receive buffers. */
  rxFrames: number;
  /** Received frames dropped (no buffers and backlog full, buffer too small, unsupported GSO). */
  rxDropped: number;
}

/** The saved state of a {@link VirtioNet}. */
export interface VirtioNetState {
  /** Queue pairs in use. */
  readonly activePairs: number;
  /** Link status. */
  readonly linkUp: boolean;
  /** Frames waiting for receive buffers. */
  readonly backlog: readonly SavedFrame[];
}

/** A held frame in a {@link VirtioNetState}. */
export interface SavedFrame {
  /** The frame bytes. */
  readonly data: readonly number[];
  /** Its offload metadata. */
  readonly header: NetHeader;
}

/** Options of a {@link VirtioNet}. */
export interface VirtioNetOptions {
  /** The MAC address (6 bytes or "52:54:00:12:34:56"); offered with VIRTIO_NET_F_MAC. */
  readonly mac?: Uint8Array | string;
  /** Maximum queue pairs; more than 1 offers VIRTIO_NET_F_MQ and a control queue. */
  readonly queuePairs?: number;
  /** Maximum size of every queue (default 256). */
  readonly queueSize?: number;
  /** MTU to report with VIRTIO_NET_F_MTU. */
  readonly mtu?: number;
  /** Frames held while the driver has no receive buffers (default 256). */
  readonly rxBacklog?: number;
}

/**
 * The virtio network device (virtio 1.2 §5.1): receiveq/transmitq pairs (queue 2k receives,
 * 2k+1 transmits), an optional control queue for multiqueue, the 12-byte struct virtio_net_hdr of
 * VERSION_1, and offload metadata (NEEDS_CSUM, DATA_VALID, GSO) carried through to the other end
 * of the link. A receiver that did not negotiate GUEST_CSUM gets the checksum completed in
 * software; one without the matching GUEST_TSO feature does not get GSO frames (counted as
 * dropped; vmkit does not segment). With VIRTIO_NET_F_MRG_RXBUF a packet spans several receive
 * buffers. Receive steering with several pairs hashes the IPv4 addresses and ports.
 *
 * @example
 * ```ts
 * const a = new VirtioNet({ mac: '52:54:00:00:00:01' });
 * const b = new VirtioNet({ mac: '52:54:00:00:00:02' });
 * new NetLink(a, b); // two VMs on one wire
 * ```
 */
export class VirtioNet implements VirtioDeviceModel, NetEndpoint {
  readonly deviceId = DeviceId.NET;
  readonly features: bigint;
  readonly queueMaxSizes: readonly number[];
  readonly configSize = NetConfig.size;
  /** Counters. */
  readonly stats: NetStats = { txFrames: 0, txDropped: 0, rxFrames: 0, rxDropped: 0 };
  private readonly config = new ConfigSpace(NetConfig.size);
  private readonly maxPairs: number;
  private readonly backlogLimit: number;
  private readonly backlog: NetFrame[] = [];
  private backend: NetBackend | undefined;
  private context: DeviceContext | undefined;
  private activePairs = 1;

  /** @param options - MAC, queue pairs, sizes, MTU */
  constructor(options: VirtioNetOptions = {}) {
    this.maxPairs = options.queuePairs ?? 1;
    if (!Number.isInteger(this.maxPairs) || this.maxPairs < 1 || this.maxPairs > 0x8000) {
      throw new VirtioError('INVALID_ARGUMENT', `queue pairs ${this.maxPairs} not in [1, 32768]`);
    }
    this.backlogLimit = options.rxBacklog ?? 256;
    const size = options.queueSize ?? 256;
    const queues = 2 * this.maxPairs + (this.maxPairs > 1 ? 1 : 0);
    this.queueMaxSizes = Array.from({ length: queues }, () => size);
    let f = 0n;
    const bits: number[] = [
      NetFeature.CSUM,
      NetFeature.GUEST_CSUM,
      NetFeature.HOST_TSO4,
      NetFeature.HOST_TSO6,
      NetFeature.GUEST_TSO4,
      NetFeature.GUEST_TSO6,
      NetFeature.STATUS,
      NetFeature.MRG_RXBUF,
    ];
    if (options.mac !== undefined) bits.push(NetFeature.MAC);
    if (options.mtu !== undefined) bits.push(NetFeature.MTU);
    if (this.maxPairs > 1) bits.push(NetFeature.CTRL_VQ, NetFeature.MQ);
    for (const bit of bits) f |= featureMask(bit);
    this.features = f;
    if (options.mac !== undefined) this.config.bytes.set(parseMac(options.mac), NetConfig.mac);
    this.config.set16(NetConfig.status, VIRTIO_NET_S_LINK_UP);
    this.config.set16(NetConfig.maxVirtqueuePairs, this.maxPairs);
    this.config.set16(NetConfig.mtu, options.mtu ?? 0);
  }

  /** The number of queue pairs the driver enabled (VQ_PAIRS_SET), 1 without MQ. */
  get queuePairs(): number {
    return this.activePairs;
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    return this.config.read(offset, size);
  }

  writeConfig(): void {
    // Every field of struct virtio_net_config is read-only for the driver (§5.1.4).
  }

  /** Feature dependencies of §5.1.3.1: offloads need checksumming, MQ needs the control queue. */
  acceptFeatures(f: bigint): boolean {
    const needs: [number, number][] = [
      [NetFeature.GUEST_TSO4, NetFeature.GUEST_CSUM],
      [NetFeature.GUEST_TSO6, NetFeature.GUEST_CSUM],
      [NetFeature.HOST_TSO4, NetFeature.CSUM],
      [NetFeature.HOST_TSO6, NetFeature.CSUM],
      [NetFeature.MQ, NetFeature.CTRL_VQ],
    ];
    return needs.every(([bit, dep]) => !hasFeature(f, bit) || hasFeature(f, dep));
  }

  activate(context: DeviceContext): void {
    this.context = context;
    this.activePairs = 1;
  }

  reset(): void {
    this.context = undefined;
    this.activePairs = 1;
    this.backlog.length = 0;
  }

  /** Active queue pairs, link state and held frames, for a snapshot. */
  save(): VirtioNetState {
    return {
      activePairs: this.activePairs,
      linkUp: (this.config.read(NetConfig.status, 2) & VIRTIO_NET_S_LINK_UP) !== 0,
      backlog: this.backlog.map((f) => ({ data: [...f.data], header: { ...f.header } })),
    };
  }

  /** Restores {@link VirtioNet.save}'s state. */
  restore(state: unknown): void {
    const s = state as VirtioNetState;
    this.activePairs = Math.min(Math.max(1, s.activePairs), this.maxPairs);
    this.config.set16(NetConfig.status, s.linkUp ? VIRTIO_NET_S_LINK_UP : 0);
    this.backlog.length = 0;
    for (const f of s.backlog)
      this.backlog.push({ data: Uint8Array.from(f.data), header: f.header });
  }

  attach(backend: NetBackend): void {
    this.backend = backend;
  }

  /**
   * Sets the link state in the `status` field and sends a configuration change notification.
   *
   * @param up - whether the link is up
   */
  setLinkUp(up: boolean): void {
    this.config.set16(NetConfig.status, up ? VIRTIO_NET_S_LINK_UP : 0);
    this.context?.configChanged();
  }

  notify(index: number): void {
    const ctx = this.context;
    if (ctx === undefined) return;
    if (this.maxPairs > 1 && index === 2 * this.maxPairs) return this.control(ctx, index);
    if (index % 2 === 1) return this.transmitQueue(ctx, index);
    // New receive buffers: deliver what waited for them.
    this.drainBacklog();
  }

  receive(frame: NetFrame): boolean {
    const ctx = this.context;
    if (ctx === undefined || (this.config.read(NetConfig.status, 2) & VIRTIO_NET_S_LINK_UP) === 0) {
      this.stats.rxDropped++;
      return false;
    }
    this.drainBacklog();
    if (this.backlog.length > 0) return this.enqueue(frame);
    const delivered = this.deliver(ctx, frame);
    if (delivered === 'no-buffer') return this.enqueue(frame);
    return delivered === 'ok';
  }

  /** §5.1.6.2: each transmit chain is a header and the packet, device-readable. */
  private transmitQueue(ctx: DeviceContext, index: number): void {
    const queue = ctx.queue(index);
    if (queue === undefined) return;
    const pair = (index - 1) / 2;
    do {
      queue.disableNotification();
      for (let chain = queue.pop(); chain !== undefined; chain = queue.pop()) {
        if (!this.transmit(ctx, chain, pair)) return;
        queue.addUsed(chain.head, 0);
      }
    } while (queue.enableNotification());
    ctx.notifyUsed(index);
  }

  private transmit(ctx: DeviceContext, chain: DescriptorChain, pair: number): boolean {
    if (chain.readableBytes > NET_HDR_SIZE + MAX_FRAME) {
      // Larger than any packet the device can carry (§5.1.6.3: 65550 bytes with TSO); the copy
      // is never made, so a guest cannot make the host allocate gigabytes.
      this.stats.txDropped++;
      return true;
    }
    const reader = chain.reader();
    const raw = reader.readAll();
    if (raw.length < NET_HDR_SIZE) {
      ctx.fail(
        new VirtioError(
          'BAD_REQUEST',
          'virtio-net transmit buffer shorter than its header',
          chain.head,
        ),
      );
      return false;
    }
    const header = decodeNetHeader(raw);
    const gso = header.gsoType & ~NetGsoType.ECN;
    const f = ctx.features;
    // The driver may only ask for offloads it negotiated (§5.1.6.2.1); others are dropped.
    const badCsum =
      (header.flags & NetHdrFlags.NEEDS_CSUM) !== 0 && !hasFeature(f, NetFeature.CSUM);
    const badGso =
      ((header.gsoType & NetGsoType.ECN) !== 0 && !hasFeature(f, NetFeature.HOST_ECN)) ||
      (gso === NetGsoType.TCPV4 && !hasFeature(f, NetFeature.HOST_TSO4)) ||
      (gso === NetGsoType.TCPV6 && !hasFeature(f, NetFeature.HOST_TSO6)) ||
      (gso !== NetGsoType.NONE && gso !== NetGsoType.TCPV4 && gso !== NetGsoType.TCPV6);
    if (badCsum || badGso || this.backend === undefined) {
      this.stats.txDropped++;
      return true;
    }
    this.stats.txFrames++;
    this.backend.transmit({ data: raw.subarray(NET_HDR_SIZE), header }, pair);
    return true;
  }

  private enqueue(frame: NetFrame): boolean {
    if (this.backlog.length >= this.backlogLimit) {
      this.stats.rxDropped++;
      return false;
    }
    this.backlog.push({ data: frame.data.slice(), header: frame.header });
    return true;
  }

  private drainBacklog(): void {
    const ctx = this.context;
    if (ctx === undefined) return;
    while (this.backlog.length > 0) {
      const result = this.deliver(ctx, this.backlog[0]!);
      if (result === 'no-buffer') return;
      this.backlog.shift();
    }
  }

  /** §5.1.6.4: header then packet into one receive buffer (num_buffers = 1). */
  private deliver(ctx: DeviceContext, frame: NetFrame): 'ok' | 'dropped' | 'no-buffer' {
    const pair = this.steer(frame.data);
    const index = 2 * pair;
    const queue = ctx.queue(index);
    if (queue === undefined) {
      this.stats.rxDropped++;
      return 'dropped';
    }
    const prepared = this.forReceiver(ctx.features, frame);
    if (prepared === undefined) {
      this.stats.rxDropped++;
      return 'dropped';
    }
    if (hasFeature(ctx.features, NetFeature.MRG_RXBUF))
      return this.deliverMerged(ctx, index, prepared);
    let chain = queue.pop();
    if (chain === undefined && queue.enableNotification()) chain = queue.pop();
    if (chain === undefined) return queue.fault === undefined ? 'no-buffer' : 'dropped';
    const writer = chain.writer();
    if (chain.writableBytes < NET_HDR_SIZE + prepared.data.length) {
      // Without MRG_RXBUF the driver must post buffers big enough (§5.1.6.3.1); this one is not.
      queue.addUsed(chain.head, 0);
      ctx.notifyUsed(index);
      this.stats.rxDropped++;
      return 'dropped';
    }
    writer.write(encodeNetHeader(prepared.header));
    writer.write(prepared.data);
    queue.addUsed(chain.head, writer.written);
    ctx.notifyUsed(index);
    this.stats.rxFrames++;
    return 'ok';
  }

  /**
   * With VIRTIO_NET_F_MRG_RXBUF a packet spans as many receive buffers as it needs, and
   * num_buffers in the header counts them (§5.1.6.4). The device first checks that the available
   * buffers can hold it all, so it never takes buffers it cannot fill.
   */
  private deliverMerged(
    ctx: DeviceContext,
    index: number,
    prepared: { data: Uint8Array; header: NetHeader },
  ): 'ok' | 'dropped' | 'no-buffer' {
    const queue = ctx.queue(index)!;
    const need = NET_HDR_SIZE + prepared.data.length;
    if (queue.availableWritableBytes(need) < need) {
      // Ask for a notification when more buffers come, then look again for ones that came in
      // between (§2.7.10: the re-check after enabling).
      queue.enableNotification();
      if (queue.availableWritableBytes(need) < need) {
        return queue.fault === undefined ? 'no-buffer' : 'dropped';
      }
    }
    const chains: DescriptorChain[] = [];
    for (let room = 0; room < need; ) {
      const chain = queue.pop();
      if (chain === undefined) return 'dropped'; // the queue faulted under us
      chains.push(chain);
      room += chain.writableBytes;
    }
    const bytes = new Uint8Array(need);
    bytes.set(encodeNetHeader({ ...prepared.header, numBuffers: chains.length }));
    bytes.set(prepared.data, NET_HDR_SIZE);
    let offset = 0;
    for (const chain of chains) {
      const writer = chain.writer();
      offset += writer.write(bytes.subarray(offset));
      queue.addUsed(chain.head, writer.written);
    }
    ctx.notifyUsed(index);
    this.stats.rxFrames++;
    return 'ok';
  }

  /** Adapts a frame's offload metadata to what the receiving driver negotiated (§5.1.6.4). */
  private forReceiver(
    f: bigint,
    frame: NetFrame,
  ): { data: Uint8Array; header: NetHeader } | undefined {
    const h = frame.header;
    const gso = h.gsoType & ~NetGsoType.ECN;
    if (gso !== NetGsoType.NONE) {
      const ok =
        (gso === NetGsoType.TCPV4 && hasFeature(f, NetFeature.GUEST_TSO4)) ||
        (gso === NetGsoType.TCPV6 && hasFeature(f, NetFeature.GUEST_TSO6));
      if (!ok) return undefined;
    }
    let data = frame.data;
    let flags = h.flags & (NetHdrFlags.NEEDS_CSUM | NetHdrFlags.DATA_VALID);
    if (!hasFeature(f, NetFeature.GUEST_CSUM)) {
      // §5.1.6.4.1: without GUEST_CSUM the flags must be 0, so finish the checksum here.
      if ((flags & NetHdrFlags.NEEDS_CSUM) !== 0) {
        data = data.slice();
        if (!completeChecksum(data, h.csumStart, h.csumOffset)) return undefined;
      }
      flags = 0;
    }
    const keepCsum = (flags & NetHdrFlags.NEEDS_CSUM) !== 0;
    return {
      data,
      header: {
        flags,
        gsoType: gso === NetGsoType.NONE ? 0 : h.gsoType,
        hdrLen: gso === NetGsoType.NONE ? 0 : h.hdrLen,
        gsoSize: gso === NetGsoType.NONE ? 0 : h.gsoSize,
        csumStart: keepCsum ? h.csumStart : 0,
        csumOffset: keepCsum ? h.csumOffset : 0,
        numBuffers: 1,
      },
    };
  }

  /** Receive steering: IPv4 source/destination and the first 4 bytes of L4 (ports). */
  private steer(data: Uint8Array): number {
    if (this.activePairs === 1 || data.length < 38 || data[12] !== 0x08 || data[13] !== 0x00)
      return 0;
    let h = 0x811c9dc5;
    for (let i = 26; i < 38; i++) h = Math.imul(h ^ data[i]!, 0x01000193) >>> 0;
    return h % this.activePairs;
  }

  /** §5.1.6.5: class, command, data (device-readable), then an ack byte (device-writable). */
  private control(ctx: DeviceContext, index: number): void {
    const queue = ctx.queue(index);
    if (queue === undefined) return;
    for (let chain = queue.pop(); chain !== undefined; chain = queue.pop()) {
      const command = new Uint8Array(Math.min(chain.readableBytes, MAX_CONTROL));
      chain.reader().read(command);
      if (command.length < 2 || chain.writableBytes < 1) {
        ctx.fail(
          new VirtioError(
            'BAD_REQUEST',
            'virtio-net control command without class or ack',
            chain.head,
          ),
        );
        return;
      }
      let ack = VIRTIO_NET_ERR;
      if (
        command[0] === VIRTIO_NET_CTRL_MQ &&
        command[1] === VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET &&
        command.length >= 4
      ) {
        const pairs = command[2]! | (command[3]! << 8);
        if (hasFeature(ctx.features, NetFeature.MQ) && pairs >= 1 && pairs <= this.maxPairs) {
          this.activePairs = pairs;
          ack = VIRTIO_NET_OK;
        }
      }
      const writer = chain.writer();
      writer.write(Uint8Array.of(ack));
      queue.addUsed(chain.head, writer.written);
    }
    ctx.notifyUsed(index);
  }
}

/** Parses "52:54:00:12:34:56" or takes 6 bytes. */
function parseMac(mac: Uint8Array | string): Uint8Array {
  const bytes =
    typeof mac === 'string' ? Uint8Array.from(mac.split(':'), (x) => Number.parseInt(x, 16)) : mac;
  if (bytes.length !== 6 || bytes.some((b) => !Number.isInteger(b) || b < 0 || b > 255)) {
    throw new VirtioError('INVALID_ARGUMENT', `MAC address ${String(mac)} is not 6 bytes`);
  }
  return bytes;
}
