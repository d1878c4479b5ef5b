import type { MmioHandler } from '@vmkit/memory';
import {
  Bar,
  type BarDefinition,
  type BarKind,
  type DecodedBar,
  ExtendedCapabilityId,
  formatRoutingId,
  type PciFunction,
  type PciSegment,
} from '@vmkit/pci';
import { SriovError } from './errors.js';
import {
  SRIOV_CAPABILITY_LENGTH,
  SriovCapabilityBits,
  SriovControl,
  SriovReg,
} from './registers.js';
import { createVirtualFunction, EMPTY_BAR, type VfTemplate } from './virtual-function.js';

/** A per-VF BAR: kind, per-VF aperture size, prefetchable. */
export interface VfBarDefinition {
  /** VF BAR number 0-5 (a 64-bit BAR also takes the next). */
  readonly index: number;
  /** Memory only: VF BARs do not decode I/O space (PCIe Base 4.0 §9.3.3.14). */
  readonly kind: Exclude<BarKind, 'io'>;
  /** Per-VF size, a power of two of at least 16 bytes. */
  readonly size: number;
  /** Prefetchable bit. */
  readonly prefetchable?: boolean;
}

/** First VF Offset and VF Stride for a given NumVFs and ARI Capable Hierarchy setting. */
export interface VfRouting {
  /** First VF Offset (§9.3.3.9). */
  readonly firstVfOffset: number;
  /** VF Stride (§9.3.3.10). */
  readonly vfStride: number;
}

/** What a PF declares in its SR-IOV Extended Capability, and how its VFs are built. */
export interface SriovOptions {
  /** TotalVFs (§9.3.3.6), 1-65535. */
  readonly totalVfs: number;
  /** InitialVFs (default TotalVFs). */
  readonly initialVfs?: number;
  /** VF Device ID (§9.3.3.11). */
  readonly vfDeviceId: number;
  /** First VF Offset and VF Stride, fixed or as a function of NumVFs and ARI Capable Hierarchy. */
  readonly routing: VfRouting | ((numVfs: number, ariCapableHierarchy: boolean) => VfRouting);
  /** Supported Page Sizes (default 0x553: 4K, 8K, 64K, 256K, 1M, 4M, as the spec requires at least). */
  readonly supportedPageSizes?: number;
  /** Function Dependency Link (default: this PF's own function number, 0). */
  readonly functionDependencyLink?: number;
  /** Whether this is the lowest-numbered PF, which owns ARI Capable Hierarchy (default true). */
  readonly lowestPf?: boolean;
  /** ARI Capable Hierarchy Preserved (capability bit 1). */
  readonly ariCapableHierarchyPreserved?: boolean;
  /** The per-VF BARs. */
  readonly vfBars?: readonly VfBarDefinition[];
  /** Class and subsystem of the VFs. */
  readonly vf: VfTemplate;
  /** The device model's registers behind BAR `bar` of VF `n` (1-based). */
  readonly vfHandler?: (n: number, bar: number) => MmioHandler | undefined;
  /** Adds capabilities (MSI-X, PCI Express) to a freshly built VF `n`. */
  readonly setupVf?: (vf: PciFunction, n: number) => void;
}

const TWO_32 = 2 ** 32;

/**
 * A Physical Function with the SR-IOV Extended Capability (PCIe Base 4.0 §9.3.3), exactly:
 * Capabilities (RO), Control (VF Enable, VF MSE RW; ARI Capable Hierarchy RW in the lowest PF
 * only; migration bits RO 0), Status (RW1C migration status), InitialVFs/TotalVFs (RO), NumVFs
 * (RW while VF Enable is Clear; writes while it is Set are ignored, the spec leaves them
 * undefined), Function Dependency Link, First VF Offset and VF Stride (RO, recomputed when NumVFs
 * or ARI Capable Hierarchy change), VF Device ID (RO), Supported Page Sizes (RO), System Page
 * Size (RW, supported sizes only, default 4 KiB), VF BAR0-5 (sized per VF, aligned to the System
 * Page Size) and VF Migration State Array Offset (RO 0).
 *
 * VF Enable 0 -> 1 creates NumVFs VFs at routing IDs `PF + First VF Offset + (n - 1) * VF Stride`
 * (16-bit arithmetic: carries into the bus number) and hot-adds them to the segment; 1 -> 0
 * removes them. VF `n`'s BAR i decodes at `VF BAR i + (n - 1) * size` while VF MSE is set.
 */
