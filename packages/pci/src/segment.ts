import { listExtendedCapabilities } from './capability-list.js';
import type { ConfigAccessSize } from './config-space.js';
import { PciError } from './errors.js';
import { ExtendedCapabilityId, HEADER_TYPE_MULTI_FUNCTION, Type0 } from './header.js';
import type { PciFunction } from './pci-function.js';
import { checkRoutingId, formatRoutingId } from './routing-id.js';

/**
 * How configuration requests reach the functions on a bus.
 *
 * - `root`: a Root Complex bus; devices 0-31, functions 0-7 each.
 * - `link`: the secondary side of a Downstream Port with ARI Forwarding Enable clear: only
 *   Device 0 exists and requests for any other device number complete as Unsupported Request
 *   (PCIe Base 4.0 §7.3.1).
 * - `link-ari`: the same port with ARI Forwarding Enable set: the 8 bits below the bus are one
 *   function number, so functions 0-255 are reachable (§6.13).
 */
export type BusMode = 'root' | 'link' | 'link-ari';

/** A hot-plug event of a segment. */
export interface TopologyEvent {
  /** Whether the function appeared or went away. */
  readonly kind: 'added' | 'removed';
  /** Its routing ID. */
  readonly routingId: number;
  /** The function. */
  readonly fn: PciFunction;
}

/**
 * One PCI segment: up to 256 buses of functions addressed by routing ID, with hot-add and
 * surprise-free removal. Configuration reads of absent (or unreachable) functions return all
 * ones, as a master abort or Unsupported Request completes (PCI Local Bus 3.0 §6.1: a Vendor ID
 * of FFFFh means no function), and writes to them are dropped.
 *
 * @example
 * ```ts
 * const seg = new PciSegment();
 * seg.hotAdd(routingId(0, 3, 0), nic);
 * seg.configRead(routingId(0, 3, 0), 0x00, 2); // nic's Vendor ID
 * seg.configRead(routingId(0, 4, 0), 0x00, 2); // 0xffff: nobody there
 * ```
 */
export class PciSegment {
  private readonly functions = new Map<number, PciFunction>();
  private readonly modes = new Map<number, BusMode>();
  private readonly listeners = new Set<(event: TopologyEvent) => void>();

  /**
   * Places `fn` at `rid` and announces it. Throws `SLOT_OCCUPIED` if a function is there and
   * `INVALID_ADDRESS` for a bad routing ID.
   *
   * @param rid - routing ID (see {@link routingId} and {@link ariRoutingId})
   * @param fn - the function
   */
  hotAdd(rid: number, fn: PciFunction): void {
    checkRoutingId(rid);
    if (this.functions.has(rid)) {
      throw new PciError(
        'SLOT_OCCUPIED',
        `a function is already present at ${formatRoutingId(rid)}`,
      );
    }
    if (fn.routingId !== undefined) {
      throw new PciError(
        'SLOT_OCCUPIED',
        `the function is already placed at ${formatRoutingId(fn.routingId)}`,
      );
    }
    this.functions.set(rid, fn);
    fn.assignRoutingId(rid);
    for (const l of [...this.listeners]) l({ kind: 'added', routingId: rid, fn });
  }

  /**
   * Removes the function at `rid` and announces it. Throws `NO_SUCH_FUNCTION` if none is there.
   *
   * @param rid - routing ID
   * @returns the removed function
   */
  remove(rid: number): PciFunction {
    checkRoutingId(rid);
    const fn = this.functions.get(rid);
    if (fn === undefined) {
      throw new PciError('NO_SUCH_FUNCTION', `no function at ${formatRoutingId(rid)}`);
    }
    this.functions.delete(rid);
    fn.assignRoutingId(undefined);
    for (const l of [...this.listeners]) l({ kind: 'removed', routingId: rid, fn });
    return fn;
  }

  /**
   * The function at `rid`, whether or not configuration requests can reach it.
   *
   * @param rid - routing ID
   * @returns the function or undefined
   */
  functionAt(rid: number): PciFunction | undefined {
    return this.functions.get(rid);
  }

