// Builds test/native/program/workload.c twice with gcc: freestanding (a flat image loaded at
// 0x100000 and run by vmkit) and as a host program that prints the same checksum.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cpu, FlatMemory, type StopReason } from '@vmkit/cpu';
import { GuestPhysicalMemory } from '@vmkit/memory';

/** Where the flat image is loaded (link.ld). */
export const LOAD = 0x10_0000;

/** The freestanding gcc flags: general registers only, as the issue specifies. */
export const GUEST_CFLAGS = [
  '-ffreestanding',
  '-nostdlib',
  '-static',
  '-fno-pic',
  '-no-pie',
  '-mgeneral-regs-only',
  '-mno-red-zone',
  '-mpopcnt',
  '-mlzcnt',
  '-fno-stack-protector',
  '-fno-tree-loop-distribute-patterns',
  '-fcf-protection=full',
  '-DFREESTANDING',
];

/** The built workload: the flat image and a host executable. */
export interface Workload {
  readonly image: Uint8Array;
  readonly host: string;
}

/**
 * Builds the workload, or says why it cannot (no gcc, not x86-64 Linux).
 *
 * @param opt - the guest's gcc optimization flag (the host build is always -O2)
 */
export function buildWorkload(opt = '-O2'): Workload | { skip: string } {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    execFileSync('objcopy', ['--version'], { stdio: 'ignore' });
  } catch {
    return { skip: 'gcc/objcopy not installed: the whole-program test is skipped' };
  }
  if (process.arch !== 'x64' || process.platform !== 'linux') {
    return { skip: `the host is ${process.platform}/${process.arch}, not linux/x64` };
  }
  const src = (f: string): string =>
    fileURLToPath(new URL(`../native/program/${f}`, import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'vmkit-cpu-workload-'));
  const elf = join(dir, 'workload.elf');
  const bin = join(dir, 'workload.bin');
  const host = join(dir, 'workload-host');
  execFileSync('gcc', [
    opt,
    ...GUEST_CFLAGS,
    '-T',
    src('link.ld'),
    '-Wl,--build-id=none',
    '-Wl,--no-warn-rwx-segments',
    '-o',
    elf,
    src('start.S'),
    src('workload.c'),
  ]);
  execFileSync('objcopy', ['-O', 'binary', elf, bin]);
  execFileSync('gcc', ['-O2', '-o', host, src('workload.c')]);
  return { image: Uint8Array.from(readFileSync(bin)), host };
}

/** The checksum the host build prints for `rounds`. */
export function hostChecksum(w: Workload, rounds: number): bigint {
  return BigInt(execFileSync(w.host, [String(rounds)], { encoding: 'utf8' }).trim());
}

/** A CPU with the workload loaded, RSP at 1 MiB - 16 and RDI = rounds. */
export function loadWorkload(w: Workload, rounds: number): Cpu {
  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 4 << 20 }] });
  mem.writeBytes(LOAD, w.image);
  const cpu = new Cpu({ memory: new FlatMemory(mem) });
  cpu.rip = BigInt(LOAD);
  cpu.setReg('rsp', 0x10_0000n - 16n);
  cpu.setReg('rdi', BigInt(rounds));
  return cpu;
}

/** Runs to HLT (or another stop) in budget slices. */
export function runToStop(cpu: Cpu, limit: number): StopReason {
  for (;;) {
    const stop = cpu.run(Math.min(limit, 1_000_000));
    if (stop.kind !== 'budget' || cpu.instructions >= limit) return stop;
  }
}
