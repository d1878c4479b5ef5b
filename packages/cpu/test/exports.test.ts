import { expect, it } from 'vitest';
import * as api from '../src/index.js';

// Any change to the public surface shows up here in review.
it('exports exactly the public API', () => {
  expect(Object.keys(api).sort()).toEqual([
    'CodeCache',
    'Cpu',
    'CpuError',
    'CpuFault',
    'FlatMemory',
    'GPR_NAMES',
    'MAX_BLOCK_INSTRUCTIONS',
    'MAX_INSTRUCTION_LENGTH',
    'MmuMemory',
    'NonRootState',
    'RIP_BASE',
    'Rep',
    'Seg',
    'VmExit',
    'buildBlock',
    'compileBlock',
    'decode',
    'defaultCpuid',
  ]);
});
