import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { guestPrograms, parseResults } from '@vmkit/guest';
import { MMU_STRATEGIES, Vm } from '@vmkit/vmm';
import { describe, expect, it } from 'vitest';
import { delayedProgress, type RunReport, runCli } from '../src/index.js';
import { capture } from './support/capture.js';
import { withStderr } from './support/stderr.js';

const RUN_KEYS = [
  'kind',
  'workload',
  'command',
  'mmu',
  'vcpus',
  'memoryMiB',
  'end',
  'status',
  'result',
  'instructions',
  'instructionsByClass',
  'fastStrings',
  'conditionalBranches',
  'branchMispredictions',
  'simulatedCycles',
  'simulatedSeconds',
  'exits',
  'exitsByReason',
  'exitsByRip',
  'shadowFaults',
  'walkReferences',
  'walkReferencesByLevel',
  'pscHits',
  'tlb',
  'perVcpu',
  'wallSeconds',
  'mips',
  'console',
];

function runJson(argv: string[]): RunReport & { kind: string } {
  const out = capture();
  expect(runCli([...argv, '--json'], out)).toBe(0);
  expect(out.values).toHaveLength(1);
  return out.values[0] as RunReport & { kind: string };
}

describe('vmkit run', () => {
  it('boots hello, streams the console line by line, then prints the table', () => {
    const out = capture();
    expect(runCli(['run', '--workload', 'hello', '--mmu', 'ept', '--memory', '64M'], out)).toBe(0);
    const streamed = out.texts.join('');
    expect(streamed).toMatch(/Hello from vmkit user mode: pid 1 on vCPU 0 of 1/);
    expect(parseResults(streamed)).toEqual([{ program: 'hello', fields: { pid: '1' } }]);
    for (const t of out.texts.slice(0, -1)) expect(t.endsWith('\n')).toBe(true);
    // What the CLI prints is what the Vm reports for the same configuration.
    const direct = new Vm({ command: 'hello', memoryMiB: 64, mmu: 'ept' }).run({
      maxInstructions: 2_000_000_000,
    });
    expect(streamed).toBe(direct.console);
    const text = out.lines.join('\n');
    expect(text).toContain('mmu ept, 1 vCPU, 64 MiB');
    expect(text).toMatch(/end\s+exit, status 0/);
    expect(text).toMatch(
      new RegExp(`instructions\\s+${direct.instructions.toLocaleString('en-US')}`),
    );
    expect(text).toMatch(
      new RegExp(`page-walk references\\s+${direct.walkReferences.toLocaleString('en-US')}`),
    );
    for (const [level, n] of Object.entries(direct.walkReferencesByLevel))
      expect(text).toMatch(new RegExp(`from ${level}\\s+${n.toLocaleString('en-US')}\n`));
    const psc = Object.values(direct.pscHits).reduce((a, b) => a + b, 0);
    expect(text).toMatch(new RegExp(`PSC hits\\s+${psc.toLocaleString('en-US')}\n`));
    expect(text).toMatch(
      new RegExp(`ept-mappings\\s+${direct.pscHits['ept-mappings']!.toLocaleString('en-US')}\n`),
    );
    // The class breakdown under the instruction count, as the Vm counted it, and the rest:
    // the instructions the VMM emulated after exits.
    const classes = Object.entries(direct.instructionsByClass).filter(([, n]) => n > 0);
    for (const [cls, n] of classes)
      expect(text).toMatch(new RegExp(`^  ${cls}\\s+${n.toLocaleString('en-US')}$`, 'm'));
    const rest = direct.instructions - classes.reduce((a, [, n]) => a + n, 0);
    expect(rest).toBeGreaterThan(0);
    expect(text).toMatch(
      new RegExp(`^  emulated by the VMM\\s+${rest.toLocaleString('en-US')}$`, 'm'),
    );
    // REP MOVS/STOS work, as the Vm counted it (hello's kernel clears and copies pages).
    const fast = direct.fastStrings;
    expect(fast.bytes).toBeGreaterThan(0);
    expect(text).toMatch(
      new RegExp(
        `^REP MOVS/STOS\\s+${fast.bytes.toLocaleString('en-US')} bytes, ${fast.starts.toLocaleString('en-US')} starts$`,
        'm',
      ),
    );
    expect(text).toMatch(
      new RegExp(
        `conditional branches\\s+${direct.conditionalBranches.toLocaleString('en-US')} \\(${direct.branchMispredictions.toLocaleString('en-US')} mispredicted`,
      ),
    );
    for (const label of [
      'simulated cycles',
      'VM exits',
      'shadow faults',
      'TLB hits / misses',
      'wall time',
      'MIPS',
    ])
      expect(text).toContain(label);
  });

  it('prints one JSON object with the console in a field and streams nothing', () => {
    const r = runJson(['run', '--workload', 'hello', '--mmu', 'ept-lp']);
    expect(Object.keys(r)).toEqual(RUN_KEYS);
    expect(r).toMatchObject({
      kind: 'run',
      workload: 'hello',
      mmu: 'ept-lp',
      vcpus: 1,
      end: 'exit',
      status: 0,
    });
    expect(r.result).toEqual({ pid: '1' });
    expect(r.console).toMatch(/RESULT hello pid=1/);
    // Plain JSON: it survives a round trip (no bigint, no undefined).
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    expect(r.exits).toBe(Object.values(r.exitsByReason).reduce((a, b) => a + b, 0));
    expect(Object.keys(r.walkReferencesByLevel)).toEqual(['l1', 'l2', 'l3', 'dram']);
    expect(Object.values(r.walkReferencesByLevel).reduce((a, b) => a + b, 0)).toBe(
      r.walkReferences,
    );
    expect(r.pscHits['ept-mappings']).toBeGreaterThan(0);
    for (const e of r.exitsByRip) expect(e.rip).toMatch(/^0x[0-9a-f]+$/);
    expect(r.perVcpu.reduce((a, v) => a + v.instructions, 0)).toBe(r.instructions);
    // The classes count what the CPU retired: at most all instructions, and branches among them.
    const byClass = Object.values(r.instructionsByClass).reduce((a, b) => a + b, 0);
    expect(byClass).toBeGreaterThan(0);
    expect(byClass).toBeLessThanOrEqual(r.instructions);
    expect(r.instructionsByClass.branch).toBeGreaterThanOrEqual(r.conditionalBranches);
    expect(r.branchMispredictions).toBeLessThanOrEqual(r.conditionalBranches);
    // REP MOVS/STOS: elements among the string class, bytes 1-8 per element, summed per vCPU.
    const fast = r.fastStrings;
    expect(fast.elements).toBeLessThanOrEqual(r.instructionsByClass.string!);
    expect(fast.bytes).toBeGreaterThanOrEqual(fast.elements);
    expect(fast.bytes).toBeLessThanOrEqual(8 * fast.elements);
    expect(fast.starts).toBeGreaterThan(0);
    expect(r.perVcpu.reduce((a, v) => a + v.fastStrings.bytes, 0)).toBe(fast.bytes);
    expect(r.mips).toBeCloseTo(r.instructions / r.wallSeconds / 1e6, 6);
  });

  it("runs several vCPUs and reports each, the run taking at least the busiest one's time", () => {
    const out = capture();
    expect(runCli(['run', '--workload', 'hello', '--vcpus', '2', '--mmu', 'spt'], out)).toBe(0);
    expect(out.texts.join('')).toMatch(/on vCPU \d of 2/);
    const text = out.lines.join('\n');
    expect(text).toContain('mmu spt, 2 vCPUs, 128 MiB');
    expect(text).toMatch(/^vCPU\s+instructions\s+exits\s+simulated cycles$/m);
    const r = runJson(['run', '--workload', 'hello', '--vcpus', '2', '--mmu', 'spt']);
    expect(r.perVcpu.map((v) => v.id)).toEqual([0, 1]);
    expect(r.perVcpu.reduce((a, v) => a + v.instructions, 0)).toBe(r.instructions);
    expect(r.perVcpu.reduce((a, v) => a + v.exits, 0)).toBe(r.exits);
    // The run's time is the vCPUs' busy cycles scheduled onto the simulated pCPUs: never less
    // than the busiest vCPU's.
    expect(r.simulatedCycles).toBeGreaterThanOrEqual(
      Math.max(...r.perVcpu.map((v) => v.simulatedCycles)),
    );
  });

  it('passes --arg to the program and --memory to the Vm', () => {
    const r = runJson([
      'run',
      '--workload',
      'compute',
      '--arg',
      'n=300',
      '--arg',
      'm=4',
      '--memory',
      '32M',
      '--mmu',
      'native',
    ]);
    expect(r.command).toBe('compute n=300 m=4');
    expect(r.memoryMiB).toBe(32);
    expect(r.result).toMatchObject({ n: '300', m: '4' });
  });

  it('exits 3 when the guest does not exit with status 0, after printing the figures', () => {
    const budget = withStderr(() =>
      runCli(['run', '--workload', 'hello', '--max-instructions', '5000', '--json'], capture()),
    );
    expect(budget.result).toBe(3);
    expect(budget.stderr).toBe('vmkit: the guest under ept x1 ended: budget\n');
    const out = capture();
    const fault = withStderr(() => runCli(['run', '--workload', 'kfault', '--json'], out));
    expect(fault.result).toBe(3);
    expect((out.values[0] as RunReport).status).toBe(0x1000e);
  });

  it('reports a configuration the Vm refuses as one line with status 1', () => {
    // The kernel command line is limited to 1023 bytes (VmConfig.command): the VMM's typed
    // error, not a crash and not a usage error.
    const { result, stderr } = withStderr(() =>
      runCli(['run', '--workload', 'compute', '--arg', `n=${'1'.repeat(1100)}`], capture()),
    );
    expect(result).toBe(1);
    expect(stderr).toMatch(/^vmkit: .*command.*\n$/);
  });
});

