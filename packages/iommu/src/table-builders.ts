import type { GuestMemory } from '@vmkit/memory';
import { TranslationType } from './context.js';
import { readEntry, TWO_32, writeEntry } from './entries.js';
import { IommuError } from './errors.js';
import { encodeIrte, type IrteFields } from './interrupt-remapping.js';

/** Hands out zeroed, 4 KiB-aligned pages of table memory. */
export interface PageAllocator {
  /** Returns the address of a fresh zeroed 4 KiB page. */
  allocate(): number;
}

/**
 * A bump allocator over a range of table memory, zeroing each page it hands out.
 *
 * @example
 * ```ts
 * const pages = new BumpAllocator(mem, 0x10_0000, 0x10_0000); // 256 table pages at 1 MiB
 * const root = pages.allocate();
 * ```
 */
export class BumpAllocator implements PageAllocator {
  private next: number;
  private readonly end: number;
  private readonly mem: GuestMemory;

  /**
   * @param mem - table memory
   * @param base - first page (4 KiB-aligned)
   * @param size - bytes available
   */
  constructor(mem: GuestMemory, base: number, size: number) {
    if (base % 4096 !== 0 || size % 4096 !== 0 || size <= 0) {
      throw new IommuError('INVALID_ADDRESS', 'allocator range must be 4 KiB-aligned');
    }
    this.mem = mem;
    this.next = base;
    this.end = base + size;
  }

  allocate(): number {
    if (this.next >= this.end) throw new IommuError('INVALID_CONFIG', 'table memory exhausted');
    const page = this.next;
    this.next += 4096;
    this.mem.fill(page, 4096, 0);
    return page;
  }
}

/** What a context entry says about one requester (VT-d §9.3). */
export interface ContextSpec {
  /** Domain ID, 0-65535. */
  readonly domainId: number;
  /** Multi-level translation (default) or pass-through. */
  readonly translation?: 'multi-level' | 'pass-through';
  /** AGAW: 39 (3-level), 48 (4-level) or 57 (5-level). */
  readonly addressWidth: 39 | 48 | 57;
  /** SLPTPTR: root of the domain's second-level tables (ignored for pass-through). */
  readonly pageTable?: number;
  /** FPD: suppress fault recording for this requester. */
  readonly faultProcessingDisable?: boolean;
}

const AW = { 39: 0b001, 48: 0b010, 57: 0b011 } as const;

/**
 * The VMM-side writer of the root table and context tables (legacy mode): what an IOMMU driver
 * does to assign a requester to a domain. After changing an entry, invalidate the context cache
 * (and the IOTLB for the domain) as VT-d §6.5 requires.
 */
export class ContextTables {
  /** Address of the root table (for `DmaRemapping.setRootTable`). */
  readonly rootTable: number;
  private readonly mem: GuestMemory;
  private readonly pages: PageAllocator;

  /**
   * @param mem - table memory
   * @param pages - allocator for the root and context tables
   */
  constructor(mem: GuestMemory, pages: PageAllocator) {
    this.mem = mem;
    this.pages = pages;
    this.rootTable = pages.allocate();
  }

  /**
   * Writes the context entry of `sourceId`, creating its bus's context table if needed.
   *
   * @param sourceId - requester ID
   * @param spec - domain, translation type, width, page table
   */
  setContext(sourceId: number, spec: ContextSpec): void {
    checkSid(sourceId);
    if (!Number.isInteger(spec.domainId) || spec.domainId < 0 || spec.domainId > 0xffff) {
      throw new IommuError('INVALID_CONFIG', `domain ID ${spec.domainId} is not 16 bits`);
    }
    const ctp = this.contextTable(sourceId >>> 8, true)!;
    const tt =
      spec.translation === 'pass-through'
        ? TranslationType.PASS_THROUGH
        : TranslationType.MULTI_LEVEL;
    const ptr = spec.pageTable ?? 0;
    const at = ctp + (sourceId & 0xff) * 16;
    writeEntry(this.mem, at + 8, AW[spec.addressWidth] | (spec.domainId << 8), 0);
    writeEntry(
      this.mem,
      at,
      ((ptr % TWO_32) & 0xffff_f000) | (tt << 2) | (spec.faultProcessingDisable ? 2 : 0) | 1,
      Math.floor(ptr / TWO_32),
    );
  }

  /**
   * Clears the context entry of `sourceId` (Present = 0): its DMA then faults with 02h.
   *
   * @param sourceId - requester ID
   */
  clearContext(sourceId: number): void {
    checkSid(sourceId);
    const ctp = this.contextTable(sourceId >>> 8, false);
    if (ctp === undefined) return;
    const at = ctp + (sourceId & 0xff) * 16;
    writeEntry(this.mem, at, 0, 0);
    writeEntry(this.mem, at + 8, 0, 0);
  }

