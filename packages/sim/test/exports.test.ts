import { expect, it } from 'vitest';
import * as api from '../src/index.js';

// Any change to the public surface shows up here in review.
it('exports exactly the public API', () => {
  expect(Object.keys(api).sort()).toMatchInlineSnapshot(`
    [
      "CACHE_LEVELS",
      "CacheHierarchy",
      "CacheLevel",
      "CostModel",
      "CreditScheduler",
      "EXIT_KINDS",
      "INSTRUCTION_CLASSES",
      "MEMORY_LEVELS",
      "Metrics",
      "SHADOW_KINDS",
      "SOURCE_KINDS",
      "SimError",
      "SimLock",
      "Simulation",
      "defaultProfile",
      "diffProfiles",
      "loadProfile",
      "profileFigures",
      "walkCacheGeometry",
      "withFigures",
    ]
  `);
});
