import type { ResolvedEptFeatures } from './capabilities.js';
import { EPT } from './constants.js';
import type { EptMisconfigurationCause } from './exit.js';

/** Misconfiguration causes by the codes {@link EntryChecks.misconfiguration} returns. */
export const MISCONFIGURATION_CAUSES: readonly (EptMisconfigurationCause | undefined)[] = [
  undefined,
  'WRITE_WITHOUT_READ',
  'EXECUTE_ONLY',
  'RESERVED',
  'MEMORY_TYPE',
];

/**
 * The misconfiguration conditions of SDM Vol. 3C §29.3.3.1 for present EPT entries, with the
 * reserved-bit masks precomputed per level and page size for the processor's features.
 *
 * @internal
 */
export class EntryChecks {
  private readonly rsvLo = new Int32Array(12);
  private readonly rsvHi = new Int32Array(12);
  private readonly executeOnly: boolean;
  private readonly mbec: boolean;

  /** @param f - the processor's EPT features */
  constructor(f: ResolvedEptFeatures) {
    this.executeOnly = f.executeOnly;
    this.mbec = f.modeBasedExecute;
    // Bits 51:MAXPHYADDR, in the high half, are reserved in every present entry.
    const hiMask = 0xf_ffff & ~((1 << (f.maxPhyAddr - 32)) - 1);
    for (let level = 1; level <= 5; level++) {
      for (let ps = 0; ps <= 1; ps++) {
        const k = level * 2 + ps;
        let lo: number;
        if (level >= 4)
          lo = 0xf8; // PML5E/PML4E: bits 7:3 (bit 7 included).
        else if (level === 1)
          lo = 0; // PTE: bit 7 ignored; 5:3 memory type, 6 IPAT.
        else if (ps === 0)
          lo = 0x78; // PDPTE/PDE referencing a table: bits 6:3.
        else if (level === 3)
          lo = f.pages1GB ? 0x3fff_f000 : EPT.PS; // 1-GByte page: 29:12.
        else lo = f.pages2MB ? 0x1f_f000 : EPT.PS; // 2-MByte page: 20:12.
        this.rsvLo[k] = lo;
        this.rsvHi[k] = hiMask;
      }
    }
  }

  /**
   * Checks one present entry.
   *
   * @param lo - bits 31:0 of the entry
   * @param hi - bits 63:32
   * @param level - 1 (PTE) .. 5 (PML5E)
   * @param leaf - whether the entry maps a page
   * @returns 0, or an index into {@link MISCONFIGURATION_CAUSES}
   */
  misconfiguration(lo: number, hi: number, level: number, leaf: boolean): number {
    // Bit 0 clear and bit 1 set: write-only or write+execute.
    if ((lo & 3) === 2) return 1;
    // Execute-only (bit 2, or bit 10 with mode-based execute control) without support.
    if (
      !this.executeOnly &&
      (lo & 3) === 0 &&
      ((lo & EPT.X) !== 0 || (this.mbec && (lo & EPT.XU) !== 0))
    ) {
      return 2;
    }
    const k = level === 1 ? 2 : level * 2 + ((lo >>> 7) & 1);
    if (((lo & this.rsvLo[k]!) | (hi & this.rsvHi[k]!)) !== 0) return 3;
    // A leaf's memory type must be 0 (UC), 1 (WC), 4 (WT), 5 (WP) or 6 (WB).
    if (leaf) {
      const type = (lo >>> 3) & 7;
      if (type === 2 || type === 3 || type === 7) return 4;
    }
    return 0;
  }
}
