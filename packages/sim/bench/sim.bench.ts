import { CostModel, type EventKind } from '@vmkit/sim';
import { emit, opsPerSecond } from '@vmkit/test-kit';

const model = new CostModel();
const kinds: EventKind[] = model.eventCosts().map(([k]) => k);
let sink = 0;
emit({
  metric: 'sim.cost.lookup',
  value: opsPerSecond(() => {
    for (const k of kinds) sink += model.cost(k);
  }, kinds.length),
  unit: 'ops/s',
});
if (sink < 0) console.log(sink);
