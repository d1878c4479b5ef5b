import type { GuestMemory } from '@vmkit/memory';

/**
 * What the walker needs from memory: 32-bit reads of paging-structure entries (each 64-bit
 * entry as two halves) and byte writes for the accessed and dirty flags, which live in an
 * entry's lowest byte. Any `GuestMemory` of `@vmkit/memory` qualifies; so does a decorator
 * that, say, counts references or routes them through an IOMMU. An access outside memory
 * should throw `GuestMemoryError`, which the walker turns into
 * `WalkOutcome.BAD_PHYSICAL_ADDRESS`.
 *
 * @example
 * ```ts
 * const counting: PageTableMemory = {
 *   read32: (gpa) => {
 *     reads++;
 *     return mem.read32(gpa);
 *   },
 *   write8: (gpa, value) => mem.write8(gpa, value),
 * };
 * ```
 */
export type PageTableMemory = Pick<GuestMemory, 'read32' | 'write8'>;