describe('vmkit run and compare usage errors', () => {
  const programs = guestPrograms.map((p) => p.name).join(', ');
  const strategies = MMU_STRATEGIES.join(', ');
  it.each([
    [['run'], `--workload is required; choose one of ${programs}`],
    [['run', '--workload', 'nope'], `unknown program "nope"; choose one of ${programs}`],
    [
      ['run', '--workload', 'hello', '--mmu', 'npt'],
      `unknown strategy "npt"; choose from ${strategies}`,
    ],
    [['run', '--workload', 'hello', '--vcpus', '0'], 'from 1 to 8'],
    [['run', '--workload', 'hello', '--vcpus', '9'], 'from 1 to 8'],
    [['run', '--workload', 'hello', '--vcpus', 'two'], 'from 1 to 8'],
    [['run', '--workload', 'hello', '--memory', '2M'], 'whole number of MiB from 4M to 1G'],
    [['run', '--workload', 'hello', '--memory', '2G'], 'whole number of MiB from 4M to 1G'],
    [['run', '--workload', 'hello', '--memory', '4100K'], 'whole number of MiB from 4M to 1G'],
    [['run', '--workload', 'hello', '--memory', 'big'], 'is not a size like'],
    [['run', '--workload', 'hello', '--max-instructions', '0'], 'is not a positive integer'],
    [['run', '--workload', 'hello', '--arg', 'x=1'], 'hello takes no arguments'],
    [
      ['run', '--workload', 'kbuild', '--arg', 'task=1'],
      'kbuild takes tasks=<32>, jobs=<4>, pages=<16>',
    ],
    [['run', '--workload', 'kbuild', '--arg', 'tasks'], 'is not key=value'],
    [
      ['run', '--workload', 'kbuild', '--arg', 'tasks=1', '--arg', 'tasks=2'],
      'tasks is given twice',
    ],
    [
      ['run', '--workload', 'hello', '--svg', 'x.svg'],
      '--svg does not apply to "run", which takes --workload, --arg, --mmu, --vcpus, --memory, --max-instructions',
    ],
    [
      ['run', '--workload', 'hello', '--frobnicate'],
      '"run" takes --workload, --arg, --mmu, --vcpus, --memory, --max-instructions, --json',
    ],
    [['run', '--workload'], 'argument missing'],
    [['run', 'extra', '--workload', 'hello'], 'unexpected argument "extra"'],
    [
      ['compare', '--workload', 'hello', '--mmu', 'ept,npt'],
      `unknown strategy "npt"; choose from ${strategies}`,
    ],
    [['compare', '--workload', 'hello', '--mmu', 'ept,ept'], 'repeats a value'],
    [
      ['compare', '--workload', 'hello', '--mmu', 'ept,'],
      `unknown strategy ""; choose from ${strategies}`,
    ],
    [['compare', '--workload', 'hello', '--vcpus', '1,16'], 'from 1 to 8'],
    [
      ['compare', '--workload', 'web', '--arg', 'clients=3'],
      'web takes requests=<64>, concurrency=<4>, size=<2048>',
    ],
    [['compare', '--workload', 'hello', '--seed', '3'], '--seed does not apply to "compare"'],
    [
      ['compare', '--workload', 'hello', '--svg', '/nonexistent-dir/x.svg'],
      'cannot write "/nonexistent-dir/x.svg"',
    ],
    [['compare', '--workload', 'hello', '--svg', '.'], 'cannot write "."'],
    [['demo', 'memory', '--workload', 'hello'], '--workload does not apply to "demo memory"'],
    [
      ['runn'],
      'unknown command "runn"; choose one of run, compare, demo memory, demo ept, demo vectors, demo log-dirty, help',
    ],
  ])('%j exits 2 naming the choices', (argv, message) => {
    const { result, stderr } = withStderr(() => runCli(argv, capture()));
    expect(result).toBe(2);
    expect(stderr).toContain(message);
    expect(stderr.split('\n')).toHaveLength(2); // one line
  });
});

