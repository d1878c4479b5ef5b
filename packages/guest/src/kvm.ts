import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { bootProtocol } from './boot-protocol.js';
import { GuestError } from './errors.js';
import { guestImagePath, kvmRunnerPath } from './manifest.js';
import { type GuestResult, parseResults } from './results.js';

/** Whether guest images can run under KVM on this host, and if not, why. */
export interface KvmUsability {
  /** True when `/dev/kvm` opens read-write and the runner exists. */
  usable: boolean;
  /** Why not, when `usable` is false. */
  reason?: string;
}

/**
 * Checks whether {@link runOnKvm} can work here: Linux on x86-64, `/dev/kvm` readable and
 * writable, and the runner built.
 *
 * @param runner - the runner binary to check (default {@link kvmRunnerPath})
 * @returns usability and the reason when unusable
 */
export function kvmUsability(runner: string = kvmRunnerPath): KvmUsability {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return {
      usable: false,
      reason: `KVM runner needs Linux x86-64, this is ${process.platform}/${process.arch}`,
    };
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch (e) {
    return { usable: false, reason: `/dev/kvm is not usable: ${(e as Error).message}` };
  }
  try {
    accessSync(runner, constants.X_OK);
  } catch {
    return { usable: false, reason: `KVM runner not built at ${runner} (run the package build)` };
  }
  return { usable: true };
}

/** Options of {@link runOnKvm}. */
export interface KvmRunOptions {
  /** The guest command line: program name then `key=value` parameters (default `hello`). */
  command?: string;
  /** Number of vCPUs, 1..8 (default 1). */
  cpus?: number;
  /** Guest RAM in MiB, 4..1024 (default 128). */
  memoryMiB?: number;
  /** Wall-clock limit in seconds (default 60); the runner then reports every vCPU's RIP. */
  timeoutSeconds?: number;
  /** Image path (default {@link guestImagePath}). */
  image?: string;
  /** Runner path (default {@link kvmRunnerPath}). */
  runner?: string;
}

/** What a KVM run produced. */
export interface KvmRunResult {
  /** The runner's exit code: the guest status when below 256, 255 above, 124 on timeout, 2 on VM failure. */
  exitCode: number;
  /** The debug-exit status the guest wrote, when it wrote one. */
  status: number | undefined;
  /** Guest console output (the UART). */
  stdout: string;
  /** Runner diagnostics; the last line says how the run ended. */
  stderr: string;
  /** The `RESULT` lines in `stdout`. */
  results: GuestResult[];
}

function checkRange(name: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi)
    throw new GuestError('BAD_OPTIONS', `${name} must be an integer in ${lo}..${hi}, got ${v}`);
}

/**
 * Boots a guest image under Linux KVM through the package's runner (`dist/bin/kvm-run`), which
 * follows the boot protocol exactly, and collects the console output and exit status.
 *
 * @param options - command line, vCPUs, memory, timeout
 * @returns output, status and parsed result lines
 * @throws GuestError `BAD_OPTIONS` for out-of-range options, `KVM_UNAVAILABLE` or
 *   `RUNNER_MISSING` when KVM cannot be used here, `RUN_FAILED` when the runner cannot start
 * @example
 * ```ts
 * const run = await runOnKvm({ command: 'compute n=1000', cpus: 2 });
 * console.log(run.results[0]?.fields.checksum);
 * ```
 */
export async function runOnKvm(options: KvmRunOptions = {}): Promise<KvmRunResult> {
  const command = options.command ?? 'hello';
  const cpus = options.cpus ?? 1;
  const memoryMiB = options.memoryMiB ?? 128;
  const timeoutSeconds = options.timeoutSeconds ?? 60;
  checkRange('cpus', cpus, 1, bootProtocol.maxCpus);
  checkRange('memoryMiB', memoryMiB, 4, 1024);
  checkRange('timeoutSeconds', timeoutSeconds, 1, 86_400);
  // The kernel copies at most 1023 bytes of command line; printable ASCII keeps it one C string.
  if (command.length > 1023 || !/^[\x20-\x7e]*$/.test(command))
    throw new GuestError('BAD_OPTIONS', 'command must be at most 1023 printable ASCII characters');
  const runner = options.runner ?? kvmRunnerPath;
  const usability = kvmUsability(runner);
  if (!usability.usable)
    throw new GuestError(
      usability.reason?.startsWith('KVM runner not built') ? 'RUNNER_MISSING' : 'KVM_UNAVAILABLE',
      usability.reason ?? 'KVM unusable',
    );
  const args = [
    '--cpus',
    String(cpus),
    '--mem',
    String(memoryMiB),
    '--timeout',
    String(timeoutSeconds),
    options.image ?? guestImagePath,
  ];
  if (command.length > 0) args.push(...command.split(' ').filter((w) => w.length > 0));
  return await new Promise<KvmRunResult>((resolve, reject) => {
    const child = spawn(runner, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) =>
      reject(new GuestError('RUN_FAILED', `cannot start ${runner}: ${e.message}`)),
    );
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString('latin1');
      const stderr = Buffer.concat(err).toString('utf8');
      const m = /kvm-run: status 0x([0-9a-f]+)\s*$/.exec(stderr);
      resolve({
        exitCode: code ?? -1,
        status: m ? Number.parseInt(m[1] as string, 16) : undefined,
        stdout,
        stderr,
        results: parseResults(stdout),
      });
    });
  });
}
