import type { GuestMemory } from '@vmkit/memory';
import { readEntry } from './entries.js';
import { IommuError } from './errors.js';
import type { FaultLog } from './fault-log.js';
import { FaultReason } from './fault-reasons.js';

/**
 * A message-signalled interrupt as a requester emits it (the same shape as `@vmkit/pci`'s
 * `MsiMessage`): a DWORD write of `data` to `addressHigh:addressLow`.
 */
export interface InterruptMessage {
  /** Address bits 31:0. */
  readonly addressLow: number;
  /** Address bits 63:32. */
  readonly addressHigh: number;
  /** The DWORD written. */
  readonly data: number;
  /** Requester ID of the source. */
  readonly requesterId: number;
}

/** An interrupt after remapping (or compatibility decoding), ready for the local APICs. */
export interface RemappedInterrupt {
  /** Vector 0-255. */
  readonly vector: number;
  /** Destination: an 8-bit xAPIC ID, or a 32-bit x2APIC ID in extended interrupt mode. */
  readonly destination: number;
  /** Physical or logical destination mode. */
  readonly destinationMode: 'physical' | 'logical';
  /** Delivery mode (000b fixed, 001b lowest priority, 010b SMI, 100b NMI, 101b INIT, 111b ExtINT). */
  readonly deliveryMode: number;
  /** Edge or level trigger. */
  readonly triggerMode: 'edge' | 'level';
  /** Redirection hint. */
  readonly redirectionHint: boolean;
  /** The requester that sent it. */
  readonly requesterId: number;
}

/** The outcome of remapping one message. */
export type RemapResult =
  | {
      /** Remapped. */
      readonly ok: true;
      /** The interrupt to deliver. */
      readonly irq: RemappedInterrupt;
    }
  | {
      /** Blocked. */
      readonly ok: false;
      /** The fault reason. */
      readonly reason: FaultReason;
    };

/** Where remapped interrupts go (an interrupt controller model). */
export interface RemappedInterruptSink {
  /** Receives one interrupt that passed remapping. */
  deliverInterrupt(irq: RemappedInterrupt): void;
}

/** Fields of an Interrupt Remapping Table Entry for remapped interrupts (VT-d §9.10). */
export interface IrteFields {
  /** Vector (bits 23:16). */
  readonly vector: number;
  /** Destination ID: a 32-bit x2APIC ID, or an 8-bit xAPIC ID that `encodeIrte` places in DST bits 15:8. */
  readonly destination: number;
  /** Destination Mode (bit 2). */
  readonly destinationMode?: 'physical' | 'logical';
  /** Delivery Mode (bits 7:5). */
  readonly deliveryMode?: number;
  /** Trigger Mode (bit 4). */
  readonly triggerMode?: 'edge' | 'level';
  /** Redirection Hint (bit 3). */
  readonly redirectionHint?: boolean;
  /** Fault Processing Disable (bit 1). */
  readonly faultProcessingDisable?: boolean;
  /** Source-validation type SVT (bits 83:82): none, requester-id, or bus range. */
  readonly sourceValidation?: 'none' | 'requester-id' | 'bus-range';
  /** Source Identifier SID (bits 79:64): a requester ID, or start bus << 8 | end bus. */
  readonly sourceId?: number;
  /** Source-id Qualifier SQ (bits 81:80): how many low function bits to ignore (0-3). */
  readonly sourceQualifier?: 0 | 1 | 2 | 3;
}

/**
 * Encodes a present IRTE for remapped interrupts (VT-d §9.10): P 0, FPD 1, DM 2, RH 3, TM 4,
 * DLM 7:5, IM 15 = 0, V 23:16, DST 63:32, SID 79:64, SQ 81:80, SVT 83:82; everything else 0.
 *
 * @param f - the fields
 * @param xapic - place an 8-bit destination in DST bits 15:8 (xAPIC mode) instead of 31:0
 * @returns the entry as four little-endian DWORDs
 */
