import type { AccessSize, MmioHandler } from '@vmkit/memory';
import type { ConfigSpace } from './config-space.js';
import { PciError } from './errors.js';
import type { MessageSender } from './interrupt-sink.js';

/** MSI-X Message Control bits (PCI Local Bus 3.0 §6.8.2.3). */
export const MsixControl = {
  /** Table Size Mask (0x07ff). */
  TABLE_SIZE_MASK: 0x07ff,
  /** Function Mask (bit 14). */
  FUNCTION_MASK: 1 << 14,
  /** Enable (bit 15). */
  ENABLE: 1 << 15,
} as const;

/** Size in bytes of one MSI-X Table entry (PCI Local Bus 3.0 §6.8.2, Figure 6-11). */
export const MSIX_ENTRY_SIZE = 16;
/** Length in bytes of the MSI-X capability structure in configuration space. */
export const MSIX_CAPABILITY_LENGTH = 12;
/** Vector Control bit 0: the entry's Mask Bit (§6.8.2.9). */
export const MSIX_VECTOR_MASKED = 1;

/** Where the MSI-X Table and PBA live and how many vectors there are. */
export interface MsixOptions {
  /** Number of table entries, 1-2048. */
  readonly vectors: number;
  /** BAR Indicator Register of the table: which BAR (0-5) maps it. */
  readonly tableBar: number;
  /** Offset of the table inside that BAR; a multiple of 8 (QWORD-aligned, §6.8.2.4). */
  readonly tableOffset: number;
  /** BAR holding the Pending Bit Array. */
  readonly pbaBar: number;
  /** Offset of the PBA inside its BAR; a multiple of 8. */
  readonly pbaOffset: number;
}

/** One MSI-X Table entry as software programmed it. */
export interface MsixEntry {
  /** Message Address bits 31:0. */
  readonly addressLow: number;
  /** Message Upper Address. */
  readonly addressHigh: number;
  /** Message Data (32 bits). */
  readonly data: number;
  /** Vector Control Mask Bit. */
  readonly masked: boolean;
}

/** Which bits of each DWORD of a table entry software may write: address bits 1:0 are RO 0. */
const ENTRY_WRITABLE = [0xffff_fffc, 0xffff_ffff, 0xffff_ffff, MSIX_VECTOR_MASKED] as const;

/**
 * The MSI-X capability and its Table and Pending Bit Array (PCI Local Bus 3.0 §6.8.2; PCIe Base
 * 4.0 §7.7.2).
 *
 * The capability holds Message Control (Table Size RO, Function Mask and MSI-X Enable RW) and
 * the two RO Offset/BIR registers. Table entries are 16 bytes (Message Address, Upper Address,
 * Message Data, Vector Control) and reset masked; the PBA holds one RO pending bit per vector
 * in QWORDs. A vector masked by its Mask Bit or by Function Mask sets its pending bit instead of
 * sending, and sends as soon as it is unmasked (§6.8.2.9). Table and PBA are reached through
 * {@link tableRead}/{@link tableWrite}/{@link pbaRead}, which {@link PciFunction.barHandler}
 * routes to for the BAR ranges they occupy.
 */
export class MsixCapability {
  /** Offset of the capability header. */
  readonly offset: number;
  /** Number of vectors (table entries). */
  readonly vectors: number;
  /** BAR and offset of the table. */
  readonly tableBar: number;
  /** Byte offset of the table in its BAR. */
  readonly tableOffset: number;
  /** BAR of the PBA. */
  readonly pbaBar: number;
  /** Byte offset of the PBA in its BAR. */
  readonly pbaOffset: number;
  private readonly config: ConfigSpace;
  private readonly send: MessageSender;
  private readonly table: Uint32Array;
  private readonly pending: Uint32Array;

  /**
   * Defines the capability's registers; use {@link PciFunction.addMsix} rather than this.
   *
   * @param config - the function's configuration space
   * @param offset - where the capability header was allocated
   * @param options - vector count and table/PBA placement (validated by the caller)
   * @param send - sends a message, gated by Bus Master Enable
   */
  constructor(config: ConfigSpace, offset: number, options: MsixOptions, send: MessageSender) {
    const { vectors } = options;
    if (!Number.isInteger(vectors) || vectors < 1 || vectors > 2048) {
      throw new PciError('INVALID_CAPABILITY', `MSI-X table size ${vectors} is not 1-2048`);
    }
    for (const o of [options.tableOffset, options.pbaOffset]) {
      if (!Number.isSafeInteger(o) || o < 0 || o % 8 !== 0 || o > 0xffff_fff8) {
        throw new PciError('INVALID_CAPABILITY', `MSI-X offset ${o} is not QWORD-aligned`);
      }
    }
    this.config = config;
    this.offset = offset;
    this.send = send;
    this.vectors = vectors;
    this.tableBar = options.tableBar;
    this.tableOffset = options.tableOffset;
    this.pbaBar = options.pbaBar;
    this.pbaOffset = options.pbaOffset;
    this.table = new Uint32Array(vectors * 4);
    this.pending = new Uint32Array(Math.ceil(vectors / 64) * 2);
    for (let v = 0; v < vectors; v++) this.table[v * 4 + 3] = MSIX_VECTOR_MASKED;
    config.define({
      offset: offset + 2,
      size: 2,
      value: vectors - 1,
      writable: MsixControl.FUNCTION_MASK | MsixControl.ENABLE,
    });
    config.define({ offset: offset + 4, size: 4, value: options.tableOffset | options.tableBar });
    config.define({ offset: offset + 8, size: 4, value: options.pbaOffset | options.pbaBar });
    config.onWrite(offset + 2, 2, () => this.flushPending());
  }

