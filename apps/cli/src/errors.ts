/**
 * A problem with how the command was invoked (unknown command, bad option value). The CLI
 * prints its message with the usage hint and exits with status 2.
 */
export class UsageError extends Error {
  /** @param message - what was wrong, naming the offending argument */
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Parses a byte size such as `64G`, `512M`, `4096` or `2KiB` (binary multiples).
 *
 * @param text - the option value
 * @param option - the option name, for the error message
 * @returns the size in bytes
 */
export function parseSize(text: string, option: string): number {
  const m = /^(\d+)\s*([KMGT]?)(i?B)?$/i.exec(text.trim());
  if (m === null) throw new UsageError(`${option}: "${text}" is not a size like 4096, 512M or 64G`);
  const shift = { '': 0, K: 10, M: 20, G: 30, T: 40 }[m[2]!.toUpperCase() as '' | 'K'];
  const bytes = Number(m[1]) * 2 ** shift;
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`${option}: "${text}" is too large`);
  return bytes;
}

/**
 * Parses a positive integer option.
 *
 * @param text - the option value
 * @param option - the option name, for the error message
 * @returns the integer
 */
export function parseCount(text: string, option: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n <= 0) {
    throw new UsageError(`${option}: "${text}" is not a positive integer`);
  }
  return n;
}
