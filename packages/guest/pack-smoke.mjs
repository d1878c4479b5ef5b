// Run by scripts/pack-install-test.mjs in an empty project where only the packed
// tarballs are installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { bootProtocol, guestImagePath, guestImages, parseElfImage } from '@vmkit/guest';

// The image ships in the tarball, so no compiler is needed to use it.
assert.ok(existsSync(guestImagePath), guestImagePath);
const image = parseElfImage(new Uint8Array(readFileSync(guestImagePath)));
assert.equal(image.entry, bootProtocol.kernelLoadAddress);
assert.equal(guestImages[0].entry, image.entry);
