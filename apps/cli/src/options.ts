import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { MMU_STRATEGIES, type MmuStrategy } from '@vmkit/vmm';
import { compareChartSvg } from './chart.js';
import { parseSize, UsageError } from './errors.js';
import { programNames } from './workload.js';

// The option values of `vmkit run` and `vmkit compare`, checked before anything runs: each
// failure is a UsageError naming the valid choices.

/** vCPUs a Vm accepts (the contract's 1..8). */
export const MAX_VCPUS = 8;
/** Guest RAM a Vm accepts, in MiB (VmConfig.memoryMiB's range). */
const MEMORY_MIB = { min: 4, max: 1024 } as const;

/** A usage error unless `path` names a file that can be created or replaced. */
export function checkWritable(path: string): void {
  const target = resolve(path);
  let isDirectory = false;
  try {
    isDirectory = statSync(target).isDirectory();
  } catch {
    // It does not exist yet: its directory must.
  }
  try {
    if (isDirectory) throw new Error('a directory');
    accessSync(dirname(target), constants.W_OK);
  } catch {
    throw new UsageError(`--svg: cannot write "${path}" (is its directory there and writable?)`);
  }
}

/** Writes the chart; a failure (the disk, permissions changed meanwhile) is one line, status 1. */
export function writeChart(
  path: string,
  title: string,
  rows: Parameters<typeof compareChartSvg>[1],
): void {
  try {
    writeFileSync(path, compareChartSvg(title, rows));
  } catch (e) {
    throw new ChartWriteError(`--svg: cannot write "${path}": ${(e as Error).message}`);
  }
}

/** The chart could not be written after the runs. */
export class ChartWriteError extends Error {
  override name = 'ChartWriteError';
}

/** `--workload`'s value; it is required. */
export function requireWorkload(value: string | undefined): string {
  if (value === undefined)
    throw new UsageError(`--workload is required; choose one of ${programNames().join(', ')}`);
  return value;
}

/** A `--mmu` value: one of `MMU_STRATEGIES`. */
export function parseStrategy(text: string): MmuStrategy {
  const found = MMU_STRATEGIES.find((s) => s === text);
  if (found === undefined) {
    throw new UsageError(
      `--mmu: unknown strategy "${text}"; choose from ${MMU_STRATEGIES.join(', ')}`,
    );
  }
  return found;
}

/** A `--vcpus` value: 1 to {@link MAX_VCPUS}. */
export function parseVcpus(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_VCPUS) {
    throw new UsageError(`--vcpus: "${text}" is not a vCPU count from 1 to ${MAX_VCPUS}`);
  }
  return n;
}

/** A `--memory` size, in MiB: a whole number from 4 MiB to 1 GiB. */
export function parseMemory(text: string): number {
  const bytes = parseSize(text, '--memory');
  const mib = bytes / 2 ** 20;
  if (!Number.isInteger(mib) || mib < MEMORY_MIB.min || mib > MEMORY_MIB.max) {
    throw new UsageError(`--memory: "${text}" is not a whole number of MiB from 4M to 1G`);
  }
  return mib;
}

/** A comma-separated option: every element parsed, none repeated. */
export function parseList<T>(text: string, option: string, parse: (item: string) => T): T[] {
  const items = text.split(',');
  if (new Set(items).size !== items.length)
    throw new UsageError(`${option}: "${text}" repeats a value`);
  return items.map(parse);
}
