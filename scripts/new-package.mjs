#!/usr/bin/env node
// Creates packages/<name> with everything a vmkit package needs from its first commit:
// package.json (ESM, exports map with types, source condition), tsconfigs, typedoc and vitest
// configs, README with a runnable example, src/index.ts, a test and a bench.
//   pnpm new-package <name> [--layer base|hardware|mechanisms|vmm] [--description "..."]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const LAYERS = ['base', 'hardware', 'mechanisms', 'vmm'];
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    layer: { type: 'string', default: 'mechanisms' },
    description: { type: 'string', default: '' },
  },
});
const name = positionals[0];
if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
  console.error('usage: pnpm new-package <name> [--layer base|hardware|mechanisms|vmm]');
  console.error('  <name> is lowercase letters, digits and dashes, e.g. "shadow-paging"');
  process.exit(2);
}
if (!LAYERS.includes(values.layer)) {
  console.error(`--layer must be one of ${LAYERS.join(', ')}, got "${values.layer}"`);
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'packages', name);
if (existsSync(dir)) {
  console.error(`packages/${name} already exists`);
  process.exit(1);
}
const pkg = `@vmkit/${name}`;
const description = values.description || `vmkit: ${name}`;
const camel = name.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());

const files = {
  'package.json': `${JSON.stringify(
    {
      name: pkg,
      version: '0.0.0',
      description,
      license: 'MIT',
      type: 'module',
      sideEffects: false,
      keywords: ['virtualization', 'x86', 'vmkit'],
      vmkit: { layer: values.layer },
      exports: {
        '.': {
          '@vmkit/source': './src/index.ts',
          types: './dist/index.d.ts',
          default: './dist/index.js',
        },
        './internal/*': null,
        './package.json': './package.json',
      },
      publishConfig: {
        access: 'public',
        exports: {
          '.': { types: './dist/index.d.ts', default: './dist/index.js' },
          './package.json': './package.json',
        },
      },
      files: ['dist', 'README.md'],
      engines: { node: '>=20' },
      scripts: {
        build: 'tsc -p tsconfig.build.json',
        typecheck: 'tsc -p tsconfig.json --noEmit',
        lint: 'biome check .',
        test: 'vitest run',
        bench: `tsx bench/${name}.bench.ts`,
        docs: 'typedoc --emit none --logLevel Warn',
      },
      devDependencies: { '@vmkit/test-kit': 'workspace:*' },
    },
    null,
    2,
  )}\n`,
  'tsconfig.json': `${JSON.stringify(
    {
      extends: '../../tsconfig.base.json',
      compilerOptions: { noEmit: true },
      include: ['src', 'test', 'bench', '*.ts'],
    },
    null,
    2,
  )}\n`,
  'tsconfig.build.json': `${JSON.stringify(
    {
      extends: '../../tsconfig.base.json',
      compilerOptions: { rootDir: 'src', outDir: 'dist', customConditions: [] },
      include: ['src'],
      exclude: ['src/**/*.test.ts'],
    },
    null,
    2,
  )}\n`,
  'typedoc.json': `${JSON.stringify(
    {
      $schema: 'https://typedoc.org/schema.json',
      extends: ['../../typedoc.base.json'],
      entryPoints: ['src/index.ts'],
    },
    null,
    2,
  )}\n`,
  'vitest.config.ts': "export { default } from '../../vitest.shared.js';\n",
  'pack-smoke.mjs': `// Run by scripts/pack-install-test.mjs in an empty project where only the packed
// tarballs are installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import { ${camel}Version } from '${pkg}';

assert.equal(typeof ${camel}Version, 'string');
`,
  'src/index.ts': `/** The package version, kept in step with package.json by a test. */
export const ${camel}Version = '0.0.0';
`,
  'test/index.test.ts': `import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { ${camel}Version } from '../src/index.js';

it('exports the version in package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  expect(${camel}Version).toBe(pkg.version);
});
`,
  'test/readme.test.ts': `import { fileURLToPath } from 'node:url';
import { runReadmeExamples } from '@vmkit/test-kit';
import { expect, it } from 'vitest';

it('runs the README usage example', async () => {
  expect(await runReadmeExamples(fileURLToPath(new URL('..', import.meta.url)))).toBeGreaterThan(0);
});
`,
  [`bench/${name}.bench.ts`]: `import { ${camel}Version } from '${pkg}';
import { emit, opsPerSecond } from '@vmkit/test-kit';

let sink = 0;
emit({
  metric: '${name}.example',
  value: opsPerSecond(() => {
    sink += ${camel}Version.length;
  }, 1),
  unit: 'ops/s',
});
if (sink < 0) console.log(sink);
`,
  'README.md': `# ${pkg}

${description}

## Install

\`\`\`sh
npm install ${pkg}
\`\`\`

## Usage

\`\`\`ts example
import assert from 'node:assert/strict';
import { ${camel}Version } from '${pkg}';

assert.equal(typeof ${camel}Version, 'string');
\`\`\`
`,
};

for (const [file, text] of Object.entries(files)) {
  const path = join(dir, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
execFileSync(join(root, 'node_modules/.bin/biome'), ['check', '--write', dir], {
  stdio: 'ignore',
});
console.log(`created packages/${name}; run pnpm install, then replace the example code.`);
