import { vi } from 'vitest';

/**
 * Runs `fn` with process.stderr captured, returning its result and what it wrote there.
 *
 * @param fn - the code to run
 * @returns the result and the stderr text
 */
export function withStderr<T>(fn: () => T): { result: T; stderr: string } {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { result: fn(), stderr };
  } finally {
    spy.mockRestore();
  }
}
