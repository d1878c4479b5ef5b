import { expect, it } from 'vitest';
import * as api from '../src/index.js';

// Any change to the public surface shows up here in review.
it('exports exactly the public API', () => {
  expect(Object.keys(api).sort()).toEqual([
    'CTRL_RESET',
    'DESCRIPTOR_SIZE',
    'DescStatus',
    'EMPTY_BAR',
    'ETH_HEADER',
    'ETH_MAX_FRAME',
    'ETH_MIN_FRAME',
    'L2Switch',
    'QUEUE_ENABLE',
    'SRIOV_CAPABILITY_LENGTH',
    'SriovCapabilityBits',
    'SriovControl',
    'SriovError',
    'SriovNic',
    'SriovPfDriver',
    'SriovPhysicalFunction',
    'SriovReg',
    'TPID_8021Q',
    'TxCmd',
    'VfCause',
    'VfDevice',
    'VfDriver',
    'VfReg',
    'WIRE_OVERHEAD_BYTES',
    'Wire',
    'buildFrame',
    'createVirtualFunction',
    'formatMac',
    'isGroupAddress',
    'parseMac',
    'sameMac',
    'tagFrame',
    'untagFrame',
    'vlanOf',
  ]);
});
