#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { processOutput } from '@vmkit/cli';
import { PAPER_EXPERIMENT } from './experiment.js';
import { reproduce } from './reproduce.js';

// `pnpm --filter @vmkit/app-seed003 run reproduce`: the README's table, into results/ beside
// this package's dist/ unless --out names another directory.
const { values } = parseArgs({ options: { out: { type: 'string' } } });
const dir = values.out ?? fileURLToPath(new URL('../results', import.meta.url));
const r = reproduce(PAPER_EXPERIMENT, dir, processOutput());
process.stderr.write(`wrote ${r.json} and ${r.svg}\n`);