  /** Returns the table to reset state (all entries zero and masked) and clears the PBA. */
  reset(): void {
    this.table.fill(0);
    for (let v = 0; v < this.vectors; v++) this.table[v * 4 + 3] = MSIX_VECTOR_MASKED;
    this.pending.fill(0);
  }

  /** Table length in bytes. */
  get tableLength(): number {
    return this.vectors * MSIX_ENTRY_SIZE;
  }

  /** PBA length in bytes (whole QWORDs). */
  get pbaLength(): number {
    return this.pending.length * 4;
  }

  /** Whether software set MSI-X Enable. */
  get enabled(): boolean {
    return (this.config.read(this.offset + 2, 2) & MsixControl.ENABLE) !== 0;
  }

  /** Whether software set Function Mask. */
  get functionMasked(): boolean {
    return (this.config.read(this.offset + 2, 2) & MsixControl.FUNCTION_MASK) !== 0;
  }

  /** The table entry of `vector`: address halves, data, and its Mask Bit. */
  entry(vector: number): MsixEntry {
    const t = this.table;
    const i = vector * 4;
    return {
      addressLow: t[i]!,
      addressHigh: t[i + 1]!,
      data: t[i + 2]!,
      masked: (t[i + 3]! & MSIX_VECTOR_MASKED) !== 0,
    };
  }

  /** Whether the pending bit of `vector` is set. */
  isPending(vector: number): boolean {
    return ((this.pending[vector >>> 5]! >>> (vector & 31)) & 1) === 1;
  }

  /**
   * Signals `vector`: sends its message, or sets its pending bit while it or the function is
   * masked.
   *
   * @param vector - 0 to {@link vectors} - 1
   * @returns `sent`, `pending`, or `dropped` (MSI-X disabled, no such vector, bus mastering off)
   */
  signal(vector: number): 'sent' | 'pending' | 'dropped' {
    if (!this.enabled || !Number.isInteger(vector) || vector < 0 || vector >= this.vectors) {
      return 'dropped';
    }
    const i = vector * 4;
    if (this.functionMasked || (this.table[i + 3]! & MSIX_VECTOR_MASKED) !== 0) {
      this.pending[vector >>> 5]! |= 1 << (vector & 31);
      return 'pending';
    }
    return this.send(this.table[i]!, this.table[i + 1]!, this.table[i + 2]!) ? 'sent' : 'dropped';
  }

  /**
   * A read of the table at `offset` bytes from its start. DWORD and aligned QWORD accesses are
   * what the spec defines (§6.8.2); narrower reads return the addressed bytes; reads past the
   * table return 0.
   */
  tableRead(offset: number, size: AccessSize): bigint {
    return readWords(this.table, offset, size);
  }

  /** A write to the table: RW bits only (address bits 1:0 and Vector Control bits 31:1 are RO). */
  tableWrite(offset: number, size: AccessSize, value: bigint): void {
    for (let k = 0; k < size; k++) {
      const at = offset + k;
      const dw = at >>> 2;
      if (at < 0 || dw >= this.table.length) continue;
      const shift = 8 * (at & 3);
      const mask = ((ENTRY_WRITABLE[dw & 3]! >>> shift) & 0xff) << shift;
      const byte = Number((value >> BigInt(8 * k)) & 0xffn) << shift;
      this.table[dw] = ((this.table[dw]! & ~mask) | (byte & mask)) >>> 0;
    }
    this.flushPending();
  }

  /** A read of the Pending Bit Array; it is read-only, so there is no write. */
  pbaRead(offset: number, size: AccessSize): bigint {
    return readWords(this.pending, offset, size);
  }

  /**
   * An MMIO handler for one BAR that serves the table and PBA ranges placed in it and passes
   * every other access to `inner` (the device's own registers).
   *
   * @param bar - the BAR index the handler is for
   * @param inner - the device's handler for the rest of the BAR, if any
   * @returns the combined handler
   */
  handlerFor(bar: number, inner: MmioHandler | undefined): MmioHandler {
    const inTable = (o: number) =>
      bar === this.tableBar && o >= this.tableOffset && o < this.tableOffset + this.tableLength;
    const inPba = (o: number) =>
      bar === this.pbaBar && o >= this.pbaOffset && o < this.pbaOffset + this.pbaLength;
    return {
      read: (offset, size) => {
        if (inTable(offset)) return this.tableRead(offset - this.tableOffset, size);
        if (inPba(offset)) return this.pbaRead(offset - this.pbaOffset, size);
        return inner?.read(offset, size) ?? 0n;
      },
      write: (offset, size, value) => {
        if (inTable(offset)) return this.tableWrite(offset - this.tableOffset, size, value);
        if (inPba(offset)) return;
        inner?.write(offset, size, value);
      },
    };
  }

  /** Sends and clears every pending vector that is now unmasked. */
  private flushPending(): void {
    if (!this.enabled || this.functionMasked) return;
    for (let w = 0; w < this.pending.length; w++) {
      let bits = this.pending[w]!;
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits);
        bits &= ~(1 << b);
        const v = w * 32 + b;
        const i = v * 4;
        if ((this.table[i + 3]! & MSIX_VECTOR_MASKED) !== 0) continue;
        this.pending[w] = this.pending[w]! & ~(1 << b);
        this.send(this.table[i]!, this.table[i + 1]!, this.table[i + 2]!);
      }
    }
  }
}

function readWords(words: Uint32Array, offset: number, size: AccessSize): bigint {
  let v = 0n;
  for (let k = size - 1; k >= 0; k--) {
    const at = offset + k;
    const dw = at >>> 2;
    const byte = at < 0 || dw >= words.length ? 0 : (words[dw]! >>> (8 * (at & 3))) & 0xff;
    v = (v << 8n) | BigInt(byte);
  }
  return v;
}
