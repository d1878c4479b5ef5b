// Run by scripts/pack-install-test.mjs in an empty project where only the packed
// tarballs are installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import {
  bootProtocol,
  guestImagePath,
  guestImages,
  kvmUsability,
  parseElfImage,
  runOnKvm,
} from '@vmkit/guest';

// The image ships in the tarball, so no compiler is needed to use it.
assert.ok(existsSync(guestImagePath), guestImagePath);
const image = parseElfImage(new Uint8Array(readFileSync(guestImagePath)));
assert.equal(image.entry, bootProtocol.kernelLoadAddress);
assert.equal(guestImages[0].entry, image.entry);

// So does the runner (installed executable through the package's "bin" entry).
if (kvmUsability().usable) {
  const run = await runOnKvm({ command: 'hello' });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.results[0]?.program, 'hello');
} else {
  console.log(`pack-smoke: KVM run skipped: ${kvmUsability().reason}`);
}