export class SriovPhysicalFunction {
  /** The PF. */
  readonly pf: PciFunction;
  /** Offset of the SR-IOV capability header in the PF's configuration space. */
  readonly offset: number;
  private readonly segment: PciSegment;
  private readonly options: SriovOptions;
  private readonly vfBars: { def: VfBarDefinition; bar: Bar }[];
  private readonly vfs = new Map<number, PciFunction>();
  private enabledCount = 0;

  /**
   * Adds the capability to `pf` (which must be a PCI Express function) and follows VF Enable.
   *
   * @param pf - the physical function
   * @param segment - where VFs are hot-added (the PF's segment)
   * @param options - capability contents and VF construction
   */
  constructor(pf: PciFunction, segment: PciSegment, options: SriovOptions) {
    const total = options.totalVfs;
    const initial = options.initialVfs ?? total;
    const pageSizes = options.supportedPageSizes ?? 0x553;
    if (
      !Number.isInteger(total) ||
      total < 1 ||
      total > 0xffff ||
      !Number.isInteger(initial) ||
      initial < 0 ||
      initial > total
    ) {
      throw new SriovError(
        'INVALID_CONFIG',
        `TotalVFs ${total} / InitialVFs ${initial} out of range`,
      );
    }
    if ((pageSizes & 1) === 0)
      throw new SriovError('INVALID_CONFIG', 'Supported Page Sizes must include 4 KiB');
    this.pf = pf;
    this.segment = segment;
    this.options = options;
    const cs = pf.config;
    const at = (r: number) => this.offset + r;
    this.offset = pf.addExtendedCapability(ExtendedCapabilityId.SR_IOV, 1, SRIOV_CAPABILITY_LENGTH);
    cs.define({
      offset: at(SriovReg.CAPABILITIES),
      size: 4,
      value: options.ariCapableHierarchyPreserved
        ? SriovCapabilityBits.ARI_CAPABLE_HIERARCHY_PRESERVED
        : 0,
    });
    cs.define({
      offset: at(SriovReg.CONTROL),
      size: 2,
      writable:
        SriovControl.VF_ENABLE |
        SriovControl.VF_MSE |
        ((options.lowestPf ?? true) ? SriovControl.ARI_CAPABLE_HIERARCHY : 0),
    });
    cs.define({ offset: at(SriovReg.STATUS), size: 2, writeOneToClear: 0 });
    cs.define({ offset: at(SriovReg.INITIAL_VFS), size: 2, value: initial });
    cs.define({ offset: at(SriovReg.TOTAL_VFS), size: 2, value: total });
    cs.define({ offset: at(SriovReg.NUM_VFS), size: 2, writable: 0xffff });
    cs.define({
      offset: at(SriovReg.FUNCTION_DEPENDENCY_LINK),
      size: 1,
      value: options.functionDependencyLink ?? 0,
    });
    cs.define({ offset: at(SriovReg.FIRST_VF_OFFSET), size: 2 });
    cs.define({ offset: at(SriovReg.VF_STRIDE), size: 2 });
    cs.define({ offset: at(SriovReg.VF_DEVICE_ID), size: 2, value: options.vfDeviceId & 0xffff });
    cs.define({ offset: at(SriovReg.SUPPORTED_PAGE_SIZES), size: 4, value: pageSizes });
    cs.define({ offset: at(SriovReg.SYSTEM_PAGE_SIZE), size: 4, value: 1, writable: pageSizes });
    cs.define({ offset: at(SriovReg.VF_MIGRATION_STATE_ARRAY_OFFSET), size: 4 });
    this.vfBars = (options.vfBars ?? []).map((def) => {
      if (
        def.size < 16 ||
        !Number.isInteger(Math.log2(def.size)) ||
        (def.kind === 'memory64' && def.index === 5)
      ) {
        throw new SriovError('INVALID_CONFIG', `VF BAR${def.index} size ${def.size} is invalid`);
      }
      const bar = new Bar(cs, at(SriovReg.VF_BAR0) + 4 * def.index, { ...def, handler: EMPTY_BAR });
      bar.define();
      return { def, bar };
    });
    this.updateRouting();
    cs.onWrite(at(SriovReg.NUM_VFS), 2, () => this.updateRouting());
    cs.onWrite(at(SriovReg.CONTROL), 2, () => {
      this.updateRouting();
      this.sync();
    });
    cs.onWrite(at(SriovReg.SYSTEM_PAGE_SIZE), 4, () => this.updateBarMasks());
    cs.onWrite(at(SriovReg.VF_BAR0), 24, () => this.refreshVfDecode());
    pf.onReset(() => {
      this.updateBarMasks();
      this.updateRouting();
      this.sync();
    });
  }

