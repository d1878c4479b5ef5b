// Wall-clock speed of the Vm running guest `compute` (boot included): MIPS = instructions
// retired per microsecond of wall-clock and of this process's CPU time, best of three runs,
// and exits per run.
import { emit } from '@vmkit/test-kit';
import { Vm } from '@vmkit/vmm';

const command = 'compute n=20000 m=48 iters=2';
let best = 0;
let bestCpu = 0;
let instructions = 0;
let exits = 0;
for (let round = 0; round < 3; round++) {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const r = new Vm({ command }).run({ maxInstructions: 200_000_000 });
  const ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(c0);
  if (r.end !== 'exit' || r.status !== 0) throw new Error(`compute ended ${r.end} ${r.status}`);
  instructions = r.instructions;
  exits = r.exits.io + r.exits.msr + r.exits.hlt + r.exits.exceptions;
  best = Math.max(best, (r.instructions / ns) * 1000);
  bestCpu = Math.max(bestCpu, r.instructions / (cpu.user + cpu.system));
}
emit({ metric: 'vmm.compute.mips-wall', value: best, unit: 'MIPS' });
emit({ metric: 'vmm.compute.mips-cpu-time', value: bestCpu, unit: 'MIPS' });
emit({ metric: 'vmm.compute.instructions', value: instructions, unit: 'instructions' });
emit({ metric: 'vmm.compute.exits', value: exits, unit: 'exits' });
