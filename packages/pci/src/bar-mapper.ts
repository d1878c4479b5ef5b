import { GuestMemoryError, type MmioRegionSpec } from '@vmkit/memory';
import type { DecodedBar, PciFunction } from './pci-function.js';

/**
 * The part of a guest-physical address space a BAR mapper needs: `GuestPhysicalMemory` from
 * `@vmkit/memory` satisfies it.
 */
export interface MmioSpace {
  /** Adds an MMIO range; throws `GuestMemoryError` when it overlaps another region. */
  addMmio(spec: MmioRegionSpec): void;
  /** Removes a region by name. */
  removeRegion(name: string): void;
}

/** A memory BAR that could not be mapped because its range overlapped another region. */
export interface BarConflict {
  /** BAR number. */
  readonly index: number;
  /** The base software programmed. */
  readonly base: number;
  /** The BAR's size. */
  readonly size: number;
}

/** The live link between a function's memory BARs and an address space. */
export interface BarMapping {
  /** Memory BARs currently unmapped because their programmed range overlapped another region. */
  readonly conflicts: readonly BarConflict[];
  /** Unmaps every BAR and stops following the function. */
  detach(): void;
}

/**
 * Keeps a function's decoded memory BARs mapped as MMIO regions named `<prefix>.bar<n>`: every
 * change of Command or a BAR register removes the old region and adds the new one. A range the
 * guest programs over RAM or another device is not mapped (the address decode would be
 * ambiguous) and is listed in {@link BarMapping.conflicts} instead of throwing, because the
 * value came from the guest. I/O BARs are left to the VMM's port bus ({@link PciFunction.decodedBars}).
 *
 * @param fn - the function
 * @param space - the guest-physical address space
 * @param prefix - region-name prefix, unique per function (e.g. its routing ID)
 * @returns the mapping, to inspect conflicts or detach
 */
export function mapBars(fn: PciFunction, space: MmioSpace, prefix: string): BarMapping {
  const mapped = new Map<number, string>();
  let conflicts: BarConflict[] = [];
  const sync = (bars: readonly DecodedBar[]) => {
    for (const name of mapped.values()) space.removeRegion(name);
    mapped.clear();
    conflicts = [];
    for (const bar of bars) {
      if (bar.kind === 'io') continue;
      const name = `${prefix}.bar${bar.index}`;
      try {
        space.addMmio({ name, base: bar.base, size: bar.size, handler: bar.handler });
        mapped.set(bar.index, name);
      } catch (e) {
        if (!(e instanceof GuestMemoryError)) throw e;
        conflicts.push({ index: bar.index, base: bar.base, size: bar.size });
      }
    }
  };
  const unsubscribe = fn.onDecodeChange(sync);
  sync(fn.decodedBars());
  return {
    get conflicts() {
      return conflicts;
    },
    detach() {
      unsubscribe();
      sync([]);
    },
  };
}
