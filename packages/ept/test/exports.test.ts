import { expect, it } from 'vitest';
import * as api from '../src/index.js';

// The public surface: any change shows up in review.
it('exports exactly this API', () => {
  expect(Object.keys(api).sort()).toMatchInlineSnapshot(`
    [
      "EPT",
      "EPTP",
      "EPT_EXIT_REASON",
      "EPT_MEMORY_TYPE",
      "EPT_QUALIFICATION",
      "EPT_SUPPRESS_VE_HI",
      "Ept",
      "EptBuilder",
      "EptError",
      "EptExit",
      "EptOutcome",
      "EptStats",
      "NestedMmu",
      "NestedStats",
      "REF_GUEST",
      "REF_WRITE",
      "ReferenceLog",
      "checkEptp",
      "decodeEptp",
      "eptFeaturesFromMsr",
      "makeEptp",
      "resolveEptFeatures",
    ]
  `);
});