  private contextTable(bus: number, create: boolean): number | undefined {
    const at = this.rootTable + bus * 16;
    const e = new Uint32Array(2);
    readEntry(this.mem, at, e);
    if (e[0]! & 1) return (e[1]! * TWO_32 + (e[0]! & 0xffff_f000)) as number;
    if (!create) return undefined;
    const page = this.pages.allocate();
    writeEntry(this.mem, at, (page % TWO_32) | 1, Math.floor(page / TWO_32));
    return page;
  }
}

/** Access rights of a mapping. */
export interface MappingRights {
  /** R: DMA reads allowed. */
  readonly read: boolean;
  /** W: DMA writes allowed. */
  readonly write: boolean;
}

/**
 * A domain's second-level page tables, written by the VMM (VT-d §9.8 formats): non-leaf entries
 * carry R and W, leaves carry the page address and rights; 2 MiB and 1 GiB leaves set PS (bit 7).
 * After `unmap` or a rights change, the caller invalidates the IOTLB for the range.
 *
 * @example
 * ```ts
 * const pt = new SecondLevelTables(mem, pages, 4);
 * pt.map(0x10_0000, 0x80_0000, 0x20_0000, { read: true, write: true }); // one 2 MiB page
 * ```
 */
export class SecondLevelTables {
  /** SLPTPTR for the context entry. */
  readonly root: number;
  /** Levels: 3, 4 or 5. */
  readonly levels: 3 | 4 | 5;
  private readonly mem: GuestMemory;
  private readonly pages: PageAllocator;

  /**
   * @param mem - table memory
   * @param pages - allocator for table pages
   * @param levels - 3 (39-bit), 4 (48-bit) or 5 (57-bit)
   */
  constructor(mem: GuestMemory, pages: PageAllocator, levels: 3 | 4 | 5) {
    this.mem = mem;
    this.pages = pages;
    this.levels = levels;
    this.root = pages.allocate();
  }

  /**
   * Maps `[iova, iova + size)` to `[hpa, hpa + size)`, using the largest pages that alignment and
   * `pageSizes` allow. Throws `INVALID_MAPPING` for unaligned ranges or a clash with a superpage.
   *
   * @param iova - I/O virtual address (4 KiB-aligned)
   * @param hpa - host address (4 KiB-aligned)
   * @param size - bytes (multiple of 4 KiB)
   * @param rights - read/write permission
   * @param pageSizes - which sizes to use (default all three)
   */
  map(
    iova: number,
    hpa: number,
    size: number,
    rights: MappingRights,
    pageSizes: readonly number[] = [4096, 2 ** 21, 2 ** 30],
  ): void {
    if (
      [iova, hpa, size].some((v) => !Number.isSafeInteger(v) || v < 0 || v % 4096 !== 0) ||
      size === 0
    ) {
      throw new IommuError('INVALID_MAPPING', 'iova, hpa and size must be 4 KiB multiples');
    }
    if (iova + size > 2 ** (12 + 9 * this.levels)) {
      throw new IommuError('INVALID_MAPPING', 'mapping runs past the address width');
    }
    const perm = (rights.read ? 1 : 0) | (rights.write ? 2 : 0);
    for (let off = 0; off < size; ) {
      const page = [2 ** 30, 2 ** 21, 4096].find(
        (p) =>
          pageSizes.includes(p) &&
          (iova + off) % p === 0 &&
          (hpa + off) % p === 0 &&
          size - off >= p,
      );
      if (page === undefined) throw new IommuError('INVALID_MAPPING', 'no allowed page size fits');
      this.set(iova + off, hpa + off, page, perm);
      off += page;
    }
  }

  /**
   * Removes the leaves covering `[iova, iova + size)` (whole pages; a superpage is removed whole).
   *
   * @param iova - start (4 KiB-aligned)
   * @param size - bytes
   */
  unmap(iova: number, size: number): void {
    for (let off = 0; off < size; ) {
      const leaf = this.findLeaf(iova + off);
      if (leaf === undefined) {
        off += 4096;
        continue;
      }
      writeEntry(this.mem, leaf.at, 0, 0);
      off += leaf.size - ((iova + off) % leaf.size);
    }
  }

