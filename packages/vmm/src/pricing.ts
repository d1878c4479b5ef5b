// Simulated time of one vCPU's work, priced from the cost profile only: every figure comes from
// @vmkit/sim's CostModel, none from this package.
import type { Cpu, FastStringCounts, RetiredClass } from '@vmkit/cpu';
import { type CostModel, type InstructionClass, MEMORY_LEVELS, type ShadowKind } from '@vmkit/sim';
import { exitKindOf } from './exit-log.js';
import type { Vcpu } from './vcpu.js';

/**
 * The simulated cycles of a vCPU's work so far: the instructions its CPU retired, by class
 * ({@link instructionCycles}), the
 * memory references of its page walks (those that miss the TLB and the paging-structure caches,
 * each priced at `memory.latency` of the cache level, or DRAM, that served it in the vCPU's
 * walk-cache model), and, when virtualized, each VM exit (round trip plus the handler of
 * its kind; reasons without a handler kind cost the round trip), each injected interrupt, and
 * under shadow paging the shadow work of each fault and each guest CR3 load, plus the cycles
 * it waited for the shadow lock.
 *
 * @param model - the cost model
 * @param vcpu - the vCPU
 * @param walkReferences - its page-walk references by the level that served them, indexed as
 *   `MEMORY_LEVELS` (l1, l2, l3, dram): the vCPU's `translation.walkCaches.served`
 * @returns cycles
 */
export function priceVcpu(model: CostModel, vcpu: Vcpu, walkReferences: ArrayLike<number>): number {
  const profile = model.profile;
  let cycles = instructionCycles(model, vcpu.cpu) + walkReferenceCycles(model, walkReferences);
  if (!vcpu.virtualized) return cycles;
  for (const [reason, n] of vcpu.exits.byReason) {
    const kind = exitKindOf(reason);
    cycles +=
      kind === undefined ? profile.vmexit.roundTrip.value * n : model.cost(`vmexit.${kind}`) * n;
  }
  cycles += model.cost('interrupt.inject') * vcpu.interrupts;
  for (let kind = 0; kind < vcpu.shadowFaults.length; kind++) {
    const work = SHADOW_WORK[kind];
    if (work !== undefined) cycles += model.cost(`shadow.${work}`) * vcpu.shadowFaults[kind]!;
  }
  cycles += model.cost('shadow.cr3-switch') * vcpu.cr3Loads;
  // Time spent waiting for the shadow lock other vCPUs held (SimLock, seed 003 §V.A).
  return cycles + vcpu.lockWait;
}

/** Each page-walk reference at the latency of the level that served it (l1, l2, l3, dram). */
function walkReferenceCycles(model: CostModel, byLevel: ArrayLike<number>): number {
  let cycles = 0;
  for (let i = 0; i < MEMORY_LEVELS.length; i++)
    cycles += model.memoryReferences(MEMORY_LEVELS[i]!, byLevel[i]!);
  return cycles;
}

/**
 * The cost model's shadow work by `@vmkit/shadow-paging`'s `ShadowFaultKind` (index): a guest
 * fault is reflected, a missing or read-only-for-dirty-tracking entry is (re)filled, a guest
 * page-table store is emulated; an MMIO fault costs only its exit.
 */
export const SHADOW_WORK: readonly (ShadowKind | undefined)[] = [
  'guest-fault',
  'fill',
  'fill',
  'pte-write',
  undefined,
];

/**
 * The profile's instruction class each class the CPU counts is priced as: `other` as `alu`,
 * the others as their own. `string` elements go element by element at `alu` (CMPS, SCAS,
 * LODS, a MOVS/STOS without REP, a REP with RCX = 0), except the elements of REP MOVS/STOS,
 * which {@link fastStringCycles} prices by what they move instead.
 */
export const INSTRUCTION_PRICE: Readonly<Record<RetiredClass, InstructionClass>> = {
  other: 'alu',
  multiply: 'mul',
  divide: 'div',
  branch: 'branch',
  string: 'alu',
  pause: 'pause',
};

/**
 * The simulated cycles of the instructions a CPU retired: each class at its profile figure
 * ({@link INSTRUCTION_PRICE}), plus `branch-mispredict` for every misprediction of the CPU's
 * branch-predictor model, on top of the branch itself; the elements of REP MOVS/STOS are taken
 * out of the `string` class and priced by {@link fastStringCycles} instead.
 *
 * @param model - the cost model
 * @param cpu - the vCPU's CPU
 * @returns cycles
 */
export function instructionCycles(model: CostModel, cpu: Cpu): number {
  const fast = cpu.fastStrings;
  let cycles = model.instructions('branch-mispredict', cpu.predictor.mispredictions);
  for (const [cls, n] of Object.entries(cpu.retiredByClass) as [RetiredClass, number][]) {
    const elementwise = cls === 'string' ? n - fast.elements : n;
    cycles += model.instructions(INSTRUCTION_PRICE[cls], elementwise);
  }
  return cycles + fastStringCycles(model, fast);
}

/**
 * The simulated cycles of REP MOVS/STOS work, as a core runs fast strings (Intel Optimization
 * Reference Manual, "REP String Enhancement": a start-up overhead, then a data-transfer rate):
 * `instructions.string-start` for every start, and the bytes at the profile's copy rate
 * (`copy(bytes)`: `ceil(bytes / copy.bytesPerCycle)`), whatever the element size.
 *
 * @param model - the cost model
 * @param counts - a CPU's `cpu.fastStrings` (or the difference of two readings)
 * @returns cycles
 * @example
 * ```ts
 * fastStringCycles(new CostModel(defaultProfile), { starts: 1, elements: 4096, bytes: 4096 });
 * // 40 + 4096 / 8 = 552
 * ```
 */
export function fastStringCycles(model: CostModel, counts: FastStringCounts): number {
  return model.instructions('string-start', counts.starts) + model.copy(counts.bytes);
}
