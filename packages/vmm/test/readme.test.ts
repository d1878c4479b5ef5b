import { fileURLToPath } from 'node:url';
import { runReadmeExamples } from '@vmkit/test-kit';
import { expect, it } from 'vitest';

it('runs the README usage example', async () => {
  expect(await runReadmeExamples(fileURLToPath(new URL('..', import.meta.url)))).toBeGreaterThan(0);
});
