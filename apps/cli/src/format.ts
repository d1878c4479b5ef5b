/**
 * An integer with thousands separators (`1,234,567`), the same on every locale.
 *
 * @param n - the number
 * @returns the formatted text
 */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/**
 * A duration in seconds with a unit that keeps three significant figures or so.
 *
 * @param s - seconds
 * @returns e.g. `1.24 s`, `3.51 ms`, `820 us`
 */
export function seconds(s: number): string {
  if (s >= 1) return `${s.toFixed(2)} s`;
  if (s >= 1e-3) return `${(s * 1e3).toFixed(2)} ms`;
  return `${(s * 1e6).toFixed(1)} us`;
}

/**
 * A ratio against a baseline, `1.00x` for equal; `-` when the baseline is zero.
 *
 * @param value - the figure
 * @param base - the baseline figure
 * @returns the formatted ratio
 */
export function ratio(value: number, base: number): string {
  if (base === 0) return value === 0 ? '1.00x' : '-';
  return `${(value / base).toFixed(2)}x`;
}

/**
 * Lays out rows as columns: the first column left-aligned, the others right-aligned.
 *
 * @param rows - the cells, the first row being the header
 * @returns one string per row
 */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  return rows.map((row) =>
    row
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}
