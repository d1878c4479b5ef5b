// Run by scripts/pack-install-test.mjs in an empty project where only the packed
// tarballs are installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import { CR0, CR4, EFER, PFEC, pagingMode } from '@vmkit/x86';

assert.equal(pagingMode(CR0.PG, CR4.PAE, EFER.LME), '4-level');
assert.equal(PFEC.RSVD, 8);
