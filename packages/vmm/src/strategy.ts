// Memory virtualization as a per-VM strategy. Guest RAM is guest-physical 0..size and lives at
// the same host-physical addresses (an identity p2m): the VMM's devices, the loader and the
// hypercalls address it by guest-physical address, and everything the VMM keeps for itself
// (EPT tables, later shadow tables) sits in a separate host range above guest RAM that no
// guest-physical address reaches, because the second stage maps guest RAM only.
import { MmuMemory, type Translator } from '@vmkit/cpu';
import { EptBuilder, NestedMmu } from '@vmkit/ept';
import { GuestPhysicalMemory } from '@vmkit/memory';
import { Mmu } from '@vmkit/paging';
import { ShadowMmu } from '@vmkit/shadow-paging';
import {
  CacheHierarchy,
  CacheLevel,
  type CostProfile,
  defaultProfile,
  walkCacheGeometry,
} from '@vmkit/sim';
import { BOOT_REGISTERS } from './boot.js';
import { HostMemory } from './host-memory.js';
import { type MmioWindow, MmioWindowMemory } from './mmio-window.js';
import { ShadowLinearMemory, type ShadowPort, type ShadowWindow } from './shadow-memory.js';

/**
 * How guest memory is virtualized:
 * - `native`: no VMM interposition; the guest's own page tables are the only translation.
 * - `spt`: shadow page tables (`@vmkit/shadow-paging`) the VMM keeps in step with the guest's.
 * - `ept`: hardware two-stage translation (`@vmkit/ept`), guest RAM mapped with 4 KiB EPT pages.
 * - `ept-lp`: as `ept` with 2 MiB EPT pages (large pages), the remainder in 4 KiB pages.
 */
export type MmuStrategy = 'native' | 'spt' | 'ept' | 'ept-lp';

/** Every {@link MmuStrategy}, in the order reports list them. */
export const MMU_STRATEGIES: readonly MmuStrategy[] = ['native', 'spt', 'ept', 'ept-lp'];

const PAGE = 0x1000;
const LARGE = 0x20_0000;

/** TLB counters of an MMU. */
export interface TlbCounters {
  /** Translations a TLB entry served. */
  readonly hits: number;
  /** Translations that needed a walk. */
  readonly misses: number;
}

/** The translation machinery of one vCPU under a strategy, and its counters. */
export interface VcpuTranslation {
  /** The MMU hardware the vCPU's linear accesses go through (shadow tables under `spt`). */
  readonly mmu: Translator;
  /** The vCPU's linear memory (the CPU's `memory`). */
  readonly memory: MmuMemory<Translator>;
  /** TLB hits and misses of the MMU hardware so far. */
  tlb(): TlbCounters;
  /**
   * The vCPU's linear memory as an MMIO window, for emulating an access to a device region that
   * exited (not `native`, where device regions answer directly).
   */
  readonly mmio?: MmioWindow;
  /** The shadow MMU of this vCPU and its linear memory (`spt` only). */
  readonly shadow?: ShadowWindow;
  /** Memory references made by hardware page walks so far (guest + EPT levels, or shadow). */
  walkReferences(): number;
  /**
   * The caches the vCPU's page-walk references go through (`@vmkit/sim`'s model, fed by the
   * MMU's walk observer); `served` counts them by the level that served them (l1, l2, l3,
   * dram), and always sums to {@link VcpuTranslation.walkReferences}.
   */
  readonly walkCaches: CacheHierarchy;
  /**
   * Paging-structure-cache hits of the vCPU's MMU hardware by cached entry: `pde`, `pdpte`,
   * `pml4e`, `pml5e` (paging's caches of guest entries under `native`, of shadow entries under
   * `spt`, the combined caches under `ept`/`ept-lp`), and under `ept`/`ept-lp` also the EPT's own
   * paging-structure caches (`ept-pde` ... `ept-pml5e`) and its guest-physical mappings
   * (`ept-mappings`: EPT walks a cached mapping saved).
   */
  pscHits(): Record<string, number>;
}

/**
 * The host side of a memory strategy: builds one {@link VcpuTranslation} per vCPU over the
 * guest RAM (identity p2m) and the VMM's private host memory.
 */
