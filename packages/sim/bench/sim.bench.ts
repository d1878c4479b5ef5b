// Wall-clock speed of @vmkit/sim itself (not simulated time): how many scheduling decisions,
// cost lookups, charges and lock acquisitions per second the host does. One JSON line each.
import {
  CacheHierarchy,
  CostModel,
  CreditScheduler,
  defaultProfile,
  type EventKind,
  SimLock,
  Simulation,
} from '@vmkit/sim';
import { emit, opsPerSecond } from '@vmkit/test-kit';

let sink = 0;

// Cost lookups: every fixed-cost event kind in turn.
const model = new CostModel();
const kinds: EventKind[] = model.eventCosts().map(([k]) => k);
emit({
  metric: 'sim.cost.lookup',
  value: opsPerSecond(() => {
    for (const k of kinds) sink += model.cost(k);
  }, kinds.length),
  unit: 'ops/s',
});

// Cache-model accesses (one per page-walk reference in the VMM): a hot 4 KiB page that hits L1
// and a 64 MiB random stream that mostly misses to DRAM (every level filled).
for (const [name, span] of [
  ['l1-hits', 4096],
  ['dram-misses', 64 * 2 ** 20],
] as const) {
  const caches = CacheHierarchy.forWalks(defaultProfile);
  let x = 12345;
  const N = 10_000;
  emit({
    metric: 'sim.cache.access',
    value: opsPerSecond(() => {
      for (let i = 0; i < N; i++) {
        x = (x * 1103515245 + 12345) >>> 0;
        sink += caches.access((x % span) & ~7).length;
      }
    }, N),
    unit: 'ops/s',
    stream: name,
  });
}

// Scheduler decisions (next + complete) for overcommitted CPU-bound vCPUs.
for (const [pcpus, vcpus] of [
  [4, 4],
  [4, 16],
  [16, 64],
] as const) {
  const sched = new CreditScheduler({
    pcpus,
    timeSlice: 30_000,
    accountingPeriod: 30_000,
    quantum: 1_000,
  });
  for (let i = 0; i < vcpus; i++) sched.addVcpu({ weight: 128 + 64 * (i % 4) });
  const N = 10_000;
  emit({
    metric: 'sim.scheduler.decision',
    value: opsPerSecond(() => {
      for (let i = 0; i < N; i++) {
        const d = sched.next();
        if (d === null) break;
        sched.complete(d, d.budget, i % 7 === 0 ? { kind: 'yield' } : { kind: 'continue' });
      }
    }, N),
    unit: 'ops/s',
    pcpus,
    vcpus,
  });
}

// Charges through a Simulation (a VMM's hot path: one call per exit or batch of instructions).
const sim = new Simulation({ pcpus: 1, quantum: 2 ** 40 });
const v = sim.addVcpu();
sim.next();
emit({
  metric: 'sim.charge',
  value: opsPerSecond(() => {
    for (let i = 0; i < 1000; i++) sink += sim.charge(v, 'vmexit.io');
  }, 1000),
  unit: 'ops/s',
});

// Lock acquisitions under contention: 8 vCPUs, each asking again 2000 cycles after its last
// critical section of 1500 cycles ended (so the lock is oversubscribed and most requests wait).
const lock = new SimLock('shadow', 100);
const clocks = new Float64Array(8);
emit({
  metric: 'sim.lock.acquire',
  value: opsPerSecond(() => {
    for (let i = 0; i < 1000; i++) {
      const v = i & 7;
      const g = lock.acquire(clocks[v] as number, 1500);
      sink += g.wait;
      clocks[v] = g.start + 1500 + 2000;
      if (v === 0) lock.prune(Math.min(...clocks));
    }
  }, 1000),
  unit: 'ops/s',
  vcpus: 8,
});

if (sink < 0) console.log(sink);
