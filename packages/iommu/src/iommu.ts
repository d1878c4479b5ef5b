import type { GuestMemory } from '@vmkit/memory';
import { DmaMemory } from './dma-memory.js';
import { DmaRemapping, type DmaRemappingOptions } from './dma-remapping.js';
import { IommuError } from './errors.js';
import { InterruptRemapping, type RemappedInterruptSink } from './interrupt-remapping.js';

/** Options of a whole VT-d remapping unit. */
export interface IommuOptions extends DmaRemappingOptions {
  /** Memory that translated DMA lands in (guest RAM as the host holds it). */
  readonly memory: GuestMemory;
  /** Where remapped interrupts go (default: dropped until `interrupts.connect`). */
  readonly interruptSink?: RemappedInterruptSink;
}

/**
 * One VT-d DMA-remapping hardware unit: DMA remapping ({@link DmaRemapping}), interrupt
 * remapping ({@link InterruptRemapping}) and the fault log they share. A VMM hands each device
 * model `dmaMemory(requesterId)` instead of guest memory, and routes the device's MSIs to
 * `interrupts.deliverMsi`, so neither DMA nor interrupts can bypass remapping.
 *
 * @example
 * ```ts
 * const iommu = new Iommu({ tables: host, memory: guestRam });
 * iommu.dma.setRootTable(ctx.rootTable);
 * iommu.dma.translationEnabled = true;
 * const nicView = iommu.dmaMemory(0x0310); // what the NIC model gets
 * ```
 */
export class Iommu {
  /** DMA remapping: root/context tables, second-level walks, IOTLB, faults. */
  readonly dma: DmaRemapping;
  /** Interrupt remapping: IRTEs, source-ID validation. */
  readonly interrupts: InterruptRemapping;
  private readonly memory: GuestMemory;
  private readonly views = new Map<number, DmaMemory>();

  /** @param options - table memory, target memory, capabilities, interrupt sink */
  constructor(options: IommuOptions) {
    this.dma = new DmaRemapping(options);
    this.memory = options.memory;
    this.interrupts = new InterruptRemapping(
      options.tables,
      this.dma.faults,
      options.interruptSink ?? { deliverInterrupt: () => {} },
    );
  }

  /**
   * The memory a device with requester ID `sourceId` may use for DMA: every access is translated
   * (or blocked and faulted) by this unit.
   *
   * @param sourceId - the device's routing ID
   * @returns its DMA view (one per requester, reused)
   */
  dmaMemory(sourceId: number): DmaMemory {
    if (!Number.isInteger(sourceId) || sourceId < 0 || sourceId > 0xffff) {
      throw new IommuError('INVALID_SOURCE_ID', `requester ID ${sourceId} is not 16 bits`);
    }
    let v = this.views.get(sourceId);
    if (v === undefined) {
      v = new DmaMemory(this.dma, this.memory, sourceId);
      this.views.set(sourceId, v);
    }
    return v;
  }
}
