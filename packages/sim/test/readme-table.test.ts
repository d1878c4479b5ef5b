import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { defaultProfile, profileFigures } from '../src/index.js';

it('the README profile table matches the default profile', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block =
    readme.split('<!-- profile-table:start -->')[1]?.split('<!-- profile-table:end -->')[0] ?? '';
  const rows = block
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .map((l) => l.split('|').map((c) => c.trim()))
    .map(([, path, value, unit, kind]) => [
      path?.replaceAll('`', ''),
      Number(value?.replaceAll(',', '')),
      unit,
      kind,
    ]);
  expect(rows).toEqual(
    profileFigures(defaultProfile).map(([p, f]) => [p, f.value, f.unit, f.source.kind]),
  );
});
