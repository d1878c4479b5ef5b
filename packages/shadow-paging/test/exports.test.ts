import { expect, it } from 'vitest';
import * as api from '../src/index.js';

// The public surface: any change shows up in review.
it('exports exactly this API', () => {
  expect(Object.keys(api).sort()).toMatchInlineSnapshot(`
    [
      "GuestView",
      "ShadowError",
      "ShadowFaultKind",
      "ShadowLock",
      "ShadowMmu",
      "ShadowOutcome",
      "ShadowResult",
      "ShadowStats",
      "ShadowVcpu",
    ]
  `);
});
