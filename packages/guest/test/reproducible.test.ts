import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { guestImagePath } from '../src/index.js';

const pkg = fileURLToPath(new URL('..', import.meta.url));

function toolchain(): boolean {
  try {
    for (const t of ['gcc', 'ld', 'make']) execFileSync(t, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const haveToolchain = toolchain();
if (!haveToolchain) console.log('skipping the reproducible-build test: gcc, ld or make missing');

it.skipIf(!haveToolchain)(
  'rebuilds to the same bytes from the same sources and flags',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmkit-guest-build-'));
    try {
      execFileSync(
        'make',
        [
          '-s',
          '-C',
          pkg,
          `OUT=${dir}/dist`,
          `OBJ=${dir}/obj`,
          `${dir}/dist/images/vmkit-guest.elf`,
        ],
        { stdio: 'pipe' },
      );
      expect(
        Buffer.compare(
          readFileSync(join(dir, 'dist/images/vmkit-guest.elf')),
          readFileSync(guestImagePath),
        ),
      ).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  60_000,
);