export interface MemoryStrategy {
  /** The strategy. */
  readonly kind: MmuStrategy;
  /** Bytes of VMM-private host memory the strategy's tables use so far. */
  tableBytes(): number;
  /** The shadow MMU's counters and lock (`spt` only). */
  readonly shadowMmu?: ShadowMmu;
  /**
   * Creates the translation of one vCPU (in id order). Its walk references go through a cache
   * hierarchy of its own L1 and L2 and an L3 shared by all the VM's vCPUs (one vCPU stands for
   * one core of one socket), with the profile's geometry scaled by its page-table share.
   *
   * @param maxPhyAddr - the guest's MAXPHYADDR
   * @param rflags - the vCPU's RFLAGS (for SMAP's AC)
   * @returns the vCPU's MMU, memory and counters
   */
  vcpu(maxPhyAddr: number, rflags: () => number): VcpuTranslation;
}

const PSC_NAMES = ['pde', 'pdpte', 'pml4e', 'pml5e'] as const;

/** Paging-structure-cache hits by level (index 2 = PDE .. 5 = PML5E) as named counters. */
function pscByName(hits: Float64Array, prefix = ''): Record<string, number> {
  const out: Record<string, number> = {};
  for (let l = 2; l <= 5; l++) out[`${prefix}${PSC_NAMES[l - 2]}`] = hits[l]!;
  return out;
}

/** A vCPU's walk caches: private L1 and L2, the VM's shared L3. */
function walkCachesFactory(profile: CostProfile): () => CacheHierarchy {
  const l3 = new CacheLevel(walkCacheGeometry(profile).l3);
  return () => CacheHierarchy.forWalks(profile, l3);
}

function sumLevels(a: Float64Array, b: Float64Array): number {
  let n = 0;
  for (let l = 1; l <= 5; l++) n += a[l]! + b[l]!;
  return n;
}

/** The VMM's range: from the first 2 MiB boundary at or above guest RAM. */
function vmmBase(ramSize: number): number {
  return Math.ceil(ramSize / LARGE) * LARGE;
}

/** `native`: paging's Mmu straight over guest RAM. */
function nativeStrategy(ram: GuestPhysicalMemory, profile: CostProfile): MemoryStrategy {
  const caches = walkCachesFactory(profile);
  return {
    kind: 'native',
    tableBytes: () => 0,
    vcpu(maxPhyAddr, rflags) {
      const walkCaches = caches();
      const mmu = new Mmu(ram, {
        features: { maxPhyAddr },
        walkObserver: (address) => {
          walkCaches.access(address);
        },
      });
      return {
        mmu,
        memory: new MmuMemory(mmu, ram, { rflags }),
        tlb: () => ({ hits: mmu.stats.hits, misses: mmu.stats.misses }),
        walkReferences: () => sumLevels(mmu.stats.reads, mmu.stats.writes),
        walkCaches,
        pscHits: () => pscByName(mmu.stats.pscHits),
      };
    },
  };
}

/**
 * `ept` / `ept-lp`: EPT tables written by EptBuilder into VMM-private host memory at host
 * addresses just above guest RAM, mapping guest-physical 0..size to host-physical 0..size with
 * R/W/X and WB (SDM Vol. 3C §29.3.2); each vCPU translates through `@vmkit/ept`'s `NestedMmu`
 * (the two-dimensional walk of §29.3.3 with a combined TLB and paging-structure caches tagged
 * by VPID = vCPU id + 1, and EPT caches, §29.4). A guest-physical address outside guest RAM
 * is an EPT violation exit.
 */
function eptStrategy(
  kind: 'ept' | 'ept-lp',
  ram: GuestPhysicalMemory,
  ramSize: number,
  profile: CostProfile,
): MemoryStrategy {
  const caches = walkCachesFactory(profile);
  // Table budget: one 4 KiB table per 2 MiB mapped (PTs) plus the upper levels, with room.
  const tableBase = vmmBase(ramSize);
  const tableSize = (Math.ceil(ramSize / LARGE) + 16) * PAGE;
  const tables = new GuestPhysicalMemory({
    ram: [{ name: 'vmm-ept', base: tableBase, size: tableSize }],
  });
  const host = new HostMemory(ram, tables, tableBase);
  const builder = new EptBuilder(host, { tableBase, tableLimit: tableBase + tableSize });
  const large = kind === 'ept-lp' ? Math.floor(ramSize / LARGE) * LARGE : 0;
  if (large > 0) builder.map(0, 0, large, { pageSize: LARGE });
  if (ramSize > large) builder.map(large, large, ramSize - large);
  const eptp = builder.eptp();
  let vcpus = 0;
  return {
    kind,
    tableBytes: () => builder.tableBytes(),
    vcpu(maxPhyAddr, rflags) {
      const walkCaches = caches();
      const mmu = new NestedMmu(host, {
        eptp,
        vpid: ++vcpus,
        eptFeatures: { maxPhyAddr },
        guest: { ...BOOT_REGISTERS, features: { maxPhyAddr } },
        // Host-physical addresses of guest and EPT entries (EPT tables above guest RAM).
        walkObserver: (address) => {
          walkCaches.access(address);
        },
      });
      // Final addresses are host-physical RAM addresses (identity p2m): guest RAM holds them.
      const memory = new MmioWindowMemory(mmu, ram, ram, { rflags });
      return {
        mmu,
        memory,
        mmio: memory,
        tlb: () => ({ hits: mmu.stats.hits, misses: mmu.stats.misses }),
        walkReferences: () => mmu.stats.references,
        walkCaches,
        pscHits: () => ({
          ...pscByName(mmu.stats.pscHits),
          ...pscByName(mmu.ept.stats.pscHits, 'ept-'),
          'ept-mappings': mmu.ept.stats.mappingHits,
        }),
      };
    },
  };
}

