import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Shared vitest settings for every package. Tests resolve workspace packages through the
 * `@vmkit/source` export condition, so they run against `src/` and never against a stale build.
 */
const conditions = ['@vmkit/source', 'node', 'import', 'module', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    setupFiles: [fileURLToPath(new URL('./vitest.setup.ts', import.meta.url))],
    testTimeout: 60_000,
    pool: 'forks',
  },
});
