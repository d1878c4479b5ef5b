import type { ConfigAccessSize } from './config-space.js';
import type { PciSegment } from './segment.js';

/** I/O port of CONFIG_ADDRESS (PCI Local Bus 3.0 §3.2.2.3.2). */
export const CONFIG_ADDRESS_PORT = 0xcf8;
/** First I/O port of CONFIG_DATA (0xCFC-0xCFF). */
export const CONFIG_DATA_PORT = 0xcfc;

/**
 * Configuration Mechanism #1, the x86 I/O-port path to configuration space (PCI Local Bus 3.0
 * §3.2.2.3.2): a DWORD write to CONFIG_ADDRESS (0xCF8) latches Enable (bit 31), bus (23:16),
 * device (15:11), function (10:8) and register (7:2; bits 1:0 read 0); an access to CONFIG_DATA
 * (0xCFC + n) then reaches byte n of that DWORD when Enable is set. Only the first 256 bytes are
 * reachable this way. Non-DWORD accesses to 0xCF8 are not CONFIG_ADDRESS and are ignored here.
 *
 * @example
 * ```ts
 * const ports = new ConfigPorts(segment);
 * ports.ioWrite(0xcf8, 4, 0x8000_1800); // enable, 00:03.0, register 0
 * ports.ioRead(0xcfc, 2); // Vendor ID of 00:03.0
 * ```
 */
export class ConfigPorts {
  private address = 0;
  private readonly segment: PciSegment;

  /** @param segment - the segment reached through the ports */
  constructor(segment: PciSegment) {
    this.segment = segment;
  }

  /**
   * Handles an IN from `port` (0xCF8-0xCFF).
   *
   * @param port - the port
   * @param size - 1, 2 or 4
   * @returns the value read; all ones for ports it does not decode or disabled data accesses
   */
  ioRead(port: number, size: ConfigAccessSize): number {
    const ones = size === 4 ? 0xffff_ffff : (1 << (8 * size)) - 1;
    if (port === CONFIG_ADDRESS_PORT && size === 4) return this.address;
    const n = port - CONFIG_DATA_PORT;
    if (n < 0 || n + size > 4 || (this.address & 0x8000_0000) === 0) return ones;
    return this.segment.configRead((this.address >>> 8) & 0xffff, (this.address & 0xfc) + n, size);
  }

  /**
   * Handles an OUT to `port` (0xCF8-0xCFF).
   *
   * @param port - the port
   * @param size - 1, 2 or 4
   * @param value - the value written
   */
  ioWrite(port: number, size: ConfigAccessSize, value: number): void {
    if (port === CONFIG_ADDRESS_PORT && size === 4) {
      this.address = (value & 0x80ff_fffc) >>> 0;
      return;
    }
    const n = port - CONFIG_DATA_PORT;
    if (n < 0 || n + size > 4 || (this.address & 0x8000_0000) === 0) return;
    this.segment.configWrite((this.address >>> 8) & 0xffff, (this.address & 0xfc) + n, size, value);
  }
}
