// INS writing over guest code. The VM's vCPUs share a physical code cache to which every store
// through a vCPU's memory is reported; here the store is an INS, done by the CPU under `native`
// and emulated by the VMM from the I/O exit under `spt`, `ept` and `ept-lp` (src/string-io.ts).
// The guest (support/ins-code-guest.s) runs a routine once, so its block is compiled and cached,
// overwrites the routine's immediate with a REP INSB from a port, and runs it again: it must
// return the new value under all four strategies, which a stale cached block would not.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MMU_STRATEGIES, type PioDevice, Vm } from '../src/index.js';
import { elf } from './support/elf.js';
import { INS_CODE_GUEST, insCodeSource, ROUTINE } from './support/ins-code-guest.js';

const BASE = 0x10_0000;
const NEW_IMMEDIATE = [0x78, 0x56, 0x34, 0x12];

/** Port 0x530: reads return the bytes of the new immediate, in order; counts the reads. */
function immediatePort(): PioDevice & { reads: number } {
  return {
    reads: 0,
    read(_offset, size) {
      expect(size).toBe(1);
      return NEW_IMMEDIATE[this.reads++]!;
    },
    write() {},
  };
}

describe('INS over guest code', () => {
  for (const mmu of MMU_STRATEGIES) {
    it(`${mmu}: the routine run again after the INS returns the new immediate`, () => {
      const vm = new Vm({ image: elf(INS_CODE_GUEST), memoryMiB: 4, mmu });
      const port = immediatePort();
      vm.pio.register(0x530, 1, port);
      const r = vm.run({ maxInstructions: 10_000 });
      expect([r.end, r.status]).toEqual(['exit', 0]);
      expect(port.reads).toBe(4);
      const code = new Uint8Array(6);
      vm.memory.readBytes(BASE + ROUTINE, code);
      expect([...code]).toEqual([0xb8, ...NEW_IMMEDIATE, 0xc3]);
      const cpu = vm.vcpus[0]!.cpu;
      expect(cpu.getReg('rbx')).toBe(0x1111_1111n);
      expect(cpu.getReg('rsi')).toBe(0x1234_5678n);
      // Who moved the bytes: the CPU in root mode, the VMM after an I/O exit otherwise.
      const ioExits = r.exitsByReason['I/O instruction'] ?? 0;
      if (mmu === 'native') expect(r.exitsByReason).toEqual({});
      else expect(ioExits).toBeGreaterThanOrEqual(2); // the REP INSB and the debug-exit OUT
    });
  }

  it('the guest bytes come from the listed source (checked when binutils are installed)', () => {
    let dir: string | undefined;
    try {
      dir = mkdtempSync(join(tmpdir(), 'vmkit-ins-code-'));
      const src = join(dir, 'g.s');
      writeFileSync(src, insCodeSource());
      execFileSync('as', ['--64', '-o', join(dir, 'g.o'), src], { stdio: 'pipe' });
      execFileSync(
        'objcopy',
        ['-O', 'binary', '-j', '.text', join(dir, 'g.o'), join(dir, 'g.bin')],
        {
          stdio: 'pipe',
        },
      );
      expect(Uint8Array.from(readFileSync(join(dir, 'g.bin')))).toEqual(INS_CODE_GUEST);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      console.warn('binutils not installed: the guest bytes were not re-assembled');
    } finally {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    }
  });
});
