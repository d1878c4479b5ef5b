// Shrunk counterexamples of the differential property, replayed as plain tests.
import { it } from 'vitest';
import { type Op, runDifferential } from './support/differential.js';

const NP = {
  p: false,
  rw: false,
  us: false,
  a: false,
  d: false,
  xd: true,
  rsv: true,
  ps: true,
  g: false,
};
const at = (cpu: number, l1: number): Op => ({
  op: 'access',
  cpu,
  l4: 0,
  l2: 0,
  l1,
  kind: 0,
  user: false,
});
const pte = (index: number): Op => ({ op: 'pte', pt: 0, index, target: 0, flags: NP, cpu: 0 });
const write: Op = { op: 'write', entry: { level: 1, slot: 0, index: 0, target: 0, flags: NP } };
const regs: Op = { op: 'regs', smep: false, smap: false, ac: false };

// vCPU 1 caches linear 0x1000; vCPU 0's INVLPG of it zapped the shared shadow leaf but left
// vCPU 1's TLB alone, so after vCPU 0 made the guest PTE non-present (an emulated write that
// found no shadow entry left to zap) vCPU 1 still translated it (op 11).
it('seed -997195976: a leaf zapped by INVLPG on vCPU 0 leaves no translation in vCPU 1', () => {
  const ops: Op[] = [
    at(1, 1),
    pte(0),
    { op: 'invlpg', l2: 0, l1: 1, cpu: 0 },
    at(0, 0),
    at(0, 0),
    at(0, 0),
    write,
    at(0, 0),
    pte(1),
    at(0, 0),
    at(1, 1),
    write,
    regs,
    at(0, 0),
    at(0, 0),
    write,
    pte(0),
    pte(0),
    regs,
    at(0, 0),
    at(0, 0),
  ];
  runDifferential([], ops);
});