  /** Routing IDs of every present function, ascending. */
  routingIds(): number[] {
    return [...this.functions.keys()].sort((a, b) => a - b);
  }

  /**
   * Sets how requests reach the functions of `bus` (default `root`).
   *
   * @param bus - bus number
   * @param mode - see {@link BusMode}
   */
  setBusMode(bus: number, mode: BusMode): void {
    checkRoutingId(bus << 8);
    this.modes.set(bus, mode);
  }

  /**
   * Subscribes to hot-add and removal.
   *
   * @param listener - receives each event
   * @returns a function that unsubscribes
   */
  onChange(listener: (event: TopologyEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The function a configuration request for `rid` reaches, honouring the bus mode.
   *
   * @param rid - routing ID
   * @returns the function, or undefined (the request completes as UR / master abort)
   */
  target(rid: number): PciFunction | undefined {
    if (this.modes.get(rid >>> 8) === 'link' && (rid & 0xf8) !== 0) return undefined;
    return this.functions.get(rid);
  }

  /**
   * A configuration read: all ones when no function answers. Never throws for guest input.
   *
   * @param rid - routing ID
   * @param offset - register offset (0-4095)
   * @param size - 1, 2 or 4, within one DWORD
   * @returns the value read
   */
  configRead(rid: number, offset: number, size: ConfigAccessSize): number {
    const fn = this.target(rid);
    if (fn === undefined || offset + size > fn.config.size)
      return size === 4 ? 0xffff_ffff : (1 << (8 * size)) - 1;
    return fn.config.read(offset, size);
  }

  /**
   * A configuration write: dropped when no function answers. Never throws for guest input.
   *
   * @param rid - routing ID
   * @param offset - register offset
   * @param size - 1, 2 or 4, within one DWORD
   * @param value - the value written
   */
  configWrite(rid: number, offset: number, size: ConfigAccessSize, value: number): void {
    const fn = this.target(rid);
    if (fn === undefined || offset + size > fn.config.size) return;
    fn.config.write(offset, size, value);
  }

  /**
   * Enumerates the segment as system software does, through configuration reads only: for
   * each bus with a function, probe function 0 of each device (only Device 0 on a link); probe
   * functions 1-7 when Header Type bit 7 says multi-function; on an ARI-forwarding link, follow
   * the ARI Next Function Number chain from function 0 instead (PCIe Base 4.0 §6.13). A function
   * whose Vendor ID reads FFFFh is absent, which is why SR-IOV VFs never show up here.
   *
   * @returns the routing IDs found, in discovery order
   */
  enumerate(): number[] {
    const found: number[] = [];
    const present = (rid: number) => this.configRead(rid, Type0.VENDOR_ID, 2) !== 0xffff;
    const buses = [...new Set([...this.functions.keys()].map((rid) => rid >>> 8))].sort(
      (a, b) => a - b,
    );
    for (const bus of buses) {
      const mode = this.modes.get(bus) ?? 'root';
      const base = bus << 8;
      if (mode === 'link-ari' && present(base)) {
        const ari = listExtendedCapabilities((o, s) => this.configRead(base, o, s)).find(
          (c) => c.id === ExtendedCapabilityId.ARI,
        );
        if (ari !== undefined) {
          const seen = new Set<number>();
          for (let fn = 0; !seen.has(fn) && present(base | fn); ) {
            seen.add(fn);
            found.push(base | fn);
            fn = (this.configRead(base | fn, ari.offset + 4, 2) >>> 8) & 0xff;
            if (fn === 0) break;
          }
          continue;
        }
      }
      const devices = mode === 'root' ? 32 : 1;
      for (let dev = 0; dev < devices; dev++) {
        const rid0 = base | (dev << 3);
        if (!present(rid0)) continue;
        found.push(rid0);
        const multi =
          (this.configRead(rid0, Type0.HEADER_TYPE, 1) & HEADER_TYPE_MULTI_FUNCTION) !== 0;
        if (!multi) continue;
        for (let f = 1; f < 8; f++) if (present(rid0 | f)) found.push(rid0 | f);
      }
    }
    return found;
  }
}
