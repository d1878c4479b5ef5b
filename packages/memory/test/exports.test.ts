import { expect, it } from 'vitest';
import * as api from '../src/index.js';
import * as testing from '../src/testing.js';

// Any change to the public surface shows up here in review.
it('exports exactly the public API', () => {
  expect(Object.keys(api).sort()).toEqual([
    'DirtyBitmap',
    'GuestMemoryError',
    'GuestPhysicalMemory',
    'MAX_PHYSICAL_ADDRESS_BITS',
    'PAGE_SIZE',
  ]);
  expect(Object.keys(testing)).toEqual(['describeGuestMemory']);
});
