import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { printMemoryDemo, runMemoryDemo } from './commands/memory-demo.js';
import { parseCount, parseSize, UsageError } from './errors.js';
import type { Output } from './output.js';

const USAGE = `usage: vmkit <command> [options]

commands:
  demo memory    a large sparse guest through dirty-logging epochs
                   --size <bytes>     guest RAM, e.g. 64G (default 64G)
                   --epochs <n>       epochs to run (default 8)
                   --writes <n>       8-byte writes per epoch (default 20000)
                   --seed <n>         workload seed (default 1)
  help           this text

global options:
  --json         machine-readable output, one JSON object per line
  --version      print the version`;

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
        size: { type: 'string', default: '64G' },
        epochs: { type: 'string', default: '8' },
        writes: { type: 'string', default: '20000' },
        seed: { type: 'string', default: '1' },
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
    if (command === 'demo' && sub === 'memory') {
      const report = runMemoryDemo(
        {
          size: parseSize(values.size, '--size'),
          epochs: parseCount(values.epochs, '--epochs'),
          writes: parseCount(values.writes, '--writes'),
          seed: parseCount(values.seed, '--seed'),
        },
        out,
      );
      printMemoryDemo(report, values.json, out);
      return 0;
    }
    throw new UsageError(`unknown command "${[command, sub].filter(Boolean).join(' ')}"`);
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
