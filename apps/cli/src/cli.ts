import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { MMU_STRATEGIES } from '@vmkit/vmm';
import { printCompare, runCompare } from './commands/compare.js';
import { printEptDemo, runEptDemo } from './commands/ept-demo.js';
import { printLogDirtyDemo, runLogDirtyDemo } from './commands/log-dirty-demo.js';
import { printMemoryDemo, runMemoryDemo } from './commands/memory-demo.js';
import { printRun, runWorkload } from './commands/run.js';
import { MAX_PCPUS, printVectorsDemo, runVectorsDemo } from './commands/vectors-demo.js';
import { parseCount, parseSize, UsageError } from './errors.js';
import {
  checkWritable,
  MAX_VCPUS,
  parseList,
  parseMemory,
  parseStrategy,
  parseVcpus,
  requireWorkload,
  writeChart,
} from './options.js';
import type { Output } from './output.js';
import { programNames, workload } from './workload.js';

const DEFAULT_BUDGET = 2_000_000_000;

const USAGE = `usage: vmkit <command> [options]

commands:
  run            boot the guest kernel with a workload under a VMM, stream its console,
                 then print the VMM's counters and the simulated time
                   --workload <name>        guest program: ${programNames().join(', ')}
                   --arg <key=value>        a program parameter (repeatable)
                   --mmu <strategy>         ${MMU_STRATEGIES.join(', ')} (default ept)
                   --vcpus <n>              virtual CPUs, 1-${MAX_VCPUS} (default 1)
                   --memory <size>          guest RAM, 4M-1G in whole MiB (default 128M)
                   --max-instructions <n>   instruction budget (default ${DEFAULT_BUDGET})
  compare        run one workload under several configurations, side by side with
                 ratios against the first
                   --workload, --arg, --memory, --max-instructions as for run
                   --mmu <list>             strategies, e.g. spt,ept,ept-lp (the default)
                   --vcpus <list>           vCPU counts, e.g. 1,2,4 (default 1)
                   --svg <file>             also write a bar chart of time and exits
  demo memory    a large sparse guest through dirty-logging epochs
                   --size <bytes>     guest RAM, e.g. 64G (default 64G)
                   --epochs <n>       epochs to run (default 8)
                   --writes <n>       8-byte writes per epoch (default 20000)
                   --seed <n>         workload seed (default 1)
  demo ept       seed 003's EPT experiment: 4 KiB vs 2 MiB EPT pages, scattered vs
                 confined guest page tables, and uncached 2D-walk reference counts
                   --accesses <n>     guest reads per configuration (default 20000)
                   --seed <n>         page-order seed (default 1)
  demo vectors   seed 003's interrupt-vector limit: VFs per vectoring policy and
                 redundant level-triggered interrupts
                   --pcpus <n>        host PCPUs, 1-255 (default 4)
  demo log-dirty seed 004's three log-dirty strategies on one shadow-paging workload
                   --epochs <n>       epochs (harvests) to run (default 12)
                   --accesses <n>     guest accesses per epoch (default 600)
                   --seed <n>         workload seed (default 1)
  help           this text

global options:
  --json         machine-readable output (JSON)
  --version      print the version`;

/** The options each command takes (besides --json); any other option is a usage error. */
const COMMANDS: Record<string, readonly CommandOption[]> = {
  run: ['workload', 'arg', 'mmu', 'vcpus', 'memory', 'max-instructions'],
  compare: ['workload', 'arg', 'mmu', 'vcpus', 'memory', 'max-instructions', 'svg'],
  'demo memory': ['size', 'epochs', 'writes', 'seed'],
  'demo ept': ['accesses', 'seed'],
  'demo vectors': ['pcpus'],
  'demo log-dirty': ['epochs', 'accesses', 'seed'],
};
const COMMAND_OPTIONS = [
  'size',
  'epochs',
  'writes',
  'seed',
  'accesses',
  'pcpus',
  'workload',
  'arg',
  'mmu',
  'vcpus',
  'memory',
  'max-instructions',
  'svg',
] as const;
type CommandOption = (typeof COMMAND_OPTIONS)[number];

/** Exit status of a run or comparison whose guest did not exit with status 0. */
const GUEST_FAILED = 3;

/**
 * Runs the `vmkit` command line.
 *
 * @param argv - arguments after the program name
 * @param out - where to write
 * @returns the process exit status: 0 on success, 1 when the VMM refuses the configuration,
 *   2 on a usage error, 3 when a guest ran but did not exit with status 0
 */
