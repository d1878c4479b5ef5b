import { it } from 'vitest';
import { Gen, sequences } from './support/cases.js';
import { difference, runVmkit } from './support/native.js';
import { mulberry32 } from './support/prng.js';

it('dbg', () => {
  const cases = sequences(new Gen(mulberry32(3)), 500);
  let diffs = 0;
  let faults = 0;
  for (const c of cases) {
    const a = runVmkit(c, 'step');
    const b = runVmkit(c, 'whole');
    if (a.kind === 'fault' || b.kind === 'fault') {
      faults++;
      if (faults < 3)
        console.log(
          'fault',
          a.kind === 'fault' ? a.what : 'ok',
          b.kind === 'fault' ? b.what : 'ok',
          Buffer.from(c.code).toString('hex'),
        );
    }
    if (difference(c, a, b) !== undefined) diffs++;
  }
  console.log('diffs', diffs, 'faults', faults);
});
