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
/** EMT (5:3), IPAT (6) and SNP (11): reserved in leaves with ECAP.MTS = ECAP.SC = 0. */
const LEAF_RESERVED_LOW = bits(6, 3) | (1 << 11);
/** TM (bit 62 = high bit 30): reserved in leaves with ECAP.DT = 0. */
const LEAF_RESERVED_HIGH = 1 << 30;

/**
 * Walks second-level paging structures (VT-d §3.6 and §9.8) for one request. Each level indexes
 * 9 bits of the input address; an entry with R and W both Clear is not present. Reserved bits are
 * checked in every entry with R or W set: bits 51:HAW everywhere; bit 7 of SL-PML5E/PML4E; bit 7 (PS)
 * of a PDPE/PDE where the unit lacks that superpage size; in leaves EMT, IPAT, SNP and TM (the unit
 * reports no memory-type, snoop-control or device-TLB support) and the address bits below a
 * superpage's alignment. Rights are the AND of R and W over all levels. Faults: 05h write denied,
 * 06h read denied (including not-present entries), 07h entry unreadable, 0Ch reserved bit set.
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
    if ((lo & 3) === 0)
      return { fault: write ? FaultReason.WRITE_NOT_PERMITTED : FaultReason.READ_NOT_PERMITTED };
    const ps = (lo & 0x80) !== 0;
    let leaf = level === 1;
    if (ps) {
      const allowed = (level === 2 && caps.pages2M) || (level === 3 && caps.pages1G);
      if (!allowed) return { fault: FaultReason.PAGING_ENTRY_RESERVED };
      leaf = true;
    }
    let reservedLow = 0;
    let reservedHigh = hawHigh;
    if (leaf) {
      reservedLow = LEAF_RESERVED_LOW | (level > 1 ? bits(shift - 1, 12) : 0);
      reservedHigh |= LEAF_RESERVED_HIGH;
    }
    if ((lo & reservedLow) !== 0 || (hi & reservedHigh) !== 0)
      return { fault: FaultReason.PAGING_ENTRY_RESERVED };
    read &&= (lo & 1) !== 0;
    writable &&= (lo & 2) !== 0;
    if (leaf) {
      if (write ? !writable : !read) {
        return { fault: write ? FaultReason.WRITE_NOT_PERMITTED : FaultReason.READ_NOT_PERMITTED };
      }
      const size = 2 ** shift;
      return {
        pageBase: entryAddress(lo, hi, caps.haw),
        pageSize: size,
        read,
        write: writable,
        references,
      };
    }
    table = entryAddress(lo, hi, caps.haw);
  }
  return { fault: FaultReason.PAGING_ENTRY_RESERVED };
}
