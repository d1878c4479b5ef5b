import { type CompareRow, type Output, runWorkload, workload } from '@vmkit/cli';
import { type MmuStrategy, VmmError } from '@vmkit/vmm';

/** One workload of the experiment: a guest program and its `key=value` arguments. */
export interface Seed003Workload {
  /** The guest program (`kbuild` or `web` in the paper's experiment). */
  readonly program: string;
  /** Its arguments, each `key=value`. */
  readonly args: readonly string[];
}

/** What to run: every workload under every strategy with every vCPU count. */
export interface Seed003Options {
  /** The workloads, in the order the table lists them. */
  readonly workloads: readonly Seed003Workload[];
  /** The memory strategies; the first is the baseline of the ratios (`spt` in the paper). */
  readonly mmus: readonly MmuStrategy[];
  /** The vCPU counts; the first is the baseline of the scaling figures (1 in the paper). */
  readonly vcpus: readonly number[];
  /** Guest RAM in MiB. */
  readonly memoryMiB: number;
  /** Instruction budget of each run. */
  readonly maxInstructions: number;
}

/**
 * Seed 003's experiment as vmkit runs it: the kernel-build and web-server workloads (32 build
 * tasks, 8 at a time; 64 requests, 8 workers at a time, so that 8 vCPUs have work) under shadow
 * paging, EPT and EPT with 2 MiB pages, on 1, 2, 4 and 8 vCPUs (the most a `Vm` has).
 */
export const PAPER_EXPERIMENT: Seed003Options = {
  workloads: [
    { program: 'kbuild', args: ['jobs=8'] },
    { program: 'web', args: ['concurrency=8'] },
  ],
  mmus: ['spt', 'ept', 'ept-lp'],
  vcpus: [1, 2, 4, 8],
  memoryMiB: 256,
  maxInstructions: 2_000_000_000,
};

/** A configuration the Vm refused (a strategy or vCPU count this version cannot run yet). */
export interface Seed003Skipped {
  /** The workload's command line. */
  readonly command: string;
  /** The strategy. */
  readonly mmu: MmuStrategy;
  /** The vCPU count. */
  readonly vcpus: number;
  /** The Vm's message. */
  readonly reason: string;
}

/** The figures of every configuration that ran, and those the Vm refused. */
export interface Seed003Results {
  /** What was asked for. */
  readonly options: Seed003Options;
  /** One row per configuration that ran: workloads in order, strategies, then vCPU counts. */
  readonly rows: readonly CompareRow[];
  /** Configurations the Vm refused with `UNSUPPORTED`. */
  readonly skipped: readonly Seed003Skipped[];
}

/**
 * Runs the experiment. A configuration the Vm refuses as `UNSUPPORTED` is recorded in
 * `skipped` and the others go on, so the table shows what this version can run.
 *
 * @param options - the workloads, strategies, vCPU counts, RAM and budget
 * @param out - where progress is reported (one bar over all configurations)
 * @returns the rows and the skipped configurations
 * @throws VmmError for any other refusal (a bad configuration is a bug in the options)
 */
export function runSeed003(options: Seed003Options, out: Output): Seed003Results {
  const rows: CompareRow[] = [];
  const skipped: Seed003Skipped[] = [];
  const total = options.workloads.length * options.mmus.length * options.vcpus.length;
  let done = 0;
  for (const w of options.workloads) {
    const chosen = workload(w.program, w.args);
    for (const mmu of options.mmus) {
      for (const vcpus of options.vcpus) {
        try {
          const { console: _, ...row } = runWorkload(
            {
              workload: chosen,
              mmu,
              vcpus,
              memoryMiB: options.memoryMiB,
              maxInstructions: options.maxInstructions,
              stream: false,
            },
            out,
          );
          rows.push(row);
        } catch (e) {
          if (!(e instanceof VmmError) || e.code !== 'UNSUPPORTED') throw e;
          skipped.push({ command: chosen.command, mmu, vcpus, reason: e.message });
        }
        out.progress('configurations', ++done, total);
      }
    }
  }
  return { options, rows, skipped };
}
