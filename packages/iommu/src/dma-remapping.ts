import type { GuestMemory } from '@vmkit/memory';
import { type DecodedContext, lookupContext, type RemappingCapabilities } from './context.js';
import { DmaFaultError, IommuError } from './errors.js';
import { FaultLog } from './fault-log.js';
import { type FaultReason, FaultReason as Reason } from './fault-reasons.js';
import { Iotlb, type IotlbInvalidation } from './iotlb.js';
import { walkSecondLevel } from './second-level.js';

/** How a remapping unit is built: its capabilities and where its tables live. */
export interface DmaRemappingOptions {
  /** Memory holding root, context and page tables (the host's view). */
  readonly tables: GuestMemory;
  /** Host address width, 32-52 (default 46). */
  readonly haw?: number;
  /** Maximum guest address width CAP.MGAW (default 48). */
  readonly mgaw?: number;
  /** Supported AGAWs, CAP.SAGAW (default [39, 48]). */
  readonly sagaw?: readonly (39 | 48 | 57)[];
  /** Pass-through support, ECAP.PT (default true). */
  readonly passThrough?: boolean;
  /** Second-level superpage sizes, CAP.SLLPS (default both 2 MiB and 1 GiB). */
  readonly superpages?: readonly ('2M' | '1G')[];
  /** Fault recording registers, CAP.NFR + 1 (default 8). */
  readonly faultRecords?: number;
  /** IOTLB capacity in entries (default 4096). */
  readonly iotlbEntries?: number;
}

/** A context-cache invalidation (VT-d §6.5.1.1, Context Command Register CIRG field). */
export type ContextInvalidation =
  | {
      /** Every entry. */
      readonly granularity: 'global';
    }
  | {
      /** Entries of one domain. */
      readonly granularity: 'domain';
      /** The domain. */
      readonly domainId: number;
    }
  | {
      /** Entries of one device (or function group). */
      readonly granularity: 'device';
      /** The domain the device was in. */
      readonly domainId: number;
      /** The device's requester ID. */
      readonly sourceId: number;
      /** FM: 0 compares all 16 bits; 1, 2, 3 ignore the low 1, 2, 3 function bits. */
      readonly functionMask?: 0 | 1 | 2 | 3;
    };

/** A translated address, or the reason the request was blocked (never thrown). */
export type TranslateResult =
  | {
      /** Translated. */
      readonly ok: true;
      /** The host address. */
      readonly address: number;
      /** The requester's domain (undefined with translation disabled). */
      readonly domainId: number | undefined;
    }
  | {
      /** Blocked. */
      readonly ok: false;
      /** The fault reason. */
      readonly reason: FaultReason;
    };

/**
 * VT-d DMA remapping for untranslated requests (VT-d §3): the root table (RTADDR), a context
 * cache, second-level walks, the IOTLB and primary fault logging. `translate` is what every DMA
 * of a device goes through; `Iommu.dmaMemory` wraps it into a `GuestMemory` for a device model.
 *
 * Translation Enable off (the reset state, GSTS.TES = 0) lets requests through untranslated, as
 * the spec says; a VMM enables it once the tables are in place. Changing tables without the
 * matching context-cache and IOTLB invalidation leaves stale translations in use, exactly as on
 * hardware (VT-d §6.5).
 */
export class DmaRemapping {
  /** The capabilities this unit reports. */
  readonly caps: RemappingCapabilities;
  /** The primary fault log (Fault Recording Registers, Fault Status). */
  readonly faults: FaultLog;
  /** The IOTLB. */
  readonly iotlb: Iotlb;
  /** Paging-entry reads made by walks so far. */
  walkReferences = 0;
  private readonly tables: GuestMemory;
  private rootTable: number | undefined;
  private enabled = false;
  private readonly contextCache = new Map<number, DecodedContext>();
  /** Input-address limit 2^min(MGAW, AGAW) per cached context. */
  private readonly limits = new WeakMap<DecodedContext, number>();

  /** @param options - table memory and capabilities */
  constructor(options: DmaRemappingOptions) {
    const haw = options.haw ?? 46;
    const mgaw = options.mgaw ?? 48;
    if (
      !Number.isInteger(haw) ||
      haw < 32 ||
      haw > 52 ||
      !Number.isInteger(mgaw) ||
      mgaw < 30 ||
      mgaw > 57
    ) {
      throw new IommuError('INVALID_CONFIG', `HAW ${haw} / MGAW ${mgaw} out of range`);
    }
    const superpages = options.superpages ?? ['2M', '1G'];
    this.caps = {
      haw,
      mgaw,
      sagaw: options.sagaw ?? [39, 48],
      passThrough: options.passThrough ?? true,
      pages2M: superpages.includes('2M'),
      pages1G: superpages.includes('1G'),
    };
    this.tables = options.tables;
    this.faults = new FaultLog(options.faultRecords ?? 8);
    this.iotlb = new Iotlb(options.iotlbEntries ?? 4096);
  }

