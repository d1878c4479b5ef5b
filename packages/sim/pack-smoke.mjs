// Run by scripts/pack-install-test.mjs in an empty project where only the packed tarballs are
// installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import { CostModel, defaultProfile, loadProfile, SimError } from '@vmkit/sim';

const model = new CostModel(loadProfile(JSON.parse(JSON.stringify(defaultProfile))));
assert.equal(model.cost('vmexit.cpuid'), 1460);
assert.throws(() => loadProfile({}), SimError);
