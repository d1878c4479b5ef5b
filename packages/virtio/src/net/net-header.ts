/** Size of struct virtio_net_hdr with VIRTIO_F_VERSION_1 (num_buffers always present), §5.1.6. */
export const NET_HDR_SIZE = 12;

/** struct virtio_net_hdr `flags` bits, virtio 1.2 §5.1.6. */
export const NetHdrFlags = {
  /** csum_start/csum_offset describe a partial checksum the device must complete. */
  NEEDS_CSUM: 1,
  /** The checksum of the packet has been validated. */
  DATA_VALID: 2,
  /** gso fields carry receive-segment-coalescing info. */
  RSC_INFO: 4,
} as const;

/** struct virtio_net_hdr `gso_type` values, §5.1.6. */
export const NetGsoType = {
  /** Not a GSO frame. */
  NONE: 0,
  /** TCP over IPv4 segmentation. */
  TCPV4: 1,
  /** UDP fragmentation offload. */
  UDP: 3,
  /** TCP over IPv6 segmentation. */
  TCPV6: 4,
  /** UDP segmentation (L4). */
  UDP_L4: 5,
  /** ECN bit, ORed into the type. */
  ECN: 0x80,
} as const;

/**
 * The fields of struct virtio_net_hdr (§5.1.6): the checksum and segmentation offload
 * metadata that travels with each packet.
 */
export interface NetHeader {
  /** NEEDS_CSUM / DATA_VALID / RSC_INFO. */
  readonly flags: number;
  /** GSO type, see {@link NetGsoType}. */
  readonly gsoType: number;
  /** Length of the headers to copy into each segment. */
  readonly hdrLen: number;
  /** Maximum segment size (not including headers). */
  readonly gsoSize: number;
  /** Where checksumming starts. */
  readonly csumStart: number;
  /** Where the checksum is stored, relative to csumStart. */
  readonly csumOffset: number;
  /** Number of merged receive buffers (1 without VIRTIO_NET_F_MRG_RXBUF). */
  readonly numBuffers: number;
}

/** A header with every field zero except num_buffers = 1: a plain, fully checksummed packet. */
export const PLAIN_NET_HEADER: NetHeader = Object.freeze({
  flags: 0,
  gsoType: NetGsoType.NONE,
  hdrLen: 0,
  gsoSize: 0,
  csumStart: 0,
  csumOffset: 0,
  numBuffers: 1,
});

/**
 * Decodes a little-endian struct virtio_net_hdr (§5.1.6): u8 flags, u8 gso_type, le16 hdr_len,
 * le16 gso_size, le16 csum_start, le16 csum_offset, le16 num_buffers.
 *
 * @param bytes - at least 12 bytes
 * @returns the header fields
 */
export function decodeNetHeader(bytes: Uint8Array): NetHeader {
  const v = new DataView(bytes.buffer, bytes.byteOffset, NET_HDR_SIZE);
  return {
    flags: v.getUint8(0),
    gsoType: v.getUint8(1),
    hdrLen: v.getUint16(2, true),
    gsoSize: v.getUint16(4, true),
    csumStart: v.getUint16(6, true),
    csumOffset: v.getUint16(8, true),
    numBuffers: v.getUint16(10, true),
  };
}

/**
 * Encodes a struct virtio_net_hdr into 12 little-endian bytes.
 *
 * @param h - the header fields
 * @returns the 12 bytes
 */
export function encodeNetHeader(h: NetHeader): Uint8Array {
  const out = new Uint8Array(NET_HDR_SIZE);
  const v = new DataView(out.buffer);
  v.setUint8(0, h.flags);
  v.setUint8(1, h.gsoType);
  v.setUint16(2, h.hdrLen, true);
  v.setUint16(4, h.gsoSize, true);
  v.setUint16(6, h.csumStart, true);
  v.setUint16(8, h.csumOffset, true);
  v.setUint16(10, h.numBuffers, true);
  return out;
}

/**
 * Completes a partial checksum as a device does for VIRTIO_NET_HDR_F_NEEDS_CSUM (§5.1.6.2, Packet Transmission):
 * the ones' complement of the 16-bit ones' complement sum over [csum_start, end), stored
 * big-endian at csum_start + csum_offset. The driver has put the pseudo-header sum in that field,
 * so the sum includes it.
 *
 * @param packet - the frame, modified in place
 * @param csumStart - where the sum starts
 * @param csumOffset - where the result goes, relative to csumStart
 * @returns whether the offsets were inside the packet
 */
export function completeChecksum(
  packet: Uint8Array,
  csumStart: number,
  csumOffset: number,
): boolean {
  const at = csumStart + csumOffset;
  if (csumStart > packet.length || at + 2 > packet.length) return false;
  let sum = 0;
  for (let i = csumStart; i < packet.length; i += 2) {
    sum += (packet[i]! << 8) | (i + 1 < packet.length ? packet[i + 1]! : 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  const result = ~sum & 0xffff;
  packet[at] = result >>> 8;
  packet[at + 1] = result & 0xff;
  return true;
}
