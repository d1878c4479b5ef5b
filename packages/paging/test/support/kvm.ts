// Shared pieces of the KVM differential tests: whether KVM and the toolchain are usable, and
// the build of the C runner.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Directory of runner.c and guest.S. */
export const kvmSources = fileURLToPath(new URL('../kvm/', import.meta.url));

/** Why the KVM tests cannot run here, or undefined when they can. */
export function kvmUnusable(): string | undefined {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/kvm is not accessible';
  }
  for (const tool of ['gcc', 'as', 'ld']) {
    try {
      execFileSync(tool, ['--version'], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed`;
    }
  }
  return undefined;
}

/** Compiles the runner into `dir` and returns its path. */
export function buildRunner(dir: string): string {
  const runner = join(dir, 'runner');
  execFileSync('gcc', ['-O2', '-o', runner, join(kvmSources, 'runner.c')]);
  return runner;
}

/** Assembles a flat 64-bit guest binary linked at 0x100000 and returns its path. */
export function buildGuest(dir: string, source: string): string {
  const object = join(dir, `${source}.o`);
  const binary = join(dir, `${source}.bin`);
  execFileSync('as', ['--64', '-o', object, join(kvmSources, source)]);
  execFileSync('ld', [
    '-Ttext=0x100000',
    '-e',
    '_start',
    '--oformat',
    'binary',
    '-o',
    binary,
    object,
  ]);
  return binary;
}
