// Builds measure/host.c with the machine's gcc, runs it, and prints a cost profile (JSON) that
// is the default profile with the clock, memory latencies and copy throughput replaced by this
// machine's measured figures, each citing this script. Usage:
//   pnpm --filter @vmkit/sim run build && node measure/measure-host.mjs > profiles/host.json
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultProfile, withFigures } from '../dist/index.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const exe = join(tmpdir(), `vmkit-sim-host-${process.pid}`);
execFileSync('gcc', ['-O2', '-o', exe, join(here, 'host.c')]);
const m = JSON.parse(execFileSync(exe, { encoding: 'utf8' }));
const cpu =
  /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
const how = (what) => ({
  kind: 'measured',
  ref: `measure/measure-host.mjs on "${cpu}" (${new Date().toISOString().slice(0, 10)}): ${what}; TSC ticks taken as core cycles`,
});
const ticks = (x) => Math.max(1, Math.round(x));
const profile = withFigures(defaultProfile, 'host-measured', {
  'cpu.frequency': {
    value: Math.round(m.tscHz),
    source: how('TSC ticks per second against CLOCK_MONOTONIC over 0.2 s'),
  },
  'memory.latency.l1': {
    value: ticks(m.chase['16KiB']),
    source: how('dependent pointer chase over 16 KiB, one pointer per 64-byte line, random order'),
  },
  'memory.latency.l2': {
    value: ticks(m.chase['256KiB']),
    source: how('dependent pointer chase over 256 KiB'),
  },
  'memory.latency.l3': {
    value: ticks(m.chase['4MiB']),
    source: how('dependent pointer chase over 4 MiB'),
  },
  'memory.latency.dram': {
    value: ticks(m.chase['256MiB']),
    source: how(
      'dependent pointer chase over 256 MiB; includes TLB misses (4 KiB pages) and, since this host is itself a VM, nested page walks',
    ),
  },
  'copy.bytesPerCycle': {
    value: Math.round(m.copyBytesPerTick['64MiB'] * 1000) / 1000,
    source: how('memcpy of a 64 MiB buffer (DRAM to DRAM), 20 repetitions'),
  },
});
process.stdout.write(
  `${JSON.stringify({ ...profile, description: `Measured on ${cpu}; other figures as the default profile` }, null, 2)}\n`,
);
