import { parseResults } from '@vmkit/guest';
import { type MmuStrategy, Vm, type VmEnd } from '@vmkit/vmm';
import { count, seconds, table } from '../format.js';
import type { Output } from '../output.js';
import { delayedProgress } from '../progress.js';
import type { Workload } from '../workload.js';

/** Options of `vmkit run`. */
export interface RunOptions {
  /** The guest program and its arguments. */
  readonly workload: Workload;
  /** How guest memory is virtualized. */
  readonly mmu: MmuStrategy;
  /** Virtual CPUs. */
  readonly vcpus: number;
  /** Guest RAM in MiB. */
  readonly memoryMiB: number;
  /** Instruction budget of the run (all vCPUs together). */
  readonly maxInstructions: number;
  /** Whether the guest console goes to the output line by line as the guest writes it. */
  readonly stream: boolean;
}

/** What one `vmkit run` measured: the VMM's counters, the simulated time and the wall time. */
export interface RunReport {
  /** The program name. */
  readonly workload: string;
  /** The kernel command line. */
  readonly command: string;
  /** The memory-virtualization strategy. */
  readonly mmu: MmuStrategy;
  /** Virtual CPUs. */
  readonly vcpus: number;
  /** Guest RAM in MiB. */
  readonly memoryMiB: number;
  /** Why the run ended (`exit`: the guest exited; `budget`: `maxInstructions` ran out). */
  readonly end: VmEnd;
  /** The guest's exit status when `end` is `exit`, else null. */
  readonly status: number | null;
  /** The fields of the program's `RESULT` line, or null if it printed none. */
  readonly result: Readonly<Record<string, string>> | null;
  /** Instructions retired by all vCPUs. */
  readonly instructions: number;
  /**
   * Instructions the CPUs retired by class (`other`, `multiply`, `divide`, `branch`, `string`
   * iterations, `pause`); those the VMM emulated after exits are not in them.
   */
  readonly instructionsByClass: Readonly<Record<string, number>>;
  /**
   * REP MOVS/STOS work of the CPUs: starts, elements (also in `instructionsByClass.string`) and
   * bytes moved, which simulated time prices by start-up plus bytes.
   */
  readonly fastStrings: {
    readonly starts: number;
    readonly elements: number;
    readonly bytes: number;
  };
  /** Conditional branches the CPUs retired. */
  readonly conditionalBranches: number;
  /** Of those, the ones the CPU's branch-predictor model mispredicted. */
  readonly branchMispredictions: number;
  /** Simulated time of the run, in cycles of the cost profile. */
  readonly simulatedCycles: number;
  /** The same in seconds at the profile's clock rate. */
  readonly simulatedSeconds: number;
  /** All VM exits. */
  readonly exits: number;
  /** VM exits by SDM basic exit reason name. */
  readonly exitsByReason: Readonly<Record<string, number>>;
  /** The guest instructions that exited most: RIP in hex, reason, count. */
  readonly exitsByRip: readonly { rip: string; reason: string; count: number }[];
  /** Hidden shadow page faults by kind (spt only). */
  readonly shadowFaults: Readonly<Record<string, number>>;
  /** Memory references made by page walks (guest, EPT and shadow levels). */
  readonly walkReferences: number;
  /** The same by the level of the walk-cache model that served them (l1, l2, l3, dram). */
  readonly walkReferencesByLevel: Readonly<Record<string, number>>;
  /** Paging-structure-cache hits by cached entry (and, under EPT, the EPT's own caches). */
  readonly pscHits: Readonly<Record<string, number>>;
  /** TLB lookups that hit and missed. */
  readonly tlb: { readonly hits: number; readonly misses: number };
  /** Per-vCPU instructions (also by class), branches, exits and simulated cycles. */
  readonly perVcpu: readonly {
    id: number;
    instructions: number;
    instructionsByClass: Readonly<Record<string, number>>;
    fastStrings: { starts: number; elements: number; bytes: number };
    conditionalBranches: number;
    branchMispredictions: number;
    exits: number;
    simulatedCycles: number;
  }[];
  /** Wall-clock time the interpreter took, in seconds. */
  readonly wallSeconds: number;
  /** Interpreter speed: millions of guest instructions per wall-clock second. */
  readonly mips: number;
  /** Everything the guest wrote to its console. */
  readonly console: string;
}