export function encodeIrte(f: IrteFields, xapic = false): [number, number, number, number] {
  const svt = { none: 0, 'requester-id': 1, 'bus-range': 2 }[f.sourceValidation ?? 'none'];
  const dw0 =
    1 |
    (f.faultProcessingDisable ? 2 : 0) |
    (f.destinationMode === 'logical' ? 4 : 0) |
    (f.redirectionHint ? 8 : 0) |
    (f.triggerMode === 'level' ? 0x10 : 0) |
    (((f.deliveryMode ?? 0) & 7) << 5) |
    ((f.vector & 0xff) << 16);
  const dst = xapic ? (f.destination & 0xff) << 8 : f.destination;
  const dw2 = ((f.sourceId ?? 0) & 0xffff) | (((f.sourceQualifier ?? 0) & 3) << 16) | (svt << 18);
  return [dw0 >>> 0, dst >>> 0, dw2 >>> 0, 0];
}

/** Interrupt Remapping Table Address register contents (VT-d, "Interrupt Remapping Table Address Register"). */
export interface IrtaOptions {
  /** 4 KiB-aligned address of the table. */
  readonly address: number;
  /** S: the table has 2^(S+1) entries, S 0-15. */
  readonly sizeField: number;
  /** EIME: Extended Interrupt Mode (x2APIC 32-bit destinations). */
  readonly extendedInterruptMode?: boolean;
}

interface CachedIrte {
  readonly fpd: boolean;
  readonly result: RemappedInterrupt | undefined;
  readonly reason: FaultReason | undefined;
  readonly svt: number;
  readonly sq: number;
  readonly sid: number;
}

const entry = new Uint32Array(2);

/**
 * VT-d interrupt remapping (VT-d §5.1). A message to 0xFEEx_xxxx with bit 4 (Interrupt Format)
 * set is in remappable format: handle = address bits 19:5 plus bit 2 as bit 15, plus the data's
 * subhandle (15:0) when SHV (bit 3) is set; data bits 31:16 are reserved. The handle indexes the
 * IRTE table; the IRTE supplies vector, destination and modes and says how to validate the
 * requester's source ID (SVT/SQ/SID). Compatibility-format messages (bit 4 clear) pass through
 * only while Compatibility Format Interrupts are allowed (GSTS.CFIS). Every blocked interrupt is
 * recorded in the fault log with its reason (20h-26h) and interrupt_index, unless the IRTE's FPD
 * is set. IRTEs are cached until {@link invalidateEntryCache}, as the Interrupt Entry Cache is.
 */
export class InterruptRemapping {
  /** Interrupts blocked so far. */
  blocked = 0;
  private readonly tables: GuestMemory;
  private readonly faults: FaultLog;
  private sink: RemappedInterruptSink;
  private irta: IrtaOptions | undefined;
  private enabled = false;
  private compatibilityAllowed = false;
  private readonly cache = new Map<number, CachedIrte>();

  /**
   * @param tables - memory holding the interrupt remapping table
   * @param faults - the unit's fault log
   * @param sink - where remapped interrupts go
   */
  constructor(tables: GuestMemory, faults: FaultLog, sink: RemappedInterruptSink) {
    this.tables = tables;
    this.faults = faults;
    this.sink = sink;
  }

  /**
   * Sets the target of remapped interrupts.
   *
   * @param sink - the interrupt controller
   */
  connect(sink: RemappedInterruptSink): void {
    this.sink = sink;
  }

  /**
   * Programs IRTA and latches it (GCMD.SIRTP).
   *
   * @param irta - table address, size field, extended interrupt mode
   */
  setTable(irta: IrtaOptions): void {
    if (!Number.isSafeInteger(irta.address) || irta.address < 0 || irta.address % 4096 !== 0) {
      throw new IommuError('INVALID_ADDRESS', `IRTA ${irta.address} is not 4 KiB-aligned`);
    }
    if (!Number.isInteger(irta.sizeField) || irta.sizeField < 0 || irta.sizeField > 15) {
      throw new IommuError('INVALID_CONFIG', `IRTA.S ${irta.sizeField} is not 0-15`);
    }
    this.irta = irta;
  }

