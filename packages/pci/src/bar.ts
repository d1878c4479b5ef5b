import type { MmioHandler } from '@vmkit/memory';
import type { ConfigSpace } from './config-space.js';
import { PciError } from './errors.js';

/** The three kinds of Base Address Register (PCI Local Bus 3.0 §6.2.5.1). */
export type BarKind = 'memory32' | 'memory64' | 'io';

/** A BAR as the device model declares it. */
export interface BarDefinition {
  /** BAR number 0-5; a 64-bit BAR also takes the next number for its upper half. */
  readonly index: number;
  /** Memory (32- or 64-bit decoder) or I/O. */
  readonly kind: BarKind;
  /**
   * Size in bytes, a power of two: memory at least 16 (bits 3:0 are flags) and at most 2^31 for
   * a 32-bit decoder; I/O 4 to 256 (PCI Local Bus 3.0 §6.2.5.1 caps an I/O BAR at 256 bytes).
   */
  readonly size: number;
  /** Memory BARs only: the prefetchable bit (bit 3). */
  readonly prefetchable?: boolean;
  /** The device registers behind the BAR, which a VMM maps at the programmed address. */
  readonly handler?: MmioHandler;
}

/** Bits 3:0 of a memory BAR and bits 1:0 of an I/O BAR (PCI Local Bus 3.0 §6.2.5.1). */
export const BarFlags = {
  /** I/O Space (0x1). */
  IO_SPACE: 0x1,
  /** Memory Type 64 (0x4). */
  MEMORY_TYPE_64: 0x4,
  /** Prefetchable (0x8). */
  PREFETCHABLE: 0x8,
} as const;

const TWO_32 = 2 ** 32;

/**
 * One Base Address Register (or register pair for a 64-bit BAR) living in a configuration
 * space. The RW mask implements the sizing protocol of PCI Local Bus 3.0 §6.2.5.1: address bits
 * below the size are read-only zero, so writing all ones and reading back yields the size's
 * two's complement with the type bits in bits 3:0.
 */
export class Bar {
  /** BAR number 0-5 (the lower one of a 64-bit pair). */
  readonly index: number;
  /** The decoder kind. */
  readonly kind: BarKind;
  /** Size in bytes. */
  readonly size: number;
  /** Whether the prefetchable bit is set. */
  readonly prefetchable: boolean;
  /** The handler the device supplied for this BAR, if any. */
  readonly handler: MmioHandler | undefined;
  /** Configuration-space offset of the (lower) register. */
  readonly offset: number;
  private readonly config: ConfigSpace;

  /**
   * @param config - the configuration space holding the register
   * @param offset - offset of the BAR (lower) register
   * @param def - the BAR's definition, already validated
   */
  constructor(config: ConfigSpace, offset: number, def: BarDefinition) {
    this.config = config;
    this.offset = offset;
    this.index = def.index;
    this.kind = def.kind;
    this.size = def.size;
    this.prefetchable = def.prefetchable ?? false;
    this.handler = def.handler;
  }

  /** The read-only low flag bits of the (lower) register. */
  get flags(): number {
    if (this.kind === 'io') return BarFlags.IO_SPACE;
    return (
      (this.kind === 'memory64' ? BarFlags.MEMORY_TYPE_64 : 0) |
      (this.prefetchable ? BarFlags.PREFETCHABLE : 0)
    );
  }

  /**
   * The programmed base address: the address bits of the register(s) with the flag bits
   * stripped. A 64-bit base above 2^53 cannot be held exactly and returns `undefined`.
   */
  get address(): number | undefined {
    const low = this.config.read(this.offset, 4);
    if (this.kind === 'io') return (low & ~0x3) >>> 0;
    const base = (low & ~0xf) >>> 0;
    if (this.kind === 'memory32') return base;
    const high = this.config.read(this.offset + 4, 4);
    const address = high * TWO_32 + base;
    return Number.isSafeInteger(address) ? address : undefined;
  }