  /** Current SR-IOV Control value. */
  get control(): number {
    return this.pf.config.read(this.offset + SriovReg.CONTROL, 2);
  }

  /** NumVFs as programmed. */
  get numVfs(): number {
    return this.pf.config.read(this.offset + SriovReg.NUM_VFS, 2);
  }

  /** System Page Size in bytes (the lowest set bit of the register, 4 KiB units). */
  get systemPageSize(): number {
    const v = this.pf.config.read(this.offset + SriovReg.SYSTEM_PAGE_SIZE, 4);
    return v === 0 ? 4096 : 4096 * 2 ** (31 - Math.clz32(v & -v));
  }

  /**
   * The routing ID VF `n` has (or would have): PF RID + First VF Offset + (n - 1) * VF Stride.
   *
   * @param n - VF number, 1-based
   * @returns the routing ID, or undefined past 0xFFFF or with the PF not placed
   */
  vfRoutingId(n: number): number | undefined {
    const rid = this.pf.routingId;
    if (rid === undefined) return undefined;
    const cs = this.pf.config;
    const offset = cs.read(this.offset + SriovReg.FIRST_VF_OFFSET, 2);
    const stride = cs.read(this.offset + SriovReg.VF_STRIDE, 2);
    const vfRid = rid + offset + (n - 1) * stride;
    return vfRid <= 0xffff ? vfRid : undefined;
  }

  /**
   * The live VFs by VF number (1-based).
   *
   * @returns a snapshot map
   */
  virtualFunctions(): ReadonlyMap<number, PciFunction> {
    return new Map(this.vfs);
  }

  /**
   * The per-VF aperture of VF BAR `index`: max(declared size, System Page Size) (§9.3.3.14).
   *
   * @param index - VF BAR number
   * @returns bytes per VF, or 0 when not implemented
   */
  vfBarSize(index: number): number {
    const b = this.vfBars.find((v) => v.def.index === index);
    return b === undefined ? 0 : Math.max(b.def.size, this.systemPageSize);
  }

  private updateRouting(): void {
    const cs = this.pf.config;
    const ari = (this.control & SriovControl.ARI_CAPABLE_HIERARCHY) !== 0;
    const r =
      typeof this.options.routing === 'function'
        ? this.options.routing(this.numVfs, ari)
        : this.options.routing;
    cs.set(this.offset + SriovReg.FIRST_VF_OFFSET, 2, r.firstVfOffset & 0xffff);
    cs.set(this.offset + SriovReg.VF_STRIDE, 2, r.vfStride & 0xffff);
  }

