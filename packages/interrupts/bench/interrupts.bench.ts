import { ApicBus, HostInterruptRouter, VectorAllocator } from '@vmkit/interrupts';
import { emit, opsPerSecond } from '@vmkit/test-kit';

const bus = new ApicBus({ cpus: 4 });
const router = new HostInterruptRouter(bus, new VectorAllocator({ pcpus: 4, policy: 'hybrid' }));
const bindings = Array.from({ length: 64 }, (_, i) =>
  router.bindMsi({ vm: i, vcpu: 0, vector: 0x41 }, i % 4),
);
const messages = bindings.map((b) => ({
  ...b.message!,
  requesterId: 0x380 + 2 * bindings.indexOf(b),
}));
emit({
  metric: 'interrupts.msi.deliver+dispatch',
  value: opsPerSecond(() => {
    for (const m of messages) bus.deliverMsi(m);
    for (let p = 0; p < 4; p++) router.dispatch(p);
    router.log.length = 0;
  }, messages.length),
  unit: 'interrupts/s',
  note: 'decode, APIC accept, INTA, (PCPU, vector) remap, inject, EOI',
});
let sink = 0;
emit({
  metric: 'interrupts.vectors.allocate+free',
  value: opsPerSecond(() => {
    const a = new VectorAllocator({ pcpus: 4, policy: 'per-pcpu' });
    const hs = [];
    for (let i = 0; i < 200; i++) hs.push(a.allocate({ trigger: 'edge', pcpu: i % 4 }));
    for (const h of hs) a.free(h);
    sink ^= hs.length;
  }, 200),
  unit: 'ops/s',
});
if (sink === 0.5) console.log(sink);
