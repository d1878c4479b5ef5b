import type { GuestMemory } from '@vmkit/memory';
import { bits, entryAddress, readEntry } from './entries.js';
import { FaultReason } from './fault-reasons.js';

/** Translation Type of a context entry (VT-d §9.3, bits 3:2). */
export const TranslationType = {
  /** 00b: untranslated requests translated through second-level tables. */
  MULTI_LEVEL: 0b00,
  /** 01b: as 00b plus translation requests (Device-TLB); reserved here (ECAP.DT = 0). */
  MULTI_LEVEL_DEVICE_TLB: 0b01,
  /** 10b: untranslated requests pass through (ECAP.PT = 1). */
  PASS_THROUGH: 0b10,
} as const;

/** Address Width (AW) encodings of a context entry (VT-d §9.3): AGAW and page-table levels. */
/** One Address Width encoding: AGAW and page-table levels. */
export interface AddressWidth {
  /** Adjusted guest address width in bits. */
  readonly agaw: number;
  /** Page-table levels. */
  readonly levels: 3 | 4 | 5;
}

/** Address Width (AW) encodings of a context entry (VT-d §9.3), by AW value. */
export const ADDRESS_WIDTHS: Readonly<Record<number, AddressWidth>> = {
  1: { agaw: 39, levels: 3 },
  2: { agaw: 48, levels: 4 },
  3: { agaw: 57, levels: 5 },
};

/** A context entry that decoded cleanly: what the remapping unit needs for a requester. */
export interface DecodedContext {
  /** Domain Identifier (bits 87:72 of the entry = high-half bits 23:8). */
  readonly domainId: number;
  /** Pass-through (10b) or multi-level (00b). */
  readonly passThrough: boolean;
  /** Adjusted guest address width in bits. */
  readonly agaw: number;
  /** Second-level page-table levels. */
  readonly levels: 3 | 4 | 5;
  /** Second-level page-table pointer (host address). */
  readonly pageTable: number;
  /** Fault Processing Disable. */
  readonly faultProcessingDisable: boolean;
}

/** The outcome of looking up a requester's context: a context or a fault reason (with FPD). */
export type ContextLookup =
  | {
      /** The entry decoded. */
      readonly ok: true;
      /** What it says. */
      readonly context: DecodedContext;
    }
  | {
      /** The lookup faulted. */
      readonly ok: false;
      /** Why. */
      readonly reason: FaultReason;
      /** Whether the context entry (if read) suppresses fault recording. */
      readonly faultProcessingDisable: boolean;
    };

/** What the remapping unit supports, as CAP/ECAP report it. */
export interface RemappingCapabilities {
  /** Host address width (bits of host address a table entry may hold), 32-52. */
  readonly haw: number;
  /** Maximum guest address width (CAP.MGAW). */
  readonly mgaw: number;
  /** Supported adjusted guest address widths (CAP.SAGAW). */
  readonly sagaw: readonly number[];
  /** Pass-through supported (ECAP.PT). */
  readonly passThrough: boolean;
  /** Second-level 2 MiB pages (CAP.SLLPS bit 0). */
  readonly pages2M: boolean;
  /** Second-level 1 GiB pages (CAP.SLLPS bit 1). */
  readonly pages1G: boolean;
}

const entry = new Uint32Array(2);

/**
 * Looks up the context entry of `sourceId` through the root table (legacy mode; VT-d §3.4.2,
 * root entry format §9.1, context entry format §9.3). Root entry: P bit 0, bits 11:1 and the whole
 * upper QWORD reserved, CTP in 63:12. Context entry: P 0, FPD 1, TT 3:2, bits 11:4 reserved, SLPTPTR
 * 63:12; upper QWORD AW 2:0, bit 7 reserved, DID 23:8, bits 63:24 reserved. Host-address bits above
 * HAW are reserved in both.
 *
 * @param mem - memory holding the tables
 * @param rootTable - root table address (RTADDR)
 * @param sourceId - requester ID: bus indexes the root table, devfn the context table
 * @param caps - supported widths and features
 * @returns the decoded context or the fault reason
 */
export function lookupContext(
  mem: GuestMemory,
  rootTable: number,
  sourceId: number,
  caps: RemappingCapabilities,
): ContextLookup {
  const hawHigh = bits(31, caps.haw - 32);
  const rootAt = rootTable + (sourceId >>> 8) * 16;
  if (!readEntry(mem, rootAt, entry)) return fault(FaultReason.ROOT_ENTRY_ACCESS, false);
  const [rlo, rhi] = entry as unknown as [number, number];
  if ((rlo & 1) === 0) return fault(FaultReason.ROOT_NOT_PRESENT, false);
  if (!readEntry(mem, rootAt + 8, entry)) return fault(FaultReason.ROOT_ENTRY_ACCESS, false);
  if ((rlo & 0xffe) !== 0 || (rhi & hawHigh) !== 0 || entry[0] !== 0 || entry[1] !== 0) {
    return fault(FaultReason.ROOT_RESERVED, false);
  }
  const contextTable = entryAddress(rlo, rhi, caps.haw);
  const ctxAt = contextTable + (sourceId & 0xff) * 16;
  if (!readEntry(mem, ctxAt, entry)) return fault(FaultReason.CONTEXT_ENTRY_ACCESS, false);
  const lo = entry[0]!;
  const hi = entry[1]!;
  if (!readEntry(mem, ctxAt + 8, entry)) return fault(FaultReason.CONTEXT_ENTRY_ACCESS, false);
  const ulo = entry[0]!;
  const uhi = entry[1]!;
  // FPD is honoured whatever the Present bit says (VT-d §9.3, FPD field).
  const fpd = (lo & 2) !== 0;
  if ((lo & 1) === 0) return fault(FaultReason.CONTEXT_NOT_PRESENT, fpd);
  if ((lo & 0xff0) !== 0 || (hi & hawHigh) !== 0 || (ulo & 0xff00_0080) !== 0 || uhi !== 0) {
    return fault(FaultReason.CONTEXT_RESERVED, fpd);
  }
  const tt = (lo >>> 2) & 3;
  const width = ADDRESS_WIDTHS[ulo & 7];
  const ttValid =
    tt === TranslationType.MULTI_LEVEL || (tt === TranslationType.PASS_THROUGH && caps.passThrough);
  if (!ttValid || width === undefined || !caps.sagaw.includes(width.agaw)) {
    return fault(FaultReason.CONTEXT_INVALID, fpd);
  }
  return {
    ok: true,
    context: {
      domainId: (ulo >>> 8) & 0xffff,
      passThrough: tt === TranslationType.PASS_THROUGH,
      agaw: width.agaw,
      levels: width.levels,
      pageTable: entryAddress(lo, hi, caps.haw),
      faultProcessingDisable: fpd,
    },
  };
}

function fault(reason: FaultReason, faultProcessingDisable: boolean): ContextLookup {
  return { ok: false, reason, faultProcessingDisable };
}
