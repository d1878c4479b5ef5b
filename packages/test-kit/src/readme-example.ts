import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Extracts every fenced code block tagged ```` ```ts example ```` from a README.
 *
 * @param markdown - the README text
 * @returns the code of each example block, in order
 */
export function extractExamples(markdown: string): string[] {
  const blocks: string[] = [];
  const fence = /```ts example\n([\s\S]*?)```/g;
  for (let m = fence.exec(markdown); m !== null; m = fence.exec(markdown)) blocks.push(m[1]!);
  return blocks;
}

/**
 * Runs the README's example blocks as modules inside the package directory, so that the
 * package's own name resolves as a user's import would. Each example asserts what it shows
 * (with `node:assert`), so a README that drifts from the code fails the test.
 *
 * @param packageDir - the package directory holding README.md
 * @returns how many examples ran
 */
export async function runReadmeExamples(packageDir: string): Promise<number> {
  const readme = await readFile(join(packageDir, 'README.md'), 'utf8');
  const examples = extractExamples(readme);
  if (examples.length === 0)
    throw new Error(`${packageDir}/README.md has no \`\`\`ts example block`);
  const dir = await mkdtemp(join(packageDir, '.readme-'));
  try {
    for (const [i, code] of examples.entries()) {
      const file = join(dir, `example-${i}.ts`);
      await writeFile(file, code);
      await import(/* @vite-ignore */ file);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return examples.length;
}