describe('the progress bar', () => {
  it('appears only once the work has taken a second, and ends at what was done', () => {
    const out = capture();
    let now = 0;
    const p = delayedProgress(out, 'x', () => now);
    p.tick(10, 100);
    now = 999;
    p.tick(20, 100);
    expect(out.ticks).toEqual([]);
    now = 1000;
    p.tick(30, 100);
    p.tick(300, 100);
    p.finish(70);
    expect(out.ticks).toEqual([
      ['x', 30, 100],
      ['x', 100, 100],
      ['x', 70, 70],
    ]);
  });

  it('can label the bar with a function of the work done and the time taken', () => {
    const out = capture();
    let now = 100;
    const p = delayedProgress(
      out,
      (done, ms) => `${done}/${ms}`,
      () => now,
    );
    now = 1600;
    p.tick(5, 10);
    p.finish(7);
    expect(out.ticks).toEqual([
      ['5/1500', 5, 10],
      ['7/1500', 7, 7],
    ]);
  });

  it('draws nothing for work shorter than a second', () => {
    const out = capture();
    const p = delayedProgress(out, 'x', () => 5);
    p.tick(1, 2);
    p.finish(2);
    expect(out.ticks).toEqual([]);
  });
});

describe('the built binary', () => {
  const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));

  it('runs hello end to end: console first, then the table', () => {
    const r = spawnSync('node', [main, 'run', '--workload', 'hello', '--mmu', 'ept'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(''); // no progress bar: stderr is not a terminal
    const console = r.stdout.indexOf('Hello from vmkit user mode');
    expect(console).toBeGreaterThanOrEqual(0);
    expect(r.stdout.indexOf('simulated cycles')).toBeGreaterThan(console);
  });

  it('prints one JSON object with --json', () => {
    const r = spawnSync('node', [main, 'run', '--workload', 'hello', '--json'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const v = JSON.parse(lines[0]!);
    expect(Object.keys(v)).toEqual(RUN_KEYS);
    expect(v.console).toMatch(/RESULT hello pid=1/);
  });

  it('exits 2 with one line for an unknown workload', () => {
    const r = spawnSync('node', [main, 'run', '--workload', 'helo'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('choose one of hello, compute');
  });
});
