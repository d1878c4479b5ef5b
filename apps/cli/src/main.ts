#!/usr/bin/env node
import { runCli } from './cli.js';
import { processOutput } from './output.js';

process.exitCode = runCli(process.argv.slice(2), processOutput());
