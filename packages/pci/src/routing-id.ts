import { PciError } from './errors.js';

/**
 * Builds a routing ID (requester ID) from bus, device and function: bus in bits 15:8, device in
 * 7:3, function in 2:0 (PCIe Base 4.0 §2.2.6.2). With ARI (§6.13) the device field is absent and
 * bits 7:0 are an 8-bit function number: pass device 0 and the function number instead, or use
 * {@link ariRoutingId}.
 *
 * @param bus - 0-255
 * @param device - 0-31
 * @param fn - 0-7
 * @returns the 16-bit routing ID
 */
export function routingId(bus: number, device: number, fn: number): number {
  if (!inRange(bus, 255) || !inRange(device, 31) || !inRange(fn, 7)) {
    throw new PciError(
      'INVALID_ADDRESS',
      `${bus}:${device}.${fn} is not a valid bus:device.function`,
    );
  }
  return (bus << 8) | (device << 3) | fn;
}

/**
 * Builds an ARI routing ID: bus in bits 15:8, an 8-bit function number in 7:0 (PCIe Base 4.0 §6.13).
 *
 * @param bus - 0-255
 * @param fn - 0-255
 * @returns the 16-bit routing ID
 */
export function ariRoutingId(bus: number, fn: number): number {
  if (!inRange(bus, 255) || !inRange(fn, 255)) {
    throw new PciError('INVALID_ADDRESS', `${bus}:${fn} is not a valid ARI bus:function`);
  }
  return (bus << 8) | fn;
}

/**
 * Formats a routing ID the way Linux prints it: `bb:dd.f`.
 *
 * @param rid - the routing ID
 * @returns e.g. `03:10.1`
 */
export function formatRoutingId(rid: number): string {
  const h = (v: number, w: number) => v.toString(16).padStart(w, '0');
  return `${h(rid >>> 8, 2)}:${h((rid >>> 3) & 0x1f, 2)}.${rid & 7}`;
}

/** Checks that `rid` is an integer routing ID in [0, 0xFFFF]. */
export function checkRoutingId(rid: number): void {
  if (!inRange(rid, 0xffff))
    throw new PciError('INVALID_ADDRESS', `routing ID ${rid} is not 16 bits`);
}

function inRange(v: number, max: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= max;
}
