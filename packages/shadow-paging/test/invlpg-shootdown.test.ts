// INVLPG on one vCPU zaps a leaf of the shadow tables that every vCPU shares. Other vCPUs' TLBs
// may still cache translations made from that leaf; once the leaf is gone, the rmap no longer
// knows them, so a frame that later becomes a guest page table could not be write-protected in
// those TLBs. The guest's unseen write would then leave the shadows stale after the guest's own
// full flush, which hardware never allows (SDM Vol. 3A §4.10.4.1: MOV to CR3 invalidates).
import { ACCESS_WRITE, PageWalker, PagingState, WalkOutcome } from '@vmkit/paging';
import { expect, it } from 'vitest';
import { GuestView, ShadowMmu, ShadowOutcome } from '../src/index.js';
import { GUEST_REGS, host, p2m, put, RAM_BASE, SHADOW } from './support/guest.js';

it('a page-table frame written through another vCPU stale TLB entry is seen by the VMM', () => {
  const mem = host();
  put(mem, 0x1000, 0x2027n);
  put(mem, 0x2000, 0x3027n);
  put(mem, 0x3000, 0x5027n); // linear 0..2 MiB: PT 0x5000
  put(mem, 0x5000, 0x10_0067n); // linear 0 -> frame X = 0x10_0000, dirty and writable
  put(mem, 0x10_0000, 0x10_5027n); // X's contents: entry 0 -> 0x10_5000 (X is data for now)
  const shadow = new ShadowMmu(mem, { p2m, shadowMemory: SHADOW, guest: GUEST_REGS });
  const cpu1 = shadow.addVcpu();
  const walker = new PageWalker(new GuestView(mem, p2m, () => {}));

  // vCPU 1 writes X through linear 0: its TLB caches a writable translation.
  expect(cpu1.translate(0, 0, ACCESS_WRITE)).toBe(ShadowOutcome.OK);
  // vCPU 0 invalidates linear 0 (its own TLB only, as INVLPG does on hardware).
  shadow.invlpg(0, 0);
  // The guest makes X a page table: PDE 1 (linear 2..4 MiB) -> X, and uses it.
  shadow.emulateWrite(0x3008, 0x10_0027n, 8);
  expect(shadow.translate(0, 0x20_0000, 0)).toBe(ShadowOutcome.OK);
  expect(shadow.result.physical).toBe(0x10_5000);

  // vCPU 1 clears X's entry 0 through linear 0 (a plain store on hardware).
  const o = cpu1.translate(0, 0, ACCESS_WRITE);
  if (o === ShadowOutcome.OK) {
    // A TLB hit: the store reaches guest memory without the VMM seeing it.
    mem.write32(cpu1.result.hostPhysical, 0);
    mem.write32(cpu1.result.hostPhysical + 4, 0);
  } else {
    expect(o).toBe(ShadowOutcome.PAGE_TABLE_WRITE);
    expect(cpu1.result.physical).toBe(0x10_0000);
    cpu1.emulateWrite(0x10_0000, 0n, 8);
  }
  expect(mem.read32(RAM_BASE + 0x10_0000)).toBe(0);

  // The guest reloads CR3 on both vCPUs: no cached translation may survive, so linear
  // 2 MiB faults as the walk of the guest tables says.
  shadow.setCr3(0x1000n);
  cpu1.setCr3(0x1000n);
  const want = walker.walk(new PagingState(GUEST_REGS), 0, 0x20_0000, 0);
  expect(want).toBe(WalkOutcome.PAGE_FAULT);
  expect(shadow.translate(0, 0x20_0000, 0)).toBe(ShadowOutcome.PAGE_FAULT);
  expect(cpu1.translate(0, 0x20_0000, 0)).toBe(ShadowOutcome.PAGE_FAULT);
});