/**
 * Boots the guest kernel with the workload's command line under the chosen strategy, runs it
 * to its end or the instruction budget, and gathers the VMM's counters.
 *
 * @param options - workload, strategy, vCPUs, RAM, budget, and whether to stream the console
 * @param out - where the console is streamed and progress is shown
 * @returns the figures of the run
 * @throws VmmError when the Vm refuses the configuration (e.g. a strategy it does not support)
 */
export function runWorkload(options: RunOptions, out: Output): RunReport {
  let line = '';
  const onConsole = options.stream
    ? (c: string) => {
        line += c;
        if (c === '\n') {
          out.text(line);
          line = '';
        }
      }
    : undefined;
  const vm = new Vm({
    command: options.workload.command,
    memoryMiB: options.memoryMiB,
    mmu: options.mmu,
    vcpus: options.vcpus,
    onConsole,
  });
  // The run's length is unknown beforehand: the bar shows the share of the instruction budget
  // used, and the label the interpreter's speed so far.
  const progress = delayedProgress(
    out,
    (done, ms) =>
      `${options.workload.program} ${options.mmu} x${options.vcpus}, ${(done / ms / 1e3).toFixed(1)} MIPS, budget`,
  );
  const start = performance.now();
  const r = vm.run({
    maxInstructions: options.maxInstructions,
    onProgress: (done) => progress.tick(done, options.maxInstructions),
  });
  const wallSeconds = (performance.now() - start) / 1000;
  progress.finish(r.instructions);
  if (line !== '') out.text(line);
  const result = parseResults(r.console).find((x) => x.program === options.workload.program);
  return {
    workload: options.workload.program,
    command: options.workload.command,
    mmu: r.mmu,
    vcpus: r.vcpus,
    memoryMiB: options.memoryMiB,
    end: r.end,
    status: r.status ?? null,
    result: result?.fields ?? null,
    instructions: r.instructions,
    instructionsByClass: { ...r.instructionsByClass },
    fastStrings: { ...r.fastStrings },
    conditionalBranches: r.conditionalBranches,
    branchMispredictions: r.branchMispredictions,
    simulatedCycles: r.simulatedCycles,
    simulatedSeconds: r.simulatedSeconds,
    exits: Object.values(r.exitsByReason).reduce((a, b) => a + b, 0),
    exitsByReason: { ...r.exitsByReason },
    exitsByRip: r.exitsByRip.map((e) => ({
      rip: `0x${e.rip.toString(16)}`,
      reason: e.reason,
      count: e.count,
    })),
    shadowFaults: { ...r.shadowFaults },
    walkReferences: r.walkReferences,
    walkReferencesByLevel: { ...r.walkReferencesByLevel },
    pscHits: { ...r.pscHits },
    tlb: { hits: r.tlb.hits, misses: r.tlb.misses },
    perVcpu: r.perVcpu.map((v) => ({
      ...v,
      instructionsByClass: { ...v.instructionsByClass },
      fastStrings: { ...v.fastStrings },
    })),
    wallSeconds,
    mips: wallSeconds > 0 ? r.instructions / wallSeconds / 1e6 : 0,
    console: r.console,
  };
}

/**
 * Prints a {@link RunReport}: a table of the figures, or one JSON object (console included)
 * with `json`.
 *
 * @param report - the run's figures
 * @param json - whether to print JSON instead of text
 * @param out - where to print
 */