export function runCli(argv: readonly string[], out: Output): number {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        version: { type: 'boolean', default: false },
        size: { type: 'string' },
        epochs: { type: 'string' },
        writes: { type: 'string' },
        seed: { type: 'string' },
        accesses: { type: 'string' },
        pcpus: { type: 'string' },
        workload: { type: 'string' },
        arg: { type: 'string', multiple: true },
        mmu: { type: 'string' },
        vcpus: { type: 'string' },
        memory: { type: 'string' },
        'max-instructions': { type: 'string' },
        svg: { type: 'string' },
      },
    });
    if (values.version) {
      out.line(version());
      return 0;
    }
    const [command, ...rest] = positionals;
    if (command === undefined || command === 'help') {
      out.line(USAGE);
      return 0;
    }
    const name = command === 'demo' && rest[0] !== undefined ? `demo ${rest.shift()}` : command;
    if (!Object.hasOwn(COMMANDS, name)) {
      throw new UsageError(
        `unknown command "${name}"; choose one of ${[...Object.keys(COMMANDS), 'help'].join(', ')}`,
      );
    }
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    const allowed = COMMANDS[name]!;
    for (const option of COMMAND_OPTIONS) {
      if (values[option] !== undefined && !allowed.includes(option)) {
        throw new UsageError(
          `--${option} does not apply to "${name}", which takes ${optionList(allowed)}`,
        );
      }
    }
    if (name === 'run' || name === 'compare') {
      const chosen = workload(requireWorkload(values.workload), values.arg ?? []);
      const memoryMiB = parseMemory(values.memory ?? '128M');
      const maxInstructions = parseCount(
        values['max-instructions'] ?? String(DEFAULT_BUDGET),
        '--max-instructions',
      );
      if (name === 'run') {
        const report = runWorkload(
          {
            workload: chosen,
            mmu: parseStrategy(values.mmu ?? 'ept'),
            vcpus: parseVcpus(values.vcpus ?? '1'),
            memoryMiB,
            maxInstructions,
            stream: !values.json,
          },
          out,
        );
        printRun(report, values.json, out);
        return guestStatus([report]);
      }
      // Checked before the runs, so a typo in the path does not cost a whole comparison.
      if (values.svg !== undefined) checkWritable(values.svg);
      const mmus = parseList(values.mmu ?? 'spt,ept,ept-lp', '--mmu', parseStrategy);
      const vcpus = parseList(values.vcpus ?? '1', '--vcpus', parseVcpus);
      const report = runCompare({ workload: chosen, mmus, vcpus, memoryMiB, maxInstructions }, out);
      if (values.svg !== undefined) writeChart(values.svg, report.command, report.rows);
      printCompare(report, values.json, out);
      return guestStatus(report.rows);
    }
    if (name === 'demo memory') {
      const report = runMemoryDemo(
        {
          size: parseSize(values.size ?? '64G', '--size'),
          epochs: parseCount(values.epochs ?? '8', '--epochs'),
          writes: parseCount(values.writes ?? '20000', '--writes'),
          seed: parseCount(values.seed ?? '1', '--seed'),
        },
        out,
      );
      printMemoryDemo(report, values.json, out);
      return 0;
    }
    if (name === 'demo ept') {
      const report = runEptDemo(
        {
          accesses: parseCount(values.accesses ?? '20000', '--accesses'),
          seed: parseCount(values.seed ?? '1', '--seed'),
        },
        out,
      );
      printEptDemo(report, values.json, out);
      return 0;
    }
    if (name === 'demo log-dirty') {
      const report = runLogDirtyDemo(
        {
          epochs: parseCount(values.epochs ?? '12', '--epochs'),
          accesses: parseCount(values.accesses ?? '600', '--accesses'),
          seed: parseCount(values.seed ?? '1', '--seed'),
        },
        out,
      );
      printLogDirtyDemo(report, values.json, out);
      return 0;
    }
    const pcpus = parseCount(values.pcpus ?? '4', '--pcpus');
    if (pcpus > MAX_PCPUS) throw new UsageError(`--pcpus: ${pcpus} is more than ${MAX_PCPUS}`);
    printVectorsDemo(runVectorsDemo({ pcpus }, out), values.json, out);
    return 0;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (
      e instanceof UsageError ||
      (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))
    ) {
      const hint = code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? `; ${commandOptionsHint(argv)}` : '';
      process.stderr.write(`vmkit: ${(e as Error).message}${hint} (see "vmkit help")\n`);
      return 2;
    }
    // The VMM's and the memory package's typed errors: a configuration they refuse (e.g. a
    // strategy the Vm does not support yet) is reported in one line, not as a crash.
    const kind = (e as { name?: string }).name;
    if (kind === 'GuestMemoryError' || kind === 'VmmError' || kind === 'ChartWriteError') {
      process.stderr.write(`vmkit: ${(e as Error).message.split('\n')[0]}\n`);
      return 1;
    }
    throw e;
  }
}

/** 0 when every guest exited with status 0, else {@link GUEST_FAILED} (the figures were printed). */
function guestStatus(
  rows: readonly { end: string; status: number | null; mmu: string; vcpus: number }[],
): number {
  const failed = rows.find((r) => r.end !== 'exit' || r.status !== 0);
  if (failed === undefined) return 0;
  const how =
    failed.end === 'exit' ? `exited with status ${failed.status}` : `ended: ${failed.end}`;
  process.stderr.write(`vmkit: the guest under ${failed.mmu} x${failed.vcpus} ${how}\n`);
  return GUEST_FAILED;
}

function optionList(options: readonly string[]): string {
  return options.length === 0 ? 'no options' : options.map((o) => `--${o}`).join(', ');
}

/** For an unknown option: the options of the command the arguments name, if any. */
function commandOptionsHint(argv: readonly string[]): string {
  const words = argv.filter((a) => !a.startsWith('-'));
  const name = words[0] === 'demo' ? `demo ${words[1]}` : words[0];
  if (name === undefined || !Object.hasOwn(COMMANDS, name))
    return `commands: ${Object.keys(COMMANDS).join(', ')}`;
  return `"${name}" takes ${optionList(COMMANDS[name]!)}, --json`;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  return `vmkit ${pkg.version}`;
}
