import type { GuestMemory } from '@vmkit/memory';
import type { RemappingCapabilities } from './context.js';
import { bits, entryAddress, readEntry } from './entries.js';
import { FaultReason } from './fault-reasons.js';

/** A successful second-level walk: the page that maps the address and its access rights. */
export interface SecondLevelTranslation {
  /** Host address of the start of the page. */
  readonly pageBase: number;
  /** Page size: 4 KiB, 2 MiB or 1 GiB. */
  readonly pageSize: number;
  /** Reads permitted (R set at every level). */
  readonly read: boolean;
  /** Writes permitted (W set at every level). */
  readonly write: boolean;
  /** Paging-entry reads the walk made. */
  readonly references: number;
}

/** The outcome of a walk: a translation or a fault reason. */
export type WalkResult =
  | SecondLevelTranslation
  | {
      /** The fault reason. */
      readonly fault: FaultReason;
    };

const entry = new Uint32Array(2);
/** Bit 11, reserved in every second-level entry format (VT-d §9.8). */
const RESERVED_LOW = 1 << 11;
/** Bit 62 (high-half bit 30), reserved in every second-level entry format. */
const RESERVED_HIGH = 1 << 30;

/**
 * Walks second-level paging structures (VT-d §3.6 and §9.8) for one request. Each level indexes
 * 9 bits of the input address; an entry with R and W both Clear is not present. At each level the
 * requested right is checked first (VT-d §7.1.3 orders permission faults before reserved-bit
 * faults), then the reserved bits: bit 11, bit 62 and bits 51:HAW of every entry; bit 7 of
 * SL-PML5E/PML4E, and of a PDPE/PDE where the unit lacks that superpage size; the address bits
 * below a superpage's alignment. EMT, IPAT, X, A/D and bits 61:52, 63 are not checked. Faults:
 * 05h write denied, 06h read denied (including not-present entries), 07h entry unreadable, 0Ch
 * reserved bit set.
 *
 * @param mem - memory holding the tables
 * @param root - SLPTPTR of the context entry
 * @param levels - 3, 4 or 5
 * @param iova - input address (already checked against the AGAW)
 * @param write - whether the request is a write (decides 05h vs 06h)
 * @param caps - HAW and superpage support
 * @returns the translation or the fault reason
 */
export function walkSecondLevel(
  mem: GuestMemory,
  root: number,
  levels: number,
  iova: number,
  write: boolean,
  caps: RemappingCapabilities,
): WalkResult {
  const hawHigh = bits(19, caps.haw - 32);
  let table = root;
  let read = true;
  let writable = true;
  let references = 0;
  for (let level = levels; level >= 1; level--) {
    const shift = 12 + 9 * (level - 1);
    const index = Math.floor(iova / 2 ** shift) % 512;
    references++;
    if (!readEntry(mem, table + index * 8, entry))
      return { fault: FaultReason.PAGING_ENTRY_ACCESS };
    const lo = entry[0]!;
    const hi = entry[1]!;
    if ((lo & 3) === 0) {
      return { fault: write ? FaultReason.WRITE_NOT_PERMITTED : FaultReason.READ_NOT_PERMITTED };
    }
    if (write ? (lo & 2) === 0 : (lo & 1) === 0) {
      return { fault: write ? FaultReason.WRITE_NOT_PERMITTED : FaultReason.READ_NOT_PERMITTED };
    }
    const ps = level > 1 && (lo & 0x80) !== 0;
    if (ps && !((level === 2 && caps.pages2M) || (level === 3 && caps.pages1G))) {
      return { fault: FaultReason.PAGING_ENTRY_RESERVED };
    }
    const leaf = level === 1 || ps;
    const reservedLow = RESERVED_LOW | (ps ? bits(shift - 1, 12) : 0);
    if ((lo & reservedLow) !== 0 || (hi & (hawHigh | RESERVED_HIGH)) !== 0) {
      return { fault: FaultReason.PAGING_ENTRY_RESERVED };
    }
    read &&= (lo & 1) !== 0;
    writable &&= (lo & 2) !== 0;
    if (leaf) {
      return {
        pageBase: entryAddress(lo, hi, caps.haw),
        pageSize: 2 ** shift,
        read,
        write: writable,
        references,
      };
    }
    table = entryAddress(lo, hi, caps.haw);
  }
  return { fault: FaultReason.PAGING_ENTRY_RESERVED };
}
