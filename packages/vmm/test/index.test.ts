import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { vmmVersion } from '../src/index.js';

it('exports the version in package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  expect(vmmVersion).toBe(pkg.version);
});
