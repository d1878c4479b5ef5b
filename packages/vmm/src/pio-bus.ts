import { VmmError } from './errors.js';

/** Width of a port access in bytes, as IN/OUT encode it. */
export type PortSize = 1 | 2 | 4;

/**
 * A device on the port-I/O bus. Offsets are relative to the device's first port, so one
 * device class serves any base.
 */
export interface PioDevice {
  /**
   * An IN from the device.
   *
   * @param offset - port minus the device's base
   * @param size - access width in bytes
   * @returns the value read (the bus masks it to `size`)
   */
  read(offset: number, size: PortSize): number;
  /**
   * An OUT to the device.
   *
   * @param offset - port minus the device's base
   * @param size - access width in bytes
   * @param value - the value written
   */
  write(offset: number, size: PortSize, value: number): void;
}

interface Range {
  readonly base: number;
  readonly count: number;
  readonly device: PioDevice;
}

const MASK: Record<PortSize, number> = { 1: 0xff, 2: 0xffff, 4: 0xffff_ffff };

/**
 * The port-I/O bus: devices registered by port range. An access is routed by its first port
 * (as KVM's PIO bus does); ports no device owns read as all ones and ignore writes, like an
 * unterminated ISA bus and like `kvm-run`.
 *
 * @example
 * ```ts
 * const bus = new PioBus();
 * bus.register(0xf4, 4, { read: () => 0, write: (_o, _s, v) => console.log(v) });
 * bus.write(0xf4, 4, 0);
 * ```
 */
export class PioBus {
  private readonly ranges: Range[] = [];
  /** Accesses to ports no device owns. */
  unclaimed = 0;

  /**
   * Registers `device` on ports `[base, base + count)`.
   *
   * @param base - first port, 0..65535
   * @param count - number of ports, at least 1
   * @param device - the device
   * @throws VmmError `PORT_CONFLICT` when the range overlaps a registered device, `BAD_CONFIG`
   *   when it is not within 0..65535
   */
  register(base: number, count: number, device: PioDevice): void {
    if (
      !Number.isInteger(base) ||
      !Number.isInteger(count) ||
      base < 0 ||
      count < 1 ||
      base + count > 0x1_0000
    )
      throw new VmmError('BAD_CONFIG', `port range ${base}+${count} is not within 0..0xffff`);
    for (const r of this.ranges)
      if (base < r.base + r.count && r.base < base + count)
        throw new VmmError(
          'PORT_CONFLICT',
          `ports 0x${base.toString(16)}+${count} overlap 0x${r.base.toString(16)}+${r.count}`,
        );
    this.ranges.push({ base, count, device });
  }

  private find(port: number): Range | undefined {
    for (const r of this.ranges) if (port >= r.base && port < r.base + r.count) return r;
    return undefined;
  }

  /**
   * An IN from `port`.
   *
   * @param port - the port
   * @param size - access width
   * @returns the value, masked to `size`; all ones when no device owns the port
   */
  read(port: number, size: PortSize): number {
    const r = this.find(port);
    if (r === undefined) {
      this.unclaimed++;
      return MASK[size];
    }
    return (r.device.read(port - r.base, size) & MASK[size]) >>> 0;
  }

  /**
   * An OUT to `port`.
   *
   * @param port - the port
   * @param size - access width
   * @param value - the value written
   */
  write(port: number, size: PortSize, value: number): void {
    const r = this.find(port);
    if (r === undefined) {
      this.unclaimed++;
      return;
    }
    r.device.write(port - r.base, size, (value & MASK[size]) >>> 0);
  }
}
