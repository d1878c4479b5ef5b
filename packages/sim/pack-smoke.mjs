// Run by scripts/pack-install-test.mjs in an empty project where only the packed tarballs are
// installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import {
  CacheHierarchy,
  CostModel,
  defaultProfile,
  loadProfile,
  SimError,
  Simulation,
} from '@vmkit/sim';

const model = new CostModel(loadProfile(JSON.parse(JSON.stringify(defaultProfile))));
assert.equal(model.cost('vmexit.cpuid'), 1460);
assert.throws(() => loadProfile({}), SimError);

const sim = new Simulation({ pcpus: 1, quantum: 10_000 });
const v = sim.addVcpu();
const d = sim.next();
assert.equal(d?.vcpu, v);
sim.charge(v, 'vmexit.io');
sim.withLock(v, 'shadow', 3000);
sim.complete({ kind: 'block' });
assert.equal(sim.next(), null);
assert.equal(sim.report().vcpus[0]?.runCycles, 2560 + 3000);

// The walk-cache model: a cold line comes from DRAM, the same line again from L1.
const caches = CacheHierarchy.forWalks(defaultProfile);
assert.equal(caches.access(0x1000), 'dram');
assert.equal(caches.access(0x1038), 'l1');