  private set(iova: number, hpa: number, page: number, perm: number): void {
    const leafLevel = page === 4096 ? 1 : page === 2 ** 21 ? 2 : 3;
    let table = this.root;
    const e = new Uint32Array(2);
    for (let level = this.levels; level > leafLevel; level--) {
      const at = table + index(iova, level) * 8;
      readEntry(this.mem, at, e);
      if ((e[0]! & 3) === 0) {
        const next = this.pages.allocate();
        writeEntry(this.mem, at, (next % TWO_32) | 3, Math.floor(next / TWO_32));
        table = next;
      } else if (e[0]! & 0x80) {
        throw new IommuError(
          'INVALID_MAPPING',
          `0x${iova.toString(16)} lies in an existing superpage`,
        );
      } else {
        table = e[1]! * TWO_32 + (e[0]! & 0xffff_f000);
      }
    }
    const ps = leafLevel > 1 ? 0x80 : 0;
    writeEntry(
      this.mem,
      table + index(iova, leafLevel) * 8,
      ((hpa % TWO_32) | ps | perm) >>> 0,
      Math.floor(hpa / TWO_32),
    );
  }

  private findLeaf(iova: number): { at: number; size: number } | undefined {
    let table = this.root;
    const e = new Uint32Array(2);
    for (let level: number = this.levels; level >= 1; level--) {
      const at = table + index(iova, level) * 8;
      readEntry(this.mem, at, e);
      if ((e[0]! & 3) === 0) return undefined;
      if (level === 1 || e[0]! & 0x80) return { at, size: 2 ** (12 + 9 * (level - 1)) };
      table = e[1]! * TWO_32 + (e[0]! & 0xffff_f000);
    }
    return undefined;
  }
}

/**
 * The VMM-side writer of an interrupt remapping table: 2^(S+1) IRTEs of 16 bytes.
 */
export class InterruptRemappingTable {
  /** Table address (for IRTA). */
  readonly address: number;
  /** Entries: 2^(sizeField + 1). */
  readonly entries: number;
  /** IRTA.S. */
  readonly sizeField: number;
  private readonly mem: GuestMemory;
  private readonly xapic: boolean;

  /**
   * @param mem - table memory
   * @param address - 4 KiB-aligned base (the caller reserves 16 << (S+1) bytes)
   * @param sizeField - S, 0-15
   * @param extendedInterruptMode - x2APIC destinations (false: 8-bit xAPIC IDs in DST 15:8)
   */
  constructor(mem: GuestMemory, address: number, sizeField: number, extendedInterruptMode = false) {
    this.mem = mem;
    this.address = address;
    this.sizeField = sizeField;
    this.entries = 2 ** (sizeField + 1);
    this.xapic = !extendedInterruptMode;
    mem.fill(address, this.entries * 16, 0);
  }

  /**
   * Writes a present IRTE.
   *
   * @param index - interrupt_index
   * @param fields - the entry
   */
  set(index: number, fields: IrteFields): void {
    const dw = encodeIrte(fields, this.xapic);
    const at = this.at(index);
    writeEntry(this.mem, at + 8, dw[2], dw[3]);
    writeEntry(this.mem, at, dw[0], dw[1]);
  }

  /**
   * Clears an IRTE (Present = 0).
   *
   * @param index - interrupt_index
   */
  clear(index: number): void {
    const at = this.at(index);
    writeEntry(this.mem, at, 0, 0);
    writeEntry(this.mem, at + 8, 0, 0);
  }

  private at(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.entries) {
      throw new IommuError('INVALID_CONFIG', `interrupt index ${index} outside the table`);
    }
    return this.address + index * 16;
  }
}

/** An MSI address/data pair in remappable format. */
export interface RemappableMsi {
  /** Message Address bits 31:0. */
  readonly addressLow: number;
  /** Message Data. */
  readonly data: number;
}

/**
 * The remappable-format MSI address and data that select interrupt_index `index` (VT-d §5.1,
 * "Interrupt Requests in Remappable Format"): address 0xFEE in 31:20, handle 14:0 in 19:5, bit 4
 * Interrupt Format = 1, bit 3 SHV = 0, handle bit 15 in bit 2; data 0.
 *
 * @param index - interrupt_index (handle)
 * @returns the MSI address (low) and data
 */
export function remappableMsi(index: number): RemappableMsi {
  return {
    addressLow: (0xfee0_0000 | ((index & 0x7fff) << 5) | 0x10 | (((index >>> 15) & 1) << 2)) >>> 0,
    data: 0,
  };
}

function index(iova: number, level: number): number {
  return Math.floor(iova / 2 ** (12 + 9 * (level - 1))) % 512;
}

function checkSid(sid: number): void {
  if (!Number.isInteger(sid) || sid < 0 || sid > 0xffff) {
    throw new IommuError('INVALID_SOURCE_ID', `requester ID ${sid} is not 16 bits`);
  }
}
