import { expect, it } from 'vitest';
import * as api from '../src/index.js';

// Any change to the public surface shows up here in review.
it('exports exactly the public API', () => {
  expect(Object.keys(api).sort()).toEqual([
    'ApicBus',
    'DeliveryMode',
    'HostInterruptRouter',
    'InterruptError',
    'IoApic',
    'LocalApic',
    'Redirection',
    'VectorAllocator',
    'X2ApicMsr',
    'composeMsi',
    'decodeMsi',
  ]);
});
