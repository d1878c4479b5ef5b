// Run by scripts/pack-install-test.mjs in an empty project where only the packed
// tarballs are installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import { vmmVersion } from '@vmkit/vmm';

assert.equal(typeof vmmVersion, 'string');