export function printRun(report: RunReport, json: boolean, out: Output): void {
  if (json) {
    out.json({ kind: 'run', ...report });
    return;
  }
  const r = report;
  const ended = r.end === 'exit' ? `exit, status ${r.status}` : r.end;
  const lookups = r.tlb.hits + r.tlb.misses;
  const hitRate = lookups === 0 ? '' : ` (${((100 * r.tlb.hits) / lookups).toFixed(1)}% hits)`;
  const rows: string[][] = [
    ['workload', r.command],
    [
      'configuration',
      `mmu ${r.mmu}, ${r.vcpus} vCPU${r.vcpus === 1 ? '' : 's'}, ${r.memoryMiB} MiB`,
    ],
    ['end', ended],
    ['instructions', count(r.instructions)],
    ...sorted(r.instructionsByClass).map(([k, v]) => [`  ${k}`, count(v)]),
    ...emulated(r).map((n) => ['  emulated by the VMM', count(n)]),
    ['REP MOVS/STOS', `${count(r.fastStrings.bytes)} bytes, ${count(r.fastStrings.starts)} starts`],
    ['conditional branches', `${count(r.conditionalBranches)}${mispredicted(r)}`],
    ['simulated cycles', count(r.simulatedCycles)],
    ['simulated time', seconds(r.simulatedSeconds)],
    ['VM exits', count(r.exits)],
    ...sorted(r.exitsByReason).map(([k, v]) => [`  ${k}`, count(v)]),
    ['shadow faults', count(sum(r.shadowFaults))],
    ...sorted(r.shadowFaults).map(([k, v]) => [`  ${k}`, count(v)]),
    ['page-walk references', count(r.walkReferences)],
    ...Object.entries(r.walkReferencesByLevel).map(([k, v]) => [`  from ${k}`, count(v)]),
    ['PSC hits', count(sum(r.pscHits))],
    ...sorted(r.pscHits).map(([k, v]) => [`  ${k}`, count(v)]),
    ['TLB hits / misses', `${count(r.tlb.hits)} / ${count(r.tlb.misses)}${hitRate}`],
    ['wall time', seconds(r.wallSeconds)],
    ['interpreter speed', `${r.mips.toFixed(1)} MIPS`],
  ];
  out.line('');
  for (const l of table(rows.map(([k, v]) => [k!, v!]))) out.line(l);
  if (r.perVcpu.length > 1) {
    out.line('');
    const perVcpu = r.perVcpu.map((v) => [
      String(v.id),
      count(v.instructions),
      count(v.exits),
      count(v.simulatedCycles),
    ]);
    for (const l of table([['vCPU', 'instructions', 'exits', 'simulated cycles'], ...perVcpu]))
      out.line(l);
  }
  if (r.exitsByRip.length > 0) {
    out.line('');
    out.line('guest instructions that exited most:');
    const top = r.exitsByRip.slice(0, 5).map((e) => [e.rip, e.reason, count(e.count)]);
    for (const l of table([['RIP', 'reason', 'exits'], ...top])) out.line(`  ${l}`);
  }
}

/** Instructions the VMM retired for the guest after exits (not classified by the CPU), if any. */
function emulated(r: RunReport): number[] {
  const n = r.instructions - sum(r.instructionsByClass);
  return n > 0 ? [n] : [];
}

/** The share of conditional branches the predictor model mispredicted, as a suffix. */
function mispredicted(r: RunReport): string {
  if (r.conditionalBranches === 0) return '';
  const pct = ((100 * r.branchMispredictions) / r.conditionalBranches).toFixed(1);
  return ` (${count(r.branchMispredictions)} mispredicted, ${pct}%)`;
}

/** Entries of a counter record, largest first (ties by name, so output is stable). */
function sorted(record: Readonly<Record<string, number>>): [string, number][] {
  return Object.entries(record)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

function sum(record: Readonly<Record<string, number>>): number {
  return Object.values(record).reduce((a, b) => a + b, 0);
}
