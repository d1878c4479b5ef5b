// Wall-clock speed of the Vm under each memory strategy, side by side in one run: MIPS =
// instructions retired per microsecond of wall clock (boot included), best of two runs per
// strategy, for a compute-bound guest (`compute`) and a page-table-heavy one (`kbuild`), plus
// the VM exits and simulated seconds of each run (what the strategies cost the guest, as
// opposed to what they cost the interpreter).
import { emit } from '@vmkit/test-kit';
import { MMU_STRATEGIES, Vm } from '@vmkit/vmm';

const workloads = ['compute n=20000 m=48 iters=2', 'kbuild tasks=16 jobs=4'];
for (const command of workloads) {
  const name = command.split(' ')[0];
  for (const mmu of MMU_STRATEGIES) {
    let best = 0;
    let exits = 0;
    let seconds = 0;
    for (let round = 0; round < 2; round++) {
      const t0 = process.hrtime.bigint();
      const r = new Vm({ command, mmu }).run({ maxInstructions: 200_000_000 });
      const ns = Number(process.hrtime.bigint() - t0);
      if (r.end !== 'exit' || r.status !== 0) throw new Error(`${command} ended ${r.end}`);
      best = Math.max(best, (r.instructions / ns) * 1000);
      exits = r.perVcpu.reduce((a, p) => a + p.exits, 0);
      seconds = r.simulatedSeconds;
    }
    emit({ metric: `vmm.${name}.${mmu}.mips-wall`, value: best, unit: 'MIPS' });
    emit({ metric: `vmm.${name}.${mmu}.exits`, value: exits, unit: 'exits' });
    emit({ metric: `vmm.${name}.${mmu}.simulated`, value: seconds, unit: 's' });
  }
}
