import type { ConfigSpace } from './config-space.js';
import { PciError } from './errors.js';
import type { MessageSender } from './interrupt-sink.js';

/** MSI Message Control bits (PCI Local Bus 3.0 §6.8.1.3). */
export const MsiControl = {
  /** Enable (bit 0). */
  ENABLE: 1 << 0,
  /** Multiple Message Capable field: lowest bit 1. */
  MULTIPLE_MESSAGE_CAPABLE_SHIFT: 1,
  /** Multiple Message Enable field: lowest bit 4. */
  MULTIPLE_MESSAGE_ENABLE_SHIFT: 4,
  /** Address 64 (bit 7). */
  ADDRESS_64: 1 << 7,
  /** Per Vector Masking (bit 8). */
  PER_VECTOR_MASKING: 1 << 8,
} as const;

/** The address and data an MSI vector writes. */
export interface MsiAddressData {
  /** Message Address bits 31:0. */
  readonly addressLow: number;
  /** Message Upper Address (0 for a 32-bit capability). */
  readonly addressHigh: number;
  /** Message Data with the vector number in its low MME bits. */
  readonly data: number;
}

/** What a device asks of its MSI capability. */
export interface MsiOptions {
  /** Vectors requested (Multiple Message Capable): 1, 2, 4, 8, 16 or 32. */
  readonly vectors?: 1 | 2 | 4 | 8 | 16 | 32;
  /** Whether the function can generate 64-bit message addresses (default true). */
  readonly address64?: boolean;
  /** Whether Mask Bits and Pending Bits are implemented (default false). */
  readonly perVectorMasking?: boolean;
}

/**
 * Length in bytes of an MSI capability structure (PCI Local Bus 3.0 §6.8.1, Figure 6-9):
 * 0x0A or 0x0E without per-vector masking, 0x14 or 0x18 with it.
 *
 * @param address64 - 64-bit message address
 * @param perVectorMasking - Mask and Pending Bits present
 * @returns the structure's length in bytes
 */
export function msiCapabilityLength(address64: boolean, perVectorMasking: boolean): number {
  if (perVectorMasking) return address64 ? 0x18 : 0x14;
  return address64 ? 0x0e : 0x0a;
}

/**
 * The MSI capability of a function (PCI Local Bus 3.0 §6.8.1; PCIe Base 4.0 §7.7.1).
 *
 * Register attributes: Message Control bit 0 (MSI Enable) and bits 6:4 (Multiple Message
 * Enable) RW, the rest RO; Message Address bits 31:2 RW, 1:0 RO 0; Upper Address and Message
 * Data RW; Mask Bits RW for implemented vectors only; Pending Bits RO. With 2^MME vectors
 * allocated the function sends vector `v` by replacing the low MME bits of Message Data with
 * `v` (§6.8.1.6). A masked vector sets its Pending bit instead of sending and sends when
 * unmasked (§6.8.1.7-8).
 */
export class MsiCapability {
  /** Offset of the capability header. */
  readonly offset: number;
  /** Vectors the function asks for (Multiple Message Capable). */
  readonly vectorsCapable: number;
  /** Whether the message address is 64-bit. */
  readonly address64: boolean;
  /** Whether Mask/Pending Bits exist. */
  readonly perVectorMasking: boolean;
  private readonly config: ConfigSpace;
  private readonly send: MessageSender;

