import { expect, it } from 'vitest';
import * as api from '../src/index.js';

// Any change to the public surface shows up here in review.
it('exports exactly the public API', () => {
  expect(Object.keys(api).sort()).toEqual([
    'EMPTY_BAR',
    'SRIOV_CAPABILITY_LENGTH',
    'SriovCapabilityBits',
    'SriovControl',
    'SriovError',
    'SriovPfDriver',
    'SriovPhysicalFunction',
    'SriovReg',
    'createVirtualFunction',
  ]);
});
