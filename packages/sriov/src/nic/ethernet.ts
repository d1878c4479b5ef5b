import { SriovError } from '../errors.js';

/** 802.1Q Tag Protocol Identifier. */
export const TPID_8021Q = 0x8100;
/** Ethernet header length without a tag: destination, source, EtherType. */
export const ETH_HEADER = 14;
/** Minimum frame length without FCS (IEEE 802.3 §3.2.8: 64 bytes with FCS). */
export const ETH_MIN_FRAME = 60;
/** Maximum untagged frame length without FCS (1518 with FCS). */
export const ETH_MAX_FRAME = 1514;

/**
 * Parses `aa:bb:cc:dd:ee:ff` into 6 bytes.
 *
 * @param text - the MAC address
 * @returns the bytes
 */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new SriovError('INVALID_CONFIG', `"${text}" is not a MAC address`);
  }
  return Uint8Array.from(parts.map((p) => Number.parseInt(p, 16)));
}

/**
 * Formats 6 bytes as `aa:bb:cc:dd:ee:ff`.
 *
 * @param mac - the bytes (the first 6 are used)
 * @returns the text
 */
export function formatMac(mac: Uint8Array): string {
  return [...mac.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Whether the frame's destination is a group (multicast/broadcast) address: I/G bit set. */
export function isGroupAddress(frame: Uint8Array): boolean {
  return (frame[0]! & 1) === 1;
}

/** Whether two 6-byte addresses are equal. */
export function sameMac(a: Uint8Array, aOffset: number, b: Uint8Array): boolean {
  for (let k = 0; k < 6; k++) if (a[aOffset + k] !== b[k]) return false;
  return true;
}

/**
 * The VLAN ID of an 802.1Q-tagged frame, or undefined when untagged.
 *
 * @param frame - the frame
 * @returns VID 0-4095
 */
export function vlanOf(frame: Uint8Array): number | undefined {
  if (frame.length < 18 || ((frame[12]! << 8) | frame[13]!) !== TPID_8021Q) return undefined;
  return ((frame[14]! << 8) | frame[15]!) & 0xfff;
}

/**
 * Inserts an 802.1Q tag (priority 0) after the source address.
 *
 * @param frame - untagged frame
 * @param vid - VLAN ID 1-4094
 * @returns the tagged frame
 */
export function tagFrame(frame: Uint8Array, vid: number): Uint8Array {
  const out = new Uint8Array(frame.length + 4);
  out.set(frame.subarray(0, 12));
  out[12] = TPID_8021Q >>> 8;
  out[13] = TPID_8021Q & 0xff;
  out[14] = (vid >>> 8) & 0x0f;
  out[15] = vid & 0xff;
  out.set(frame.subarray(12), 16);
  return out;
}

/**
 * Removes the 802.1Q tag.
 *
 * @param frame - tagged frame
 * @returns the untagged frame
 */
export function untagFrame(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(frame.length - 4);
  out.set(frame.subarray(0, 12));
  out.set(frame.subarray(16), 12);
  return out;
}

/**
 * Builds a frame: destination, source, EtherType, payload (padded to 60 bytes).
 *
 * @param dst - destination MAC
 * @param src - source MAC
 * @param etherType - e.g. 0x0800
 * @param payload - the data
 * @returns the frame (without FCS)
 */
export function buildFrame(
  dst: Uint8Array,
  src: Uint8Array,
  etherType: number,
  payload: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(Math.max(ETH_MIN_FRAME, ETH_HEADER + payload.length));
  out.set(dst.subarray(0, 6), 0);
  out.set(src.subarray(0, 6), 6);
  out[12] = etherType >>> 8;
  out[13] = etherType & 0xff;
  out.set(payload, ETH_HEADER);
  return out;
}