  /** GCMD.IRE / GSTS.IRES: interrupt remapping on or off. */
  get remappingEnabled(): boolean {
    return this.enabled;
  }

  /** Sets GCMD.IRE. */
  set remappingEnabled(on: boolean) {
    this.enabled = on;
  }

  /** GCMD.CFI / GSTS.CFIS: whether compatibility-format interrupts bypass remapping. */
  get compatibilityFormatAllowed(): boolean {
    return this.compatibilityAllowed;
  }

  /** Sets GCMD.CFI. */
  set compatibilityFormatAllowed(on: boolean) {
    this.compatibilityAllowed = on;
  }

  /**
   * Invalidates the Interrupt Entry Cache: everything, or 2^indexMask entries from `index`
   * (VT-d §6.5.2.7, IEC invalidation).
   *
   * @param index - first interrupt_index (omit for a global invalidation)
   * @param indexMask - IM: 2^IM entries, aligned
   */
  invalidateEntryCache(index?: number, indexMask = 0): void {
    if (index === undefined) {
      this.cache.clear();
      return;
    }
    const span = 2 ** indexMask;
    const first = Math.floor(index / span) * span;
    for (let i = first; i < first + span; i++) this.cache.delete(i);
  }

  /**
   * Remaps one message without delivering it.
   *
   * @param m - the message
   * @returns the interrupt or the fault reason (recorded unless FPD)
   */
  remap(m: InterruptMessage): RemapResult {
    const { addressLow, data } = m;
    const remappable = (addressLow & 0x10) !== 0;
    if (!this.enabled || !remappable) {
      if (this.enabled && !this.compatibilityAllowed) {
        return this.block(m, FaultReason.IR_COMPATIBILITY_BLOCKED, 0, false);
      }
      return { ok: true, irq: decodeCompatibility(m) };
    }
    const handle = ((addressLow >>> 5) & 0x7fff) | (((addressLow >>> 2) & 1) << 15);
    const shv = (addressLow & 0x8) !== 0;
    if ((data & 0xffff_0000) !== 0)
      return this.block(m, FaultReason.IR_REQUEST_RESERVED, handle, false);
    const index = shv ? handle + (data & 0xffff) : handle;
    const irta = this.irta;
    if (irta === undefined || index >= 2 ** (irta.sizeField + 1)) {
      return this.block(m, FaultReason.IR_INDEX_BEYOND_TABLE, index, false);
    }
    let e = this.cache.get(index);
    if (e === undefined) {
      e = this.readIrte(irta, index, m.requesterId);
      if (e.reason === undefined || e.reason !== FaultReason.IR_TABLE_ACCESS)
        this.cacheIfPresent(index, e);
    }
    if (e.reason !== undefined) return this.block(m, e.reason, index, e.fpd);
    if (!sourceValid(e.svt, e.sq, e.sid, m.requesterId)) {
      return this.block(m, FaultReason.IR_SOURCE_ID_INVALID, index, e.fpd);
    }
    return { ok: true, irq: { ...e.result!, requesterId: m.requesterId } };
  }

  /**
   * Remaps and delivers a message: the `deliverMsi` half of `@vmkit/pci`'s `InterruptSink`.
   *
   * @param m - the message
   */
  deliverMsi(m: InterruptMessage): void {
    const r = this.remap(m);
    if (r.ok) this.sink.deliverInterrupt(r.irq);
  }

  private cacheIfPresent(index: number, e: CachedIrte): void {
    // Not-present entries are not cached (the IEC holds valid entries only).
    if (e.reason !== FaultReason.IR_ENTRY_NOT_PRESENT) this.cache.set(index, e);
  }

  private block(
    m: InterruptMessage,
    reason: FaultReason,
    index: number,
    fpd: boolean,
  ): RemapResult {
    this.blocked++;
    if (!fpd)
      this.faults.record({ sourceId: m.requesterId, reason, read: false, faultInfo: index });
    return { ok: false, reason };
  }

