// The counts of fast-string work a cost model needs to price REP MOVS/STOS by what they move
// rather than per element (Intel Optimization Reference Manual: a start-up overhead, then a
// data-transfer rate).

/** What {@link Cpu.fastStrings} reports: the work of REP MOVS/STOS since construction. */
export interface FastStringCounts {
  /** Entries into a REP MOVS/STOS with RCX != 0 (see {@link Cpu.fastStrings}). */
  readonly starts: number;
  /** Elements moved (each also a `string` retired instruction). */
  readonly elements: number;
  /** Bytes moved: the sum of the elements' sizes (1, 2, 4 or 8). */
  readonly bytes: number;
}
