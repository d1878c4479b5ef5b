import type { GuestMemory } from '@vmkit/memory';
import { EPT, EPT_MEMORY_TYPE } from './constants.js';
import { makeEptp } from './eptp.js';
import { EptError } from './errors.js';

const U32 = 0x1_0000_0000;
const SHIFT = [0, 12, 21, 30, 39, 48];

/** Options of {@link EptBuilder.map}. */
export interface EptMapOptions {
  /** Leaf permission bits (R, W, X, XU); default R | W | X. */
  readonly rights?: number;
  /** EPT page size: 4 KiB (default), 2 MiB or 1 GiB. */
  readonly pageSize?: number;
  /** Leaf memory type (bits 5:3); default WB. */
  readonly memoryType?: number;
  /** Leaf ignore-PAT flag; default false. */
  readonly ignorePat?: boolean;
}

/**
 * Writes EPT paging structures into host memory, as a VMM does: tables come from a
 * host-physical range given at construction, zeroed before use; non-leaf entries grant
 * R | W | X (and XU). It validates its host-side arguments and throws {@link EptError}.
 *
 * @example
 * ```ts
 * const b = new EptBuilder(host, { tableBase: 0x10_0000, tableLimit: 0x20_0000 });
 * b.map(0, 0x4000_0000, 2 ** 30, { pageSize: 2 ** 21 }); // guest 0..1 GiB at host 1 GiB
 * const ept = new Ept(host, { eptp: b.eptp() });
 * ```
 */
export class EptBuilder {
  /** Host-physical address of the root table. */
  readonly root: number;
  /** The page-walk length, 4 or 5. */
  readonly walkLength: 4 | 5;
  private readonly memory: GuestMemory;
  private next: number;
  private readonly limit: number;

  /**
   * @param memory - host-physical memory
   * @param options - range for tables (4-KByte aligned) and page-walk length (default 4)
   */
  constructor(
    memory: GuestMemory,
    options: { tableBase: number; tableLimit: number; walkLength?: 4 | 5 },
  ) {
    const { tableBase, tableLimit } = options;
    if (tableBase % 4096 !== 0 || !(tableLimit > tableBase) || tableLimit % 4096 !== 0) {
      throw new EptError('INVALID_ARGUMENT', 'table range must be 4-KByte aligned and non-empty');
    }
    this.memory = memory;
    this.walkLength = options.walkLength ?? 4;
    this.next = tableBase;
    this.limit = tableLimit;
    this.root = this.allocate();
  }

  /**
   * The EPTP of these tables.
   *
   * @param options - A/D enable, memory type (default WB)
   * @returns the EPTP
   */
  eptp(options: { accessedDirty?: boolean; memoryType?: number } = {}): bigint {
    return makeEptp(this.root, { ...options, walkLength: this.walkLength });
  }

  /** Host-physical bytes of table memory used so far. @returns the byte count */
  tableBytes(): number {
    return this.next - this.root;
  }

  /**
   * Maps `size` bytes of guest-physical memory at `gpa` to host-physical `hpa`.
   *
   * @param gpa - guest-physical start, aligned to the page size
   * @param hpa - host-physical start, aligned to the page size
   * @param size - a multiple of the page size
   * @param options - rights, page size, memory type, ignore-PAT
   */
  map(gpa: number, hpa: number, size: number, options: EptMapOptions = {}): void {
    const pageSize = options.pageSize ?? 4096;
    const leafLevel =
      pageSize === 4096 ? 1 : pageSize === 2 ** 21 ? 2 : pageSize === 2 ** 30 ? 3 : 0;
    if (leafLevel === 0) throw new EptError('INVALID_ARGUMENT', `page size ${pageSize}`);
    if (gpa % pageSize !== 0 || hpa % pageSize !== 0 || size % pageSize !== 0 || size <= 0) {
      throw new EptError('INVALID_ARGUMENT', 'gpa, hpa and size must be page-size aligned');
    }
    const rights = options.rights ?? EPT.R | EPT.W | EPT.X;
    let low =
      (rights & (EPT.R | EPT.W | EPT.X | EPT.XU)) |
      ((options.memoryType ?? EPT_MEMORY_TYPE.WB) << EPT.MEMORY_TYPE_SHIFT) |
      (options.ignorePat === true ? EPT.IPAT : 0);
    if (leafLevel > 1) low |= EPT.PS;
    for (let off = 0; off < size; off += pageSize) {
      const at = this.entryAddress(gpa + off, leafLevel, true);
      this.write(at, hpa + off, low);
    }
  }

  /**
   * The host-physical address of the entry at `level` that translates `gpa`, creating the
   * tables above it when `create` is set.
   *
   * @param gpa - guest-physical address
   * @param level - 1 (PTE) .. walk length
   * @param create - allocate missing tables
   * @returns the entry's address, or -1 when a table is missing (or a large page is in the way)
   */
  entryAddress(gpa: number, level: number, create = false): number {
    let table = this.root;
    for (let l = this.walkLength; ; l--) {
      const at = table + (Math.floor(gpa / 2 ** SHIFT[l]!) % 512) * 8;
      if (l === level) return at;
      const lo = this.memory.read32(at);
      const hi = this.memory.read32(at + 4);
      if ((lo & 7) === 0) {
        if (!create) return -1;
        const t = this.allocate();
        this.write(at, t, EPT.R | EPT.W | EPT.X | EPT.XU);
        table = t;
      } else {
        if ((lo & EPT.PS) !== 0 && l <= 3) return -1;
        table = (hi & 0xf_ffff) * U32 + ((lo & 0xffff_f000) >>> 0);
      }
    }
  }

  private write(at: number, address: number, low: number): void {
    this.memory.write32(at, (((address % U32) & 0xffff_f000) | low) >>> 0);
    this.memory.write32(at + 4, Math.floor(address / U32));
  }

  private allocate(): number {
    if (this.next + 4096 > this.limit) {
      throw new EptError('OUT_OF_TABLE_MEMORY', 'the table range is full');
    }
    const t = this.next;
    this.next += 4096;
    this.memory.fill(t, 4096, 0);
    return t;
  }
}
