import { type GuestProgram, guestPrograms } from '@vmkit/guest';
import { UsageError } from './errors.js';

/** A guest program chosen on the command line, with its `key=value` arguments checked. */
export interface Workload {
  /** The program name (the first word of the kernel command line). */
  readonly program: string;
  /** The arguments in the order given, each `key=value`. */
  readonly args: readonly string[];
  /** The kernel command line: the program name followed by the arguments. */
  readonly command: string;
}

/** Characters a value may contain: the kernel splits its command line at spaces. */
const VALUE = /^[\x21-\x7e]+$/;

/**
 * Checks a workload name and its `--arg key=value` options against `@vmkit/guest`'s manifest
 * of built-in programs and builds the kernel command line.
 *
 * @param program - the program name given to `--workload`
 * @param args - the `--arg` values, each `key=value`
 * @returns the checked workload
 * @throws UsageError naming the valid programs or keys when either is unknown
 * @example
 * ```ts
 * workload('kbuild', ['tasks=8']).command; // 'kbuild tasks=8'
 * ```
 */
export function workload(program: string, args: readonly string[]): Workload {
  const spec = guestPrograms.find((p) => p.name === program);
  if (spec === undefined) {
    throw new UsageError(
      `--workload: unknown program "${program}"; choose one of ${programNames().join(', ')}`,
    );
  }
  const seen = new Set<string>();
  for (const arg of args) {
    const eq = arg.indexOf('=');
    const key = eq > 0 ? arg.slice(0, eq) : '';
    const value = arg.slice(eq + 1);
    if (eq <= 0 || !VALUE.test(value)) {
      throw new UsageError(`--arg: "${arg}" is not key=value (${keyChoices(spec)})`);
    }
    if (!spec.parameters.some((p) => p.name === key)) {
      throw new UsageError(`--arg: ${program} has no parameter "${key}" (${keyChoices(spec)})`);
    }
    if (seen.has(key)) throw new UsageError(`--arg: ${key} is given twice`);
    seen.add(key);
  }
  return { program, args: [...args], command: [program, ...args].join(' ') };
}

/**
 * The names of the guest programs `--workload` accepts, in manifest order.
 *
 * @returns the program names
 */
export function programNames(): string[] {
  return guestPrograms.map((p) => p.name);
}

function keyChoices(spec: GuestProgram): string {
  return spec.parameters.length === 0
    ? `${spec.name} takes no arguments`
    : `${spec.name} takes ${spec.parameters.map((p) => `${p.name}=<${p.default}>`).join(', ')}`;
}
