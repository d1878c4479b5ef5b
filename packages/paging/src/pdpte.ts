import { GuestMemoryError } from '@vmkit/memory';
import { PDPTE_PAE, PTE } from '@vmkit/x86';
import type { PageTableMemory } from './page-table-memory.js';
import { WalkOutcome } from './result.js';
import {
  SECOND_STAGE_PAGING_STRUCTURE,
  SECOND_STAGE_READ,
  type SecondStage,
} from './second-stage.js';
import type { PagingState } from './state.js';

/**
 * Loads the four PDPTE registers of PAE paging from the PDPT at CR3[31:5], as MOV to CR3 (and
 * the MOV to CR0/CR4 that enter PAE paging) do (SDM Vol. 3A §4.4.1). A present PDPTE with a
 * reserved bit set — bits 2:1, 8:5 or 63:MAXPHYADDR (Table 4-8) — makes the load fail with
 * #GP(0), and the registers keep their old values.
 *
 * @param state - the processor state; its CR3 is used and its PDPTE registers are loaded
 * @param memory - the memory holding the PDPT
 * @param secondStage - a second stage to translate the PDPT address, if any
 * @returns `WalkOutcome.OK`, `GENERAL_PROTECTION` on a reserved bit,
 *   `SECOND_STAGE_FAULT` or `BAD_PHYSICAL_ADDRESS`
 * @example
 * ```ts
 * state.setCr3(0x1000n);
 * if (loadPdptes(state, memory) === WalkOutcome.GENERAL_PROTECTION) injectGp(0);
 * ```
 */
export function loadPdptes(
  state: PagingState,
  memory: PageTableMemory,
  secondStage?: SecondStage,
): number {
  const base = (state.cr3Lo & 0xffff_ffe0) >>> 0;
  const lo = new Uint32Array(4);
  const hi = new Uint32Array(4);
  const reservedHi = ~state.addressHiMask >>> 0;
  for (let i = 0; i < 4; i++) {
    const gpa = base + i * 8;
    let at = gpa;
    if (secondStage !== undefined) {
      at = secondStage.translate(gpa, SECOND_STAGE_READ | SECOND_STAGE_PAGING_STRUCTURE, 0, 0);
      if (at < 0) return WalkOutcome.SECOND_STAGE_FAULT;
    }
    try {
      lo[i] = memory.read32(at);
      hi[i] = memory.read32(at + 4);
    } catch (e) {
      if (e instanceof GuestMemoryError) return WalkOutcome.BAD_PHYSICAL_ADDRESS;
      throw e;
    }
    if (
      (lo[i]! & PTE.P) !== 0 &&
      ((lo[i]! & PDPTE_PAE.RESERVED_LO) !== 0 || (hi[i]! & reservedHi) !== 0)
    ) {
      return WalkOutcome.GENERAL_PROTECTION;
    }
  }
  state.pdpteLo.set(lo);
  state.pdpteHi.set(hi);
  return WalkOutcome.OK;
}