/**
 * `spt`: one `ShadowMmu` (shared shadow tables, per-vCPU roots and hardware TLBs) over host
 * memory, its tables in a VMM-private range above guest RAM; the p2m is the identity on guest
 * RAM and nothing else. Each vCPU's CPU walks the shadow tables through its hardware Mmu.
 */
function sptStrategy(
  ram: GuestPhysicalMemory,
  ramSize: number,
  profile: CostProfile,
): MemoryStrategy {
  const caches = walkCachesFactory(profile);
  const base = vmmBase(ramSize);
  // Room for shadow pages: 16 MiB plus 1/16 of RAM (the shadow MMU reclaims when it runs out).
  const size = 16 * 0x10_0000 + Math.ceil(ramSize / 16 / PAGE) * PAGE;
  const tables = new GuestPhysicalMemory({ ram: [{ name: 'vmm-shadow', base, size }] });
  const host = new HostMemory(ram, tables, base);
  const ramFrames = ramSize / PAGE;
  let shadowMmu: ShadowMmu | undefined;
  const strategy: MemoryStrategy = {
    kind: 'spt',
    tableBytes: () => (shadowMmu === undefined ? 0 : shadowMmu.shadowPages() * PAGE),
    get shadowMmu() {
      return shadowMmu;
    },
    vcpu(maxPhyAddr, rflags) {
      let port: ShadowPort;
      if (shadowMmu === undefined) {
        shadowMmu = new ShadowMmu(host, {
          p2m: (gfn) => (gfn >= 0 && gfn < ramFrames ? gfn * PAGE : -1),
          shadowMemory: { base, limit: base + size },
          guest: { ...BOOT_REGISTERS, features: { maxPhyAddr } },
        });
        port = shadowMmu;
      } else port = shadowMmu.addVcpu();
      const owner = shadowMmu;
      const memory = new ShadowLinearMemory(port, ram, () => owner.flushAll(), rflags);
      const mmu = port.hardware;
      // The hardware walks shadow tables: host-physical addresses in the VMM's range.
      const walkCaches = caches();
      mmu.walkObserver = (address) => {
        walkCaches.access(address);
      };
      return {
        mmu,
        memory,
        mmio: memory,
        shadow: memory,
        tlb: () => ({ hits: mmu.stats.hits, misses: mmu.stats.misses }),
        walkReferences: () => sumLevels(mmu.stats.reads, mmu.stats.writes),
        walkCaches,
        pscHits: () => pscByName(mmu.stats.pscHits),
      };
    },
  };
  return strategy;
}

/**
 * Builds the host side of a memory strategy for guest RAM `ram` of `ramSize` bytes at
 * guest-physical 0.
 *
 * @param kind - the strategy
 * @param ram - guest RAM (guest-physical = host-physical)
 * @param ramSize - bytes of guest RAM
 * @param profile - the cost profile whose cache geometry page-walk references go through
 *   (default: `@vmkit/sim`'s default profile)
 * @returns the strategy
 */
export function memoryStrategy(
  kind: MmuStrategy,
  ram: GuestPhysicalMemory,
  ramSize: number,
  profile: CostProfile = defaultProfile,
): MemoryStrategy {
  if (kind === 'native') return nativeStrategy(ram, profile);
  if (kind === 'spt') return sptStrategy(ram, ramSize, profile);
  return eptStrategy(kind, ram, ramSize, profile);
}
