import type { GuestMemory } from '@vmkit/memory';
import { ShadowError } from './errors.js';
import { D, P, RW, SW_PREDICT, SW_WRITABLE } from './spte.js';
import type { ShadowLock, ShadowStats } from './stats.js';

/** Log-dirty strategies of seed 004 (Zhu et al., Taiji HBFT). */
export type LogDirtyStrategy = 'original' | 'read-fault-reduction' | 'write-fault-prediction';

/** Options of `ShadowMmu.startLogDirty`. */
export interface LogDirtyOptions {
  /** The strategy. */
  readonly strategy: LogDirtyStrategy;
  /** Bits of the per-L1-table marker (segments of 512 / bits entries); default 8. */
  readonly markerBits?: number;
  /** EWMA weight of the history in his_stride; default 0.7. */
  readonly alpha?: number;
}

/** What log-dirty tracking keeps per L1 shadow table. */
export interface TrackedTable {
  /** Host-physical address of the table. */
  readonly hpa: number;
  /** Bit i set: segment i may hold writable entries. */
  marker: number;
  /** Histase's his_stride; negative until the first epoch with writes. */
  hisStride: number;
}

/**
 * The log-dirty state of a shadow MMU for one run of log-dirty mode: the frames dirtied in the
 * current epoch, the L1 shadow tables with marked segments, the predicted entries, and the
 * epoch-boundary work of seed 004's strategies (marker-guided revocation, his_stride update,
 * prediction and its rectification).
 *
 * @internal
 */
export class LogDirty {
  /** The strategy. */
  readonly strategy: LogDirtyStrategy;
  private readonly bits: number;
  private readonly alpha: number;
  private readonly dirty = new Set<number>();
  private readonly marked = new Set<TrackedTable>();
  private predicted: number[] = [];

  /**
   * @param options - strategy, marker width, alpha
   * @param host - host memory holding the shadow tables
   * @param stats - counters to update
   * @param lock - the shadow lock to charge work to
   */
  constructor(
    options: LogDirtyOptions,
    private readonly host: GuestMemory,
    private readonly stats: ShadowStats,
    private readonly lock: ShadowLock,
  ) {
    this.bits = options.markerBits ?? 8;
    this.alpha = options.alpha ?? 0.7;
    if (![1, 2, 4, 8, 16, 32].includes(this.bits) || !(this.alpha >= 0 && this.alpha < 1)) {
      throw new ShadowError(
        'INVALID_CONFIG',
        'marker bits must divide 512 (1..32), 0 <= alpha < 1',
      );
    }
    this.strategy = options.strategy;
  }

  /** Records a dirty guest frame. @param gfn - the frame */
  markDirty(gfn: number): void {
    this.dirty.add(gfn);
  }

  /** Marks every segment of a table (entering log-dirty mode). @param table - an L1 table */
  markAll(table: TrackedTable): void {
    table.marker = (2 ** this.bits - 1) >>> 0;
    this.marked.add(table);
  }

  /** Forgets a freed table. @param table - the table */
  forget(table: TrackedTable): void {
    this.marked.delete(table);
  }

  /**
   * An entry was made writable by a write fault: mark its segment, and with Histase predict
   * its neighbours.
   *
   * @param table - the L1 shadow table
   * @param i - the entry's index
   */
  madeWritable(table: TrackedTable, i: number): void {
    table.marker |= 1 << Math.floor(i / (512 / this.bits));
    this.marked.add(table);
    if (this.strategy === 'write-fault-prediction') this.predict(table, i);
  }

  // Histase: entries within his_stride ahead and his_stride/3 behind that the guest allows to
  // be written become writable with the Predict bit set and the hardware D flag clear.
  private predict(table: TrackedTable, i: number): void {
    if (table.hisStride <= 0) return;
    const ahead = Math.round(table.hisStride);
    const behind = Math.floor(table.hisStride / 3);
    for (let j = Math.max(0, i - behind); j <= Math.min(511, i + ahead); j++) {
      if (j === i) continue;
      const at = table.hpa + j * 8;
      const lo = this.host.read32(at);
      if ((lo & (P | RW | SW_WRITABLE)) !== (P | SW_WRITABLE)) continue;
      this.host.write32(at, ((lo | RW | SW_PREDICT) & ~D) >>> 0);
      this.predicted.push(at);
      this.stats.predicted++;
      table.marker |= 1 << Math.floor(j / (512 / this.bits));
      this.lock.charge(1);
    }
  }

  /**
   * Rectifies predictions at the end of an epoch: predicted entries with the hardware D flag
   * set were written (their frames are dirty); the Predict bit is cleared on all.
   *
   * @param leafGfn - the guest frame of each shadow leaf, by entry address
   */
  collectPredicted(leafGfn: ReadonlyMap<number, number>): void {
    for (const at of this.predicted) {
      const lo = this.host.read32(at);
      if ((lo & (P | SW_PREDICT)) !== (P | SW_PREDICT)) continue;
      if ((lo & D) !== 0) {
        this.markDirty(leafGfn.get(at)!);
        this.stats.predictedWritten++;
      }
      this.host.write32(at, (lo & ~SW_PREDICT) >>> 0);
    }
    this.predicted = [];
  }

  /**
   * Revokes write permission in the marked segments of L1 shadow tables (read-fault
   * reduction), and with `strides` updates each scanned table's his_stride from its
   * ave_stride, the mean length of the runs of written entries.
   *
   * @param strides - update his_stride (write-fault prediction)
   */
  revokeMarked(strides: boolean): void {
    const seg = 512 / this.bits;
    for (const table of this.marked) {
      let runs = 0;
      let runLength = 0;
      let inRun = false;
      for (let b = 0; b < this.bits; b++) {
        if ((table.marker & (1 << b)) === 0) {
          inRun = false;
          continue;
        }
        for (let i = b * seg; i < (b + 1) * seg; i++) {
          const at = table.hpa + i * 8;
          const lo = this.host.read32(at);
          this.stats.scanned++;
          const written = (lo & (P | RW | D)) === (P | RW | D);
          if (written) {
            if (!inRun) runs++;
            runLength++;
          }
          inRun = written;
          if ((lo & RW) !== 0) {
            this.host.write32(at, (lo & ~(RW | D | SW_PREDICT)) >>> 0);
            this.lock.charge(1);
          }
        }
      }
      if (strides && runs > 0) {
        const ave = runLength / runs;
        table.hisStride =
          table.hisStride < 0 ? ave : table.hisStride * this.alpha + ave * (1 - this.alpha);
      }
      table.marker = 0;
    }
    this.marked.clear();
  }

  /** The frames dirtied in the epoch, ascending; starts a new epoch. @returns the frames */
  takeDirty(): number[] {
    const out = [...this.dirty].sort((a, b) => a - b);
    this.stats.writtenPages += out.length;
    this.dirty.clear();
    return out;
  }
}
