// The seam through which a model of the memory hierarchy (e.g. @vmkit/sim's CacheHierarchy)
// sees the memory references of page walks, as the counters count them.

/**
 * Receives one memory reference of a page walk: a paging-structure entry read, or an
 * accessed/dirty-flag write to one, in the order the walk made them. An {@link Mmu} calls it
 * after each walk, once per reference its `stats.reads` / `stats.writes` count, so the number of
 * calls always equals those counters' growth; `NestedMmu` in `@vmkit/ept` calls it once per
 * reference its `stats.references` counts.
 *
 * @param address - the physical address of the entry: for an `Mmu` the address in the memory
 *   it walks (with a second stage, the guest-physical address the walker asked for); for
 *   `@vmkit/ept`'s `NestedMmu` the host-physical address
 * @param info - the paging-structure level in bits 2:0 (1 = PTE .. 5 = PML5E) and
 *   `REFERENCE_WRITE` (bit 3) for an A/D write; other bits are the caller's (see each MMU)
 * @example
 * ```ts
 * const caches = CacheHierarchy.forWalks(defaultProfile); // @vmkit/sim
 * mmu.walkObserver = (address) => caches.access(address);
 * ```
 */
export type WalkObserver = (address: number, info: number) => void;
