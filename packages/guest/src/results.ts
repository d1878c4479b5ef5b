/** One `RESULT <program> key=value ...` line printed by a guest program. */
export interface GuestResult {
  /** The program name (second word). */
  program: string;
  /** The key=value pairs, values as printed. */
  fields: Record<string, string>;
}

/**
 * Extracts every `RESULT` line from guest console output.
 *
 * @param output - the console text
 * @returns the result lines in order of appearance
 * @example
 * ```ts
 * parseResults('RESULT hello pid=1\n'); // [{ program: 'hello', fields: { pid: '1' } }]
 * ```
 */
export function parseResults(output: string): GuestResult[] {
  const results: GuestResult[] = [];
  for (const line of output.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] !== 'RESULT' || words.length < 2) continue;
    const fields: Record<string, string> = {};
    for (const w of words.slice(2)) {
      const eq = w.indexOf('=');
      if (eq > 0) fields[w.slice(0, eq)] = w.slice(eq + 1);
    }
    results.push({ program: words[1] as string, fields });
  }
  return results;
}
