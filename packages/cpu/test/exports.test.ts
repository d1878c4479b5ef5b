import { expect, it } from 'vitest';
import * as api from '../src/index.js';

// Any change to the public surface shows up here in review.
it('exports exactly the public API', () => {
  expect(Object.keys(api).sort()).toEqual([
    'BranchPredictor',
    'CodeCache',
    'Cpu',
    'CpuError',
    'CpuFault',
    'DEFAULT_PREDICTOR_ENTRIES',
    'FlatMemory',
    'GPR_NAMES',
    'MAX_BLOCK_INSTRUCTIONS',
    'MAX_INSTRUCTION_LENGTH',
    'MAX_PREDICTOR_ENTRIES',
    'MmuMemory',
    'NonRootState',
    'RETIRED_CLASSES',
    'RIP_BASE',
    'Rep',
    'Seg',
    'VmExit',
    'buildBlock',
    'compileBlock',
    'decode',
    'defaultCpuid',
    'instructionClass',
  ]);
});
