// Run by scripts/pack-install-test.mjs in an empty project where only the packed
// tarballs are installed: import the package as a user would and call something real.
import assert from 'node:assert/strict';
import { GuestPhysicalMemory } from '@vmkit/memory';
import { PageWalker, PagingState, WalkOutcome } from '@vmkit/paging';

const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 1 << 20 }] });
mem.write32(0x1000, 0x2000 | 7); // 32-bit paging: PDE 0 -> page table at 0x2000
mem.write32(0x2000 + 4 * 5, 0x9000 | 7); // PTE 5 -> 0x9000
const state = new PagingState({ cr0: 0x8000_0001, cr3: 0x1000n });
const walker = new PageWalker(mem);
assert.equal(walker.walk(state, 0, 0x5123, 0), WalkOutcome.OK);
assert.equal(walker.result.physical, 0x9123);