  /**
   * Defines the structure's registers; use {@link PciFunction.addMsi} rather than calling this.
   *
   * @param config - the function's configuration space
   * @param offset - where the capability header was allocated
   * @param options - vectors, 64-bit addressing, masking
   * @param send - sends a message, gated by Bus Master Enable
   */
  constructor(config: ConfigSpace, offset: number, options: MsiOptions, send: MessageSender) {
    const vectors = options.vectors ?? 1;
    if (![1, 2, 4, 8, 16, 32].includes(vectors)) {
      throw new PciError(
        'INVALID_CAPABILITY',
        `MSI vector count ${vectors} is not 1-32 in powers of 2`,
      );
    }
    this.config = config;
    this.offset = offset;
    this.send = send;
    this.vectorsCapable = vectors;
    this.address64 = options.address64 ?? true;
    this.perVectorMasking = options.perVectorMasking ?? false;
    const mmc = Math.log2(vectors);
    config.define({
      offset: offset + 2,
      size: 2,
      value:
        (mmc << MsiControl.MULTIPLE_MESSAGE_CAPABLE_SHIFT) |
        (this.address64 ? MsiControl.ADDRESS_64 : 0) |
        (this.perVectorMasking ? MsiControl.PER_VECTOR_MASKING : 0),
      writable: MsiControl.ENABLE | (0x7 << MsiControl.MULTIPLE_MESSAGE_ENABLE_SHIFT),
    });
    config.define({ offset: offset + 4, size: 4, writable: 0xffff_fffc });
    if (this.address64) config.define({ offset: offset + 8, size: 4, writable: 0xffff_ffff });
    config.define({ offset: this.dataOffset, size: 2, writable: 0xffff });
    if (this.perVectorMasking) {
      const implemented = vectors === 32 ? 0xffff_ffff : (1 << vectors) - 1;
      config.define({ offset: this.maskOffset, size: 4, writable: implemented });
      config.define({ offset: this.maskOffset + 4, size: 4 });
      config.onWrite(this.maskOffset, 4, () => this.flushPending());
    }
    config.onWrite(offset + 2, 2, () => this.flushPending());
  }

  /** Offset of Message Data. */
  get dataOffset(): number {
    return this.offset + (this.address64 ? 0x0c : 0x08);
  }

  /** Offset of Mask Bits (Pending Bits follow at +4). */
  get maskOffset(): number {
    return this.offset + (this.address64 ? 0x10 : 0x0c);
  }

  /** Whether software set MSI Enable. */
  get enabled(): boolean {
    return (this.config.read(this.offset + 2, 2) & MsiControl.ENABLE) !== 0;
  }

  /**
   * Vectors software allocated: 2^MME, capped at what the function asked for (MME above MMC,
   * which the spec forbids software to write, is treated as MMC).
   */
  get vectorsEnabled(): number {
    const mme =
      (this.config.read(this.offset + 2, 2) >>> MsiControl.MULTIPLE_MESSAGE_ENABLE_SHIFT) & 0x7;
    return Math.min(2 ** mme, this.vectorsCapable);
  }

  /** The message that vector `vector` would send now: address halves and data. */
  message(vector: number): MsiAddressData {
    const n = this.vectorsEnabled;
    const data = this.config.read(this.dataOffset, 2);
    return {
      addressLow: this.config.read(this.offset + 4, 4),
      addressHigh: this.address64 ? this.config.read(this.offset + 8, 4) : 0,
      data: ((data & ~(n - 1)) | vector) & 0xffff,
    };
  }

  /** Whether vector `vector` is masked (always false without per-vector masking). */
  isMasked(vector: number): boolean {
    if (!this.perVectorMasking) return false;
    return ((this.config.read(this.maskOffset, 4) >>> vector) & 1) === 1;
  }

  /** Whether vector `vector`'s Pending bit is set. */
  isPending(vector: number): boolean {
    if (!this.perVectorMasking) return false;
    return ((this.config.read(this.maskOffset + 4, 4) >>> vector) & 1) === 1;
  }

  /**
   * Signals vector `vector`: sends the message, or sets its Pending bit if it is masked.
   *
   * @param vector - 0 to {@link vectorsEnabled} - 1
   * @returns `sent`, `pending`, or `dropped` (MSI disabled, vector not allocated, bus mastering off)
   */
  signal(vector: number): 'sent' | 'pending' | 'dropped' {
    if (!this.enabled || !Number.isInteger(vector) || vector < 0 || vector >= this.vectorsEnabled) {
      return 'dropped';
    }
    if (this.isMasked(vector)) {
      this.config.setBits(this.maskOffset + 4, 4, 1 << vector, true);
      return 'pending';
    }
    const m = this.message(vector);
    return this.send(m.addressLow, m.addressHigh, m.data) ? 'sent' : 'dropped';
  }

  /** Sends and clears every pending vector that is no longer masked. */
  private flushPending(): void {
    if (!this.perVectorMasking || !this.enabled) return;
    const pending = this.config.read(this.maskOffset + 4, 4);
    for (let v = 0; v < this.vectorsCapable; v++) {
      if (((pending >>> v) & 1) === 0 || this.isMasked(v)) continue;
      this.config.setBits(this.maskOffset + 4, 4, 1 << v, false);
      if (v < this.vectorsEnabled) {
        const m = this.message(v);
        this.send(m.addressLow, m.addressHigh, m.data);
      }
    }
  }
}
