// Side-by-side bench helper: kbuild through the Vm under native and ept, wall time, MIPS and
// blocks decoded (counted by wrapping each CPU's code-cache insert).
import { Vm } from '@vmkit/vmm';

const mmus = (process.env.MMUS ?? 'native,ept').split(',');
const command = process.env.CMD ?? 'kbuild tasks=16 jobs=4';
const vcpus = Number(process.env.VCPUS ?? '1');
const rounds = Number(process.env.ROUNDS ?? '2');
for (const mmu of mmus) {
  let best = Number.POSITIVE_INFINITY;
  let decodes = 0;
  let instructions = 0;
  for (let r = 0; r < rounds; r++) {
    const vm = new Vm({ command, mmu: mmu as 'native', vcpus });
    let n = 0;
    const seen = new Set<unknown>();
    for (const v of vm.vcpus) {
      const code = v.cpu.code as unknown as { insert: (b: unknown) => void };
      if (seen.has(code)) continue;
      seen.add(code);
      const orig = code.insert.bind(code);
      code.insert = (b) => {
        n++;
        orig(b);
      };
    }
    const c0 = process.cpuUsage();
    const res = vm.run({ maxInstructions: 400_000_000 });
    const c = process.cpuUsage(c0);
    if (res.end !== 'exit' || res.status !== 0) throw new Error(`${mmu}: ${res.end} ${res.status}`);
    const ms = (c.user + c.system) / 1000;
    best = Math.min(best, ms);
    decodes = n;
    instructions = res.instructions;
  }
  console.log(
    JSON.stringify({
      tree: process.env.TREE,
      mmu,
      vcpus,
      command,
      cpuMs: Math.round(best),
      mips: +(instructions / best / 1000).toFixed(2),
      instructions,
      decodes,
    }),
  );
}