  /** Reads and decodes IRTE `index` (VT-d §9.10). */
  private readIrte(irta: IrtaOptions, index: number, rid: number): CachedIrte {
    const at = irta.address + index * 16;
    if (!readEntry(this.tables, at, entry)) return bad(FaultReason.IR_TABLE_ACCESS, false);
    const lo = entry[0]!;
    const dst = entry[1]!;
    if (!readEntry(this.tables, at + 8, entry)) return bad(FaultReason.IR_TABLE_ACCESS, false);
    const hiLo = entry[0]!;
    const hiHi = entry[1]!;
    const fpd = (lo & 2) !== 0;
    if ((lo & 1) === 0) return bad(FaultReason.IR_ENTRY_NOT_PRESENT, fpd);
    const svt = (hiLo >>> 18) & 3;
    const x2apic = irta.extendedInterruptMode ?? false;
    // Reserved: bits 14:12, IM (15, posted interrupts unsupported), 31:24; DST bits outside 15:8
    // in xAPIC mode; bits 127:84; SVT = 11b.
    const reserved =
      (lo & 0xff00_f000) !== 0 ||
      (!x2apic && (dst & 0xffff_00ff) !== 0) ||
      (hiLo & 0xfff0_0000) !== 0 ||
      hiHi !== 0 ||
      svt === 3;
    if (reserved) return bad(FaultReason.IR_ENTRY_RESERVED, fpd);
    return {
      fpd,
      reason: undefined,
      svt,
      sq: (hiLo >>> 16) & 3,
      sid: hiLo & 0xffff,
      result: {
        vector: (lo >>> 16) & 0xff,
        destination: x2apic ? dst : (dst >>> 8) & 0xff,
        destinationMode: lo & 4 ? 'logical' : 'physical',
        deliveryMode: (lo >>> 5) & 7,
        triggerMode: lo & 0x10 ? 'level' : 'edge',
        redirectionHint: (lo & 8) !== 0,
        requesterId: rid,
      },
    };
  }
}

function bad(reason: FaultReason, fpd: boolean): CachedIrte {
  return { fpd, reason, result: undefined, svt: 0, sq: 0, sid: 0 };
}

/**
 * Source-ID validation (VT-d §9.10, SVT/SQ/SID): SVT 00b no check; 01b compare the requester ID
 * with SID, ignoring requester bit 2 (SQ 01b), bits 2:1 (10b) or bits 2:0 (11b); 10b require the
 * requester's bus to lie in [SID 15:8, SID 7:0].
 */
function sourceValid(svt: number, sq: number, sid: number, rid: number): boolean {
  if (svt === 0) return true;
  if (svt === 1) {
    const ignore = [0, 0b100, 0b110, 0b111][sq]!;
    return (rid & ~ignore & 0xffff) === (sid & ~ignore & 0xffff);
  }
  const bus = rid >>> 8;
  return bus >= sid >>> 8 && bus <= (sid & 0xff);
}

/**
 * Decodes a compatibility-format MSI (Intel SDM Vol. 3A §11.11.1-2, "Message Address/Data
 * Register Format"): address bits 19:12 destination ID, bit 3 RH, bit 2 DM; data bits 7:0 vector,
 * 10:8 delivery mode, 15 trigger mode.
 *
 * @param m - the message
 * @returns the interrupt
 */
export function decodeCompatibility(m: InterruptMessage): RemappedInterrupt {
  return {
    vector: m.data & 0xff,
    destination: (m.addressLow >>> 12) & 0xff,
    destinationMode: m.addressLow & 4 ? 'logical' : 'physical',
    deliveryMode: (m.data >>> 8) & 7,
    triggerMode: m.data & 0x8000 ? 'level' : 'edge',
    redirectionHint: (m.addressLow & 8) !== 0,
    requesterId: m.requesterId,
  };
}
