import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { printEptDemo, runEptDemo } from './commands/ept-demo.js';
import { printLogDirtyDemo, runLogDirtyDemo } from './commands/log-dirty-demo.js';
import { printMemoryDemo, runMemoryDemo } from './commands/memory-demo.js';
import { MAX_PCPUS, printVectorsDemo, runVectorsDemo } from './commands/vectors-demo.js';
import { parseCount, parseSize, UsageError } from './errors.js';
import type { Output } from './output.js';

const USAGE = `usage: vmkit <command> [options]

commands:
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
  --json         machine-readable output, one JSON object per line
  --version      print the version`;

/** The options each demo takes (besides --json); any other command option is a usage error. */
const DEMO_OPTIONS: Record<string, readonly CommandOption[]> = {
  memory: ['size', 'epochs', 'writes', 'seed'],
  ept: ['accesses', 'seed'],
  vectors: ['pcpus'],
  'log-dirty': ['epochs', 'accesses', 'seed'],
};
const COMMAND_OPTIONS = ['size', 'epochs', 'writes', 'seed', 'accesses', 'pcpus'] as const;
type CommandOption = (typeof COMMAND_OPTIONS)[number];

/**
 * Runs the `vmkit` command line.
 *
 * @param argv - arguments after the program name
 * @param out - where to write
 * @returns the process exit status: 0 on success, 2 on a usage error
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
      },
    });
    if (values.version) {
      out.line(version());
      return 0;
    }
    const [command, sub, ...rest] = positionals;
    if (command === undefined || command === 'help') {
      out.line(USAGE);
      return 0;
    }
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    const demo =
      command === 'demo' && sub !== undefined && Object.hasOwn(DEMO_OPTIONS, sub)
        ? DEMO_OPTIONS[sub]
        : undefined;
    if (demo === undefined) {
      throw new UsageError(`unknown command "${[command, sub].filter(Boolean).join(' ')}"`);
    }
    for (const name of COMMAND_OPTIONS) {
      if (values[name] !== undefined && !demo.includes(name)) {
        throw new UsageError(`--${name} does not apply to "demo ${sub}"`);
      }
    }
    if (sub === 'memory') {
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
    if (sub === 'ept') {
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
    if (sub === 'log-dirty') {
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
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`vmkit: ${(e as Error).message}\nrun "vmkit help" for usage\n`);
      return 2;
    }
    if ((e as { name?: string }).name === 'GuestMemoryError') {
      process.stderr.write(`vmkit: ${(e as Error).message}\n`);
      return 1;
    }
    throw e;
  }
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  return `vmkit ${pkg.version}`;
}