  /**
   * Sets the Root Table Address (RTADDR + GCMD.SRTP). Software must then invalidate the context
   * cache and IOTLB globally (VT-d §6.5).
   *
   * @param address - 4 KiB-aligned host address below 2^HAW
   */
  setRootTable(address: number): void {
    if (
      !Number.isSafeInteger(address) ||
      address < 0 ||
      address % 4096 !== 0 ||
      address >= 2 ** this.caps.haw
    ) {
      throw new IommuError(
        'INVALID_ADDRESS',
        `root table address ${address} is not 4 KiB-aligned below 2^HAW`,
      );
    }
    this.rootTable = address;
  }

  /** GCMD.TE: turns DMA remapping on or off. */
  set translationEnabled(on: boolean) {
    this.enabled = on;
  }

  /** GSTS.TES: whether DMA remapping is on. */
  get translationEnabled(): boolean {
    return this.enabled;
  }

  /**
   * Invalidates cached context entries.
   *
   * @param req - global, domain-selective or device-selective
   */
  invalidateContextCache(req: ContextInvalidation): void {
    if (req.granularity === 'global') {
      this.contextCache.clear();
      return;
    }
    for (const [sid, ctx] of this.contextCache) {
      if (req.granularity === 'domain' && ctx.domainId !== req.domainId) continue;
      if (req.granularity === 'device') {
        const ignore = (1 << (req.functionMask ?? 0)) - 1;
        if ((sid & ~ignore) !== (req.sourceId & ~ignore)) continue;
      }
      this.contextCache.delete(sid);
    }
  }

  /**
   * Invalidates IOTLB entries.
   *
   * @param req - global, domain-selective or page-selective
   */
  invalidateIotlb(req: IotlbInvalidation): void {
    this.iotlb.invalidate(req);
  }

  /**
   * Translates one untranslated request without throwing; faults are recorded (unless the
   * context's FPD says otherwise) and reported in the result.
   *
   * @param sourceId - requester ID
   * @param iova - input address
   * @param write - write (true) or read (false)
   * @returns the host address or the fault reason
   */
  translate(sourceId: number, iova: number, write: boolean): TranslateResult {
    const r = this.resolve(sourceId, iova, write, true);
    if (r < 0) return { ok: false, reason: -r as FaultReason };
    return { ok: true, address: r, domainId: this.contextCache.get(sourceId)?.domainId };
  }

  /**
   * The hot path: translates or throws {@link DmaFaultError} after recording the fault.
   *
   * @param sourceId - requester ID
   * @param iova - input address
   * @param write - write or read
   * @param size - request length, for the error
   * @returns the host address
   */
  translateOrThrow(sourceId: number, iova: number, write: boolean, size: number): number {
    const r = this.resolve(sourceId, iova, write, true);
    if (r < 0) throw new DmaFaultError(-r as FaultReason, sourceId, iova, size, write);
    return r;
  }

  /**
   * Translates like {@link translate} but records nothing: for `contains` checks.
   *
   * @param sourceId - requester ID
   * @param iova - input address
   * @param write - write or read
   * @returns the host address, or -(fault reason)
   */
  probe(sourceId: number, iova: number, write: boolean): number {
    return this.resolve(sourceId, iova, write, false);
  }

  /** Returns the host address, or the negated fault reason. */
  private resolve(sid: number, iova: number, write: boolean, record: boolean): number {
    if (!this.enabled) return iova;
    let ctx = this.contextCache.get(sid);
    if (ctx === undefined) {
      if (this.rootTable === undefined)
        return this.fault(sid, iova, write, Reason.ROOT_NOT_PRESENT, false, record);
      const found = lookupContext(this.tables, this.rootTable, sid, this.caps);
      if (!found.ok)
        return this.fault(sid, iova, write, found.reason, found.faultProcessingDisable, record);
      ctx = found.context;
      this.contextCache.set(sid, ctx);
    }
    if (ctx.passThrough) return iova;
    // Fault 04h: above 2^X - 1 where X = min(MGAW, AGAW) (VT-d Appendix A).
    let limit = this.limits.get(ctx);
    if (limit === undefined) {
      limit = 2 ** Math.min(this.caps.mgaw, ctx.agaw);
      this.limits.set(ctx, limit);
    }
    if (iova >= limit) {
      return this.fault(
        sid,
        iova,
        write,
        Reason.ADDRESS_BEYOND_AGAW,
        ctx.faultProcessingDisable,
        record,
      );
    }
    const hit = this.iotlb.lookup(ctx.domainId, iova);
    if (hit !== undefined && (write ? hit.write : hit.read)) {
      return hit.pageBase + (iova % hit.pageSize);
    }
    const walk = walkSecondLevel(this.tables, ctx.pageTable, ctx.levels, iova, write, this.caps);
    if ('fault' in walk) {
      return this.fault(sid, iova, write, walk.fault, ctx.faultProcessingDisable, record);
    }
    this.walkReferences += walk.references;
    this.iotlb.insert(ctx.domainId, iova, walk);
    return walk.pageBase + (iova % walk.pageSize);
  }

  private fault(
    sid: number,
    iova: number,
    write: boolean,
    reason: FaultReason,
    fpd: boolean,
    record: boolean,
  ): number {
    if (record && !fpd) {
      this.faults.record({
        sourceId: sid,
        reason,
        read: !write,
        faultInfo: Math.floor(iova / 4096) * 4096,
      });
    }
    return -reason;
  }
}
