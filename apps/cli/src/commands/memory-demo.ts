import { GuestMemoryError, GuestPhysicalMemory, PAGE_SIZE } from '@vmkit/memory';
import type { Output } from '../output.js';
import { xorshift32 } from '../random.js';

/** Options of `vmkit demo memory`. */
export interface MemoryDemoOptions {
  /** Guest RAM size in bytes; the part above 3 GiB is placed above 4 GiB, as on a PC. */
  readonly size: number;
  /** Number of dirty-log epochs to run. */
  readonly epochs: number;
  /** Page writes per epoch. */
  readonly writes: number;
  /** Seed of the deterministic write pattern. */
  readonly seed: number;
}

/** What one epoch of the demo did. */
export interface EpochReport {
  /** Epoch number, from 1. */
  readonly epoch: number;
  /** 8-byte writes the workload made. */
  readonly writes: number;
  /** Distinct pages the dirty log reported. */
  readonly dirtyPages: number;
  /** Pages allocated so far (RAM is sparse). */
  readonly materializedPages: number;
  /** Time to harvest and clear the dirty log, in milliseconds. */
  readonly harvestMs: number;
}

/** The demo's summary. */
export interface MemoryDemoReport {
  /** Guest RAM size in bytes. */
  readonly guestBytes: number;
  /** Host bytes backing the guest's pages at the end. */
  readonly hostBytes: number;
  /** Per-epoch figures. */
  readonly epochs: readonly EpochReport[];
  /** The typed error an access past the end of RAM produced. */
  readonly refusedAccess: { readonly code: string; readonly address: number };
}

const LOW_LIMIT = 3 * 2 ** 30;
const HIGH_BASE = 4 * 2 ** 30;

/**
 * A guest's memory through a replication-style epoch loop: a workload writes pages with
 * locality (90% to a hot set, 10% anywhere), the dirty log is harvested each epoch, and the
 * sparse backing shows how little host memory a large guest costs.
 *
 * @param options - guest size and workload shape
 * @param out - where to report
 * @returns the summary that was reported
 */
export function runMemoryDemo(options: MemoryDemoOptions, out: Output): MemoryDemoReport {
  const low = Math.min(options.size, LOW_LIMIT);
  const ram = [{ name: 'low', base: 0, size: low }];
  if (options.size > low) ram.push({ name: 'high', base: HIGH_BASE, size: options.size - low });
  const mem = new GuestPhysicalMemory({ ram });
  const pages = ram.map((r) => r.size / PAGE_SIZE);
  const totalPages = pages.reduce((a, b) => a + b, 0);
  const hotPages = Math.max(1, Math.min(totalPages, 4096));
  const pageAddress = (n: number) =>
    n < pages[0]! ? n * PAGE_SIZE : HIGH_BASE + (n - pages[0]!) * PAGE_SIZE;

  const random = xorshift32(options.seed);

  mem.startDirtyLog();
  const epochs: EpochReport[] = [];
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    for (let i = 0; i < options.writes; i++) {
      const hot = random() < 0.9;
      const page = Math.floor(random() * (hot ? hotPages : totalPages));
      const offset = Math.floor(random() * (PAGE_SIZE / 8)) * 8;
      mem.write64(pageAddress(page) + offset, BigInt(epoch * 1_000_003 + i));
    }
    const start = performance.now();
    const dirty = mem.harvestDirtyPages();
    const report: EpochReport = {
      epoch,
      writes: options.writes,
      dirtyPages: dirty.length,
      materializedPages: mem.materializedPages,
      harvestMs: performance.now() - start,
    };
    epochs.push(report);
    out.progress('epochs', epoch, options.epochs);
  }

  let refusedAccess = { code: 'none', address: -1 };
  const past = pageAddress(totalPages - 1) + PAGE_SIZE - 4;
  try {
    mem.read64(past);
  } catch (e) {
    if (!(e instanceof GuestMemoryError)) throw e;
    refusedAccess = { code: e.code, address: past };
  }
  return {
    guestBytes: options.size,
    hostBytes: mem.materializedPages * PAGE_SIZE,
    epochs,
    refusedAccess,
  };
}

/**
 * Prints a {@link MemoryDemoReport} as a table, or as JSON lines with `json`.
 *
 * @param report - the demo's result
 * @param json - whether to print JSON lines instead of text
 * @param out - where to print
 */
export function printMemoryDemo(report: MemoryDemoReport, json: boolean, out: Output): void {
  if (json) {
    for (const e of report.epochs) out.json({ kind: 'epoch', ...e });
    out.json({
      kind: 'summary',
      guestBytes: report.guestBytes,
      hostBytes: report.hostBytes,
      refusedAccess: report.refusedAccess,
    });
    return;
  }
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(b < 2 ** 30 ? 3 : 1)} GiB`;
  out.line(`guest RAM ${gib(report.guestBytes)}, sparse: pages materialize on first write`);
  out.line('epoch  writes  dirty pages  materialized  harvest');
  for (const e of report.epochs) {
    out.line(
      `${String(e.epoch).padStart(5)}  ${String(e.writes).padStart(6)}  ${String(e.dirtyPages).padStart(11)}  ${String(e.materializedPages).padStart(12)}  ${e.harvestMs.toFixed(3).padStart(6)} ms`,
    );
  }
  out.line(`host memory backing the guest: ${gib(report.hostBytes)}`);
  out.line(
    `an 8-byte read at 0x${report.refusedAccess.address.toString(16)} (4 bytes before the end of RAM) was refused: ${report.refusedAccess.code}`,
  );
}
