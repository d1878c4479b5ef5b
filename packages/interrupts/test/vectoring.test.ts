import { describe, expect, it } from 'vitest';
import {
  ApicBus,
  HostInterruptRouter,
  InterruptError,
  VectorAllocator,
  type VectoringPolicy,
} from '../src/index.js';

/** Seed 003: each 82599 VF consumes 3 interrupt sources (MSI-X vectors). */
const VECTORS_PER_VF = 3;

/** Assigns VFs (3 MSI-X sources each, VCPUs spread over PCPUs) until a vector allocation fails. */
function vfsUntilExhausted(policy: VectoringPolicy, pcpus: number): number {
  const bus = new ApicBus({ cpus: pcpus });
  const router = new HostInterruptRouter(bus, new VectorAllocator({ pcpus, policy }));
  for (let vf = 0; ; vf++) {
    try {
      for (let k = 0; k < VECTORS_PER_VF; k++)
        router.bindMsi({ vm: vf, vcpu: 0, vector: 0x30 + k }, vf % pcpus);
    } catch (e) {
      if (e instanceof InterruptError && e.code === 'EXHAUSTED') return vf;
      throw e;
    }
  }
}

describe('seed 003 §IV.A: the vector shortage and per-PCPU vectoring', () => {
  it('leaves about 200 vectors for devices (0x20-0xE7)', () => {
    expect(new VectorAllocator({ pcpus: 1, policy: 'global' }).capacity({ trigger: 'edge' })).toBe(
      200,
    );
  });

  it('runs out at 66 VFs with global vectors, whatever the PCPU count', () => {
    for (const pcpus of [1, 4, 16]) expect(vfsUntilExhausted('global', pcpus)).toBe(66);
  });

  it('multiplies the limit by the PCPU count with per-PCPU vectors', () => {
    for (const pcpus of [1, 2, 4, 8]) expect(vfsUntilExhausted('per-pcpu', pcpus)).toBe(66 * pcpus);
  });

  it('keeps the per-PCPU capacity for MSI sources under hybrid vectoring', () => {
    expect(vfsUntilExhausted('hybrid', 4)).toBe(66 * 4);
  });

  it('names a per-PCPU interrupt by (PCPU, vector): the same vector on two PCPUs reaches two guests', () => {
    const bus = new ApicBus({ cpus: 2 });
    const router = new HostInterruptRouter(
      bus,
      new VectorAllocator({ pcpus: 2, policy: 'per-pcpu' }),
    );
    const a = router.bindMsi({ vm: 1, vcpu: 0, vector: 0x41 }, 0);
    const b = router.bindMsi({ vm: 2, vcpu: 0, vector: 0x51 }, 1);
    expect(a.handle.vector).toBe(b.handle.vector);
    bus.deliverMsi({ ...b.message!, requesterId: 0x0382 });
    bus.deliverMsi({ ...a.message!, requesterId: 0x0380 });
    router.dispatch(0);
    router.dispatch(1);
    expect(router.log).toEqual([
      { vm: 1, vcpu: 0, vector: 0x41 },
      { vm: 2, vcpu: 0, vector: 0x51 },
    ]);
  });
});

describe('seed 003 §IV.A: redundant level-triggered interrupts and hybrid vectoring', () => {
  /**
   * Two level-triggered I/O APIC pins for two guests on two PCPUs. Both devices raise their line;
   * guest 1 services its device and EOIs first. The host EOI is broadcast to the I/O APIC with the
   * vector only.
   */
  function scenario(policy: VectoringPolicy) {
    const bus = new ApicBus({ cpus: 2 });
    const io = bus.ioApic!;
    const router = new HostInterruptRouter(bus, new VectorAllocator({ pcpus: 2, policy }));
    const a = router.bindIoApicPin(5, { vm: 1, vcpu: 0, vector: 0x61 }, 0);
    const b = router.bindIoApicPin(6, { vm: 2, vcpu: 0, vector: 0x62 }, 1);
    io.setLine(5, true);
    io.setLine(6, true);
    router.dispatch(0);
    router.dispatch(1);
    // Guest 1 handles its device (line drops), then EOIs.
    io.setLine(5, false);
    router.guestEoi(a);
    router.dispatch(1);
    // Guest 2 handles its device, then EOIs.
    io.setLine(6, false);
    router.guestEoi(b);
    router.dispatch(0);
    router.dispatch(1);
    return { router, a, b, sentB: io.stats.sent[6]! };
  }

  it('per-PCPU vectoring gives both pins the same vector, so one EOI re-fires the other pin', () => {
    const { router, a, b, sentB } = scenario('per-pcpu');
    expect(a.handle.vector).toBe(b.handle.vector);
    expect(sentB).toBe(2);
    expect(router.stats.redundant).toBe(1);
    expect(router.log.filter((t) => t.vm === 2).length).toBe(2);
  });

  it('hybrid vectoring gives level-triggered pins global vectors: no redundant interrupts', () => {
    const { router, a, b, sentB } = scenario('hybrid');
    expect(a.handle.global && b.handle.global).toBe(true);
    expect(a.handle.vector).not.toBe(b.handle.vector);
    expect(sentB).toBe(1);
    expect(router.stats.redundant).toBe(0);
    expect(router.log.map((t) => t.vm)).toEqual([1, 2]);
  });

  it('global vectoring has no redundant interrupts either (but keeps the 66-VF limit)', () => {
    expect(scenario('global').router.stats.redundant).toBe(0);
  });
});

describe('VectorAllocator', () => {
  it('frees vectors for reuse and refuses unknown handles', () => {
    const alloc = new VectorAllocator({ pcpus: 2, policy: 'hybrid' });
    const g = alloc.allocate({ trigger: 'level' });
    const p = alloc.allocate({ trigger: 'edge', pcpu: 1 });
    expect(g).toEqual({ pcpus: [0, 1], vector: 0x20, global: true });
    expect(p).toEqual({ pcpus: [1], vector: 0x21, global: false });
    expect(alloc.allocate({ trigger: 'edge', pcpu: 0 }).vector).toBe(0x21);
    expect(alloc.allocate({ trigger: 'level' }).vector).toBe(0x22);
    alloc.free(g);
    expect(() => alloc.free(g)).toThrow(InterruptError);
    expect(alloc.allocate({ trigger: 'level' }).vector).toBe(0x20);
  });
});
