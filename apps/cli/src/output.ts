/** Where a command writes: injected so tests capture output and a terminal gets progress bars. */
export interface Output {
  /** Writes a line of human-readable text. */
  line(text: string): void;
  /** Writes text exactly as given (the guest console, streamed as it comes). */
  text(chunk: string): void;
  /** Writes one JSON value on its own line (the `--json` mode). */
  json(value: unknown): void;
  /** Shows progress of long work; a no-op where no terminal is attached. */
  progress(label: string, done: number, total: number): void;
}

/**
 * Output to process streams. Progress bars go to stderr, redrawn in place, and only when stderr
 * is a terminal, so piped or `--json` output stays clean.
 *
 * @returns an {@link Output} bound to stdout and stderr
 */
export function processOutput(): Output {
  const tty = process.stderr.isTTY === true;
  return {
    line: (text) => process.stdout.write(`${text}\n`),
    text: (chunk) => process.stdout.write(chunk),
    json: (value) => process.stdout.write(`${JSON.stringify(value)}\n`),
    progress(label, done, total) {
      if (!tty) return;
      const width = 30;
      const filled = total > 0 ? Math.round((Math.min(done, total) / total) * width) : width;
      const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
      process.stderr.write(`\r${label} [${bar}] ${done}/${total}${done === total ? '\n' : ''}`);
    },
  };
}