  /** Re-derives the VF BAR RW masks from the System Page Size. */
  private updateBarMasks(): void {
    const cs = this.pf.config;
    for (const { def, bar } of this.vfBars) {
      const size = this.vfBarSize(def.index);
      const low = size >= TWO_32 ? 0 : ~(size - 1) & ~0xf;
      cs.setWritable(bar.offset, 4, low >>> 0);
      cs.set(bar.offset, 4, (cs.read(bar.offset, 4) & low) | bar.flags);
      if (def.kind === 'memory64') {
        const high = size <= TWO_32 ? 0xffff_ffff : ~(size / TWO_32 - 1);
        cs.setWritable(bar.offset + 4, 4, high >>> 0);
        cs.set(bar.offset + 4, 4, cs.read(bar.offset + 4, 4) & high);
      }
    }
    this.refreshVfDecode();
  }

  /** Creates or removes VFs to follow VF Enable. */
  private sync(): void {
    const enabled = (this.control & SriovControl.VF_ENABLE) !== 0;
    // NumVFs may change only while VF Enable is Clear (§9.3.3.7); later writes are ignored.
    this.pf.config.setWritable(this.offset + SriovReg.NUM_VFS, 2, enabled ? 0 : 0xffff);
    if (enabled && this.enabledCount === 0 && this.vfs.size === 0) this.createVfs();
    else if (!enabled && this.vfs.size > 0) this.removeVfs();
    else if (!enabled) this.enabledCount = 0;
    this.refreshVfDecode();
  }

  private createVfs(): void {
    const n = this.numVfs;
    // NumVFs above TotalVFs is undefined by the spec; no VF is created.
    this.enabledCount = n;
    if (n === 0 || n > this.options.totalVfs || this.pf.routingId === undefined) return;
    for (let k = 1; k <= n; k++) {
      const rid = this.vfRoutingId(k);
      if (rid === undefined || this.segment.functionAt(rid) !== undefined) continue;
      const bars: BarDefinition[] = this.vfBars.map(({ def }) => ({
        ...def,
        handler: this.options.vfHandler?.(k, def.index) ?? EMPTY_BAR,
      }));
      const vf = createVirtualFunction(this.options.vf, bars, (self) => this.decodeVf(self, k));
      this.options.setupVf?.(vf, k);
      this.vfs.set(k, vf);
      this.segment.hotAdd(rid, vf);
    }
  }

  private removeVfs(): void {
    for (const [k, vf] of this.vfs) {
      const rid = vf.routingId;
      if (rid !== undefined && this.segment.functionAt(rid) === vf) this.segment.remove(rid);
      this.vfs.delete(k);
    }
    this.enabledCount = 0;
  }

  private refreshVfDecode(): void {
    for (const vf of this.vfs.values()) vf.refreshDecode();
  }

  /** Where VF `n`'s BARs decode: VF MSE set, base + (n - 1) * aperture non-zero and below 2^52. */
  private decodeVf(vf: PciFunction, n: number): DecodedBar[] {
    if ((this.control & SriovControl.VF_MSE) === 0) return [];
    const out: DecodedBar[] = [];
    for (const { def, bar } of this.vfBars) {
      const base = bar.address;
      const size = this.vfBarSize(def.index);
      if (base === undefined || base === 0) continue;
      const at = base + (n - 1) * size;
      if (at + size > 2 ** 52) continue;
      out.push({
        index: def.index,
        kind: def.kind,
        base: at,
        size,
        handler: vf.barHandler(def.index),
      });
    }
    return out;
  }

  /** A short description for logs. */
  toString(): string {
    const rid = this.pf.routingId;
    return `SR-IOV PF ${rid === undefined ? '(unplaced)' : formatRoutingId(rid)} with ${this.vfs.size} VFs`;
  }
}
