#!/usr/bin/env node
import { runCli } from './cli.js';
import { processOutput } from './output.js';

// A reader that stops early (`vmkit demo ept | head`) closes the pipe: that ends the output,
// it is not a failure worth a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(0);
});
process.exitCode = runCli(process.argv.slice(2), processOutput());
