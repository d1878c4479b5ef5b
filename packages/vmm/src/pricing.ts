// Simulated time of one vCPU's work, priced from the cost profile only: every figure comes from
// @vmkit/sim's CostModel, none from this package.
import type { CostModel } from '@vmkit/sim';
import { exitKindOf } from './exit-log.js';
import type { Vcpu } from './vcpu.js';

/**
 * The simulated cycles of a vCPU's work so far: its instructions (priced as the profile's
 * simple integer class: the interpreter does not classify the instructions it retires), the
 * memory references of its page walks (each priced as a reference that misses the TLB and the
 * paging-structure caches), and, when virtualized, each VM exit (round trip plus the handler of
 * its kind; reasons without a handler kind cost the round trip) and each injected interrupt.
 *
 * @param model - the cost model
 * @param vcpu - the vCPU
 * @param walkReferences - its page-walk references
 * @returns cycles
 */
export function priceVcpu(model: CostModel, vcpu: Vcpu, walkReferences: number): number {
  const profile = model.profile;
  let cycles =
    model.instructions('alu', vcpu.cpu.instructions) +
    walkReferences * profile.memory.pageWalkReference.value;
  if (!vcpu.virtualized) return cycles;
  for (const [reason, n] of vcpu.exits.byReason) {
    const kind = exitKindOf(reason);
    cycles +=
      kind === undefined ? profile.vmexit.roundTrip.value * n : model.cost(`vmexit.${kind}`) * n;
  }
  return cycles + model.cost('interrupt.inject') * vcpu.interrupts;
}
