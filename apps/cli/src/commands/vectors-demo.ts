import {
  ApicBus,
  type Binding,
  HostInterruptRouter,
  InterruptError,
  VectorAllocator,
  type VectoringPolicy,
} from '@vmkit/interrupts';
import type { Output } from '../output.js';

/** Options of `vmkit demo vectors`. */
export interface VectorsDemoOptions {
  /** Physical CPUs of the host. */
  readonly pcpus: number;
}

/** One vectoring policy and what it allows. */
export interface VectorsRow {
  /** The policy. */
  readonly policy: VectoringPolicy;
  /** VFs (3 MSI-X vectors each) bound before a vector allocation failed with `EXHAUSTED`. */
  readonly vfLimit: number;
  /** Level-triggered devices in the EOI scenario (one per PCPU, at most the 24 I/O APIC pins). */
  readonly levelDevices: number;
  /** Guest interrupts injected in the EOI scenario. */
  readonly injected: number;
  /** Of those, redundant ones: the guest had nothing to service (`RouterStats.redundant`). */
  readonly redundant: number;
}

/** The result of `vmkit demo vectors`. */
export interface VectorsDemoReport {
  /** PCPU count. */
  readonly pcpus: number;
  /** Vectors the allocator hands out per PCPU (0x20-0xE7). */
  readonly vectorsPerPcpu: number;
  /** One row per policy: global, per-PCPU, hybrid. */
  readonly rows: readonly VectorsRow[];
}

/** Seed 003 §IV.A: an 82599 VF uses 3 MSI-X interrupt sources. */
export const VECTORS_PER_VF = 3;
/** Highest PCPU count: APIC IDs 0-254 fit an 8-bit physical MSI destination (0xFF broadcasts). */
export const MAX_PCPUS = 255;

const POLICIES: readonly VectoringPolicy[] = ['global', 'per-pcpu', 'hybrid'];

/**
 * Binds VFs of 3 MSI-X vectors each, VF n directed at PCPU n mod `pcpus`, until the allocator
 * reports `EXHAUSTED`.
 *
 * @param policy - the vectoring policy
 * @param pcpus - PCPU count
 * @returns the number of VFs that were bound completely
 */
export function vfLimit(policy: VectoringPolicy, pcpus: number): number {
  const bus = new ApicBus({ cpus: pcpus, ioApicPins: 0 });
  const router = new HostInterruptRouter(bus, new VectorAllocator({ pcpus, policy }));
  for (let vf = 0; ; vf++) {
    try {
      for (let k = 0; k < VECTORS_PER_VF; k++) {
        router.bindMsi({ vm: vf, vcpu: 0, vector: 0x30 + k }, vf % pcpus);
      }
    } catch (e) {
      if (e instanceof InterruptError && e.code === 'EXHAUSTED') return vf;
      throw e;
    }
  }
}

/**
 * The level-triggered EOI scenario: one I/O APIC pin per PCPU (at most 24), pin i bound to guest
 * i + 1 on PCPU i. All devices raise their line; then each guest in turn services its device
 * (its line drops) and EOIs. Every guest EOIs whatever it is injected, as a real handler that
 * finds nothing to do would. The host EOI names only a vector (SDM Vol. 3A §11.8.5), so under
 * per-PCPU vectoring, where all pins share one vector, it re-arms every other pin still asserted.
 *
 * @param policy - the vectoring policy
 * @param pcpus - PCPU count
 * @returns devices, injections and redundant injections
 */
export function levelEoiScenario(
  policy: VectoringPolicy,
  pcpus: number,
): { levelDevices: number; injected: number; redundant: number } {
  const bus = new ApicBus({ cpus: pcpus });
  const io = bus.ioApic!;
  const router = new HostInterruptRouter(bus, new VectorAllocator({ pcpus, policy }));
  const devices = Math.min(pcpus, io.pins);
  const bindings: Binding[] = [];
  for (let i = 0; i < devices; i++) {
    bindings.push(router.bindIoApicPin(i, { vm: i + 1, vcpu: 0, vector: 0x60 + (i % 0x80) }, i));
  }
  const serviced = new Set<number>();
  const settle = () => {
    // Each round either injects something or ends; an interrupt can only re-fire while some
    // line is still asserted, so a bounded number of rounds suffices.
    for (let round = 0; round < 4 * devices + 4; round++) {
      let n = 0;
      for (let p = 0; p < pcpus; p++) n += router.dispatch(p);
      for (const i of serviced) router.guestEoi(bindings[i]!);
      if (n === 0) return;
    }
  };
  for (let i = 0; i < devices; i++) io.setLine(i, true);
  settle();
  for (let i = 0; i < devices; i++) {
    io.setLine(i, false);
    serviced.add(i);
    router.guestEoi(bindings[i]!);
    settle();
  }
  return {
    levelDevices: devices,
    injected: router.stats.injected,
    redundant: router.stats.redundant,
  };
}

/**
 * Seed 003's interrupt-vector limit: VFs that fit under global, per-PCPU and hybrid vectoring,
 * and the redundant level-triggered interrupts per-PCPU vectoring causes.
 *
 * @param options - the PCPU count
 * @param out - where to report progress
 * @returns the figures
 */
export function runVectorsDemo(options: VectorsDemoOptions, out: Output): VectorsDemoReport {
  const rows = POLICIES.map((policy, i) => {
    const row = {
      policy,
      vfLimit: vfLimit(policy, options.pcpus),
      ...levelEoiScenario(policy, options.pcpus),
    };
    out.progress('policies', i + 1, POLICIES.length);
    return row;
  });
  const vectorsPerPcpu = new VectorAllocator({ pcpus: 1, policy: 'global' }).capacity({
    trigger: 'edge',
  });
  return { pcpus: options.pcpus, vectorsPerPcpu, rows };
}

/**
 * Prints a {@link VectorsDemoReport} as a table, or as JSON lines with `json`.
 *
 * @param report - the demo's result
 * @param json - whether to print JSON lines instead of text
 * @param out - where to print
 */
export function printVectorsDemo(report: VectorsDemoReport, json: boolean, out: Output): void {
  if (json) {
    for (const r of report.rows) out.json({ kind: 'policy', pcpus: report.pcpus, ...r });
    return;
  }
  out.line(
    `${report.pcpus} PCPUs, ${report.vectorsPerPcpu} device vectors per PCPU, ${VECTORS_PER_VF} MSI-X vectors per VF`,
  );
  out.line('policy    VF limit  level devices  injected  redundant');
  for (const r of report.rows) {
    out.line(
      [
        r.policy.padEnd(8),
        String(r.vfLimit).padStart(8),
        String(r.levelDevices).padStart(13),
        String(r.injected).padStart(8),
        String(r.redundant).padStart(9),
      ].join('  '),
    );
  }
}