  /** Whether `offset` is one of this BAR's register bytes. */
  covers(offset: number): boolean {
    return offset >= this.offset && offset < this.offset + (this.kind === 'memory64' ? 8 : 4);
  }

  /** Defines the register(s) in configuration space with the sizing masks. */
  define(): void {
    const { config, offset, size } = this;
    if (this.kind === 'io') {
      config.define({ offset, size: 4, value: this.flags, writable: ~(size - 1) & ~0x3 });
    } else if (this.kind === 'memory32') {
      config.define({ offset, size: 4, value: this.flags, writable: ~(size - 1) & ~0xf });
    } else {
      const low = size >= TWO_32 ? 0 : ~(size - 1) & ~0xf;
      const high = size <= TWO_32 ? 0xffff_ffff : ~(size / TWO_32 - 1);
      config.define({ offset, size: 4, value: this.flags, writable: low >>> 0 });
      config.define({ offset: offset + 4, size: 4, writable: high >>> 0 });
    }
  }
}

/**
 * Validates BAR definitions against the rules of PCI Local Bus 3.0 §6.2.5.1 and returns them
 * sorted by index. Throws `INVALID_BAR` on a bad size, a 64-bit BAR in slot 5, or a taken slot.
 *
 * @param defs - the definitions
 * @returns the same definitions, sorted
 */
export function validateBars(defs: readonly BarDefinition[]): BarDefinition[] {
  const taken = new Set<number>();
  for (const def of defs) {
    const { index, kind, size } = def;
    const isPow2 = Number.isInteger(size) && size > 0 && Number.isInteger(Math.log2(size));
    const [min, max] =
      kind === 'io' ? [4, 256] : kind === 'memory32' ? [16, 2 ** 31] : [16, 2 ** 63];
    if (!Number.isInteger(index) || index < 0 || index > 5) {
      throw new PciError('INVALID_BAR', `BAR index ${index} is not 0-5`);
    }
    if (!isPow2 || size < min || size > max) {
      throw new PciError(
        'INVALID_BAR',
        `BAR${index} size ${size} is not a power of two in [${min}, ${max}]`,
      );
    }
    if (kind === 'memory64' && index === 5) {
      throw new PciError('INVALID_BAR', 'a 64-bit BAR needs two slots; BAR5 has no upper half');
    }
    if (kind === 'io' && def.prefetchable) {
      throw new PciError('INVALID_BAR', `I/O BAR${index} cannot be prefetchable`);
    }
    for (const slot of kind === 'memory64' ? [index, index + 1] : [index]) {
      if (taken.has(slot)) throw new PciError('INVALID_BAR', `BAR slot ${slot} is used twice`);
      taken.add(slot);
    }
  }
  return [...defs].sort((a, b) => a.index - b.index);
}

/**
 * Decodes the size of a BAR from the value read back after writing all ones, as system
 * software does (PCI Local Bus 3.0 §6.2.5.1, "Address Space Sizing"). An independent reading of
 * the spec's procedure, useful to VMMs that size a device's BARs and to tests.
 *
 * @param low - the (lower) register read back
 * @param high - for a 64-bit memory BAR, the upper register read back
 * @returns the size in bytes, or 0 when the BAR is not implemented
 */
export function decodeBarSize(low: number, high?: number): number {
  if ((low & 1) === 1) {
    const mask = (low & ~0x3) >>> 0;
    return mask === 0 ? 0 : (~mask >>> 0) + 1;
  }
  const addressLow = (low & ~0xf) >>> 0;
  if ((low & 0x6) === BarFlags.MEMORY_TYPE_64 && high !== undefined) {
    const value = BigInt(high >>> 0) * 0x1_0000_0000n + BigInt(addressLow);
    if (value === 0n) return 0;
    const size = (~value & 0xffff_ffff_ffff_ffffn) + 1n;
    return Number(size);
  }
  return addressLow === 0 ? 0 : (~addressLow >>> 0) + 1;
}
