// Builds and drives the native differential-test harness (test/native/harness.c) and runs
// the same cases on vmkit with the same addresses.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuestPhysicalMemory } from '@vmkit/memory';
import { EFER } from '@vmkit/x86';
import { Cpu, FlatMemory, GPR_NAMES } from '../../src/index.js';

/** The harness's fixed mapping (see harness.c). */
export const BASE = 0x2000_0000;
/** The 512-byte data buffer both sides compare. */
export const BUFFER = BASE + 0x1000;
/** Size of the data buffer. */
export const BUFFER_SIZE = 512;
/** Where the instruction bytes are placed. */
export const CODE = BASE + 0x2000;

/** One differential case. */
export interface Case {
  /** A label for failure messages. */
  readonly name: string;
  /** The instruction bytes (one or a few instructions). */
  readonly code: Uint8Array;
  /** RAX..R15 before. */
  readonly regs: bigint[];
  /** RFLAGS before. */
  readonly rflags: bigint;
  /** The data buffer before. */
  readonly buffer: Uint8Array;
  /** RFLAGS bits the SDM leaves undefined for this case (not compared). */
  readonly undefinedFlags: number;
  /** Register indices whose value the SDM leaves undefined for this case (not compared). */
  readonly undefinedRegs?: readonly number[];
}

/** The state after a case: registers, RFLAGS and buffer, or the fault. */
export type Outcome =
  | {
      readonly kind: 'ok';
      readonly regs: bigint[];
      readonly rflags: bigint;
      readonly buffer: Uint8Array;
    }
  | { readonly kind: 'fault'; readonly what: string };

/** Compiles the harness with gcc into a temporary directory; returns its path or why not. */
export function buildHarness(): { path: string } | { skip: string } {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
  } catch {
    return { skip: 'gcc is not installed: the differential test against the host CPU is skipped' };
  }
  if (process.arch !== 'x64' || process.platform !== 'linux') {
    return { skip: `the host is ${process.platform}/${process.arch}, not linux/x64` };
  }
  const dir = mkdtempSync(join(tmpdir(), 'vmkit-cpu-harness-'));
  const out = join(dir, 'harness');
  const src = fileURLToPath(new URL('../native/harness.c', import.meta.url));
  execFileSync('gcc', ['-O1', '-o', out, src]);
  return { path: out };
}

const hex64 = (v: bigint): string => BigInt.asUintN(64, v).toString(16).padStart(16, '0');

/** Runs cases natively; one harness process for the whole batch. */
export function runNative(harness: string, cases: readonly Case[]): Outcome[] {
  const input = cases
    .map(
      (c) =>
        `${Buffer.from(c.code).toString('hex')} ${c.regs.map(hex64).join(' ')} ${hex64(c.rflags)} ${Buffer.from(c.buffer).toString('hex')}\n`,
    )
    .join('');
  const r = spawnSync(harness, [], { input, maxBuffer: 1 << 30, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`harness failed: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  if (lines.length !== cases.length) throw new Error(`harness returned ${lines.length} lines`);
  return lines.map((line) => {
    const parts = line.split(' ');
    if (parts[0] === 'sig') return { kind: 'fault', what: signalClass(Number(parts[1])) };
    if (parts[0] !== 'ok') throw new Error(`harness: ${line}`);
    const regs = parts.slice(1, 17).map((h) => BigInt(`0x${h}`));
    return {
      kind: 'ok',
      regs,
      rflags: BigInt(`0x${parts[17]}`),
      buffer: Uint8Array.from(Buffer.from(parts[18]!, 'hex')),
    };
  });
}

// Linux reports #DE as SIGFPE, #UD as SIGILL, #GP/#PF as SIGSEGV and #SS (and some #GP) as
// SIGBUS.
function signalClass(sig: number): string {
  if (sig === 8) return 'divide';
  if (sig === 4) return 'invalid';
  if (sig === 11 || sig === 7) return 'protection';
  return `signal ${sig}`;
}

function vectorClass(vector: number): string {
  if (vector === 0) return 'divide';
  if (vector === 6) return 'invalid';
  if (vector === 13 || vector === 12 || vector === 14) return 'protection';
  return `vector ${vector}`;
}

const memory = new GuestPhysicalMemory({ ram: [{ base: BASE, size: 0x10000 }] });
const flat = new FlatMemory(memory);

/**
 * Runs a case on vmkit at CPL 3 with the harness's addresses. `step` runs one instruction per
 * `run(1)` call until RIP reaches the end of the code; `whole` puts a UD2 after the code and
 * runs it in one call, so whole blocks (and their fast path) execute.
 */
export function runVmkit(c: Case, mode: 'step' | 'whole' = 'step'): Outcome {
  memory.fill(BASE, 0x10000, 0);
  memory.writeBytes(BUFFER, c.buffer);
  memory.writeBytes(CODE, c.code);
  if (mode === 'whole') memory.writeBytes(CODE + c.code.length, Uint8Array.of(0x0f, 0x0b));
  const cpu = new Cpu({ memory: flat, cpl: 3 });
  // As in the host process: Linux enables SYSCALL/SYSRET (EFER.SCE).
  cpu.efer |= EFER.SCE;
  GPR_NAMES.forEach((name, i) => {
    cpu.setReg(name, c.regs[i]!);
  });
  cpu.rflags = c.rflags;
  cpu.rip = BigInt(CODE);
  const end = CODE + c.code.length;
  if (mode === 'whole') {
    const stop = cpu.run(100_000);
    if (stop.kind !== 'exception') return { kind: 'fault', what: `stopped: ${stop.kind}` };
    if (stop.vector !== 6 || cpu.ripLinear !== end) {
      return { kind: 'fault', what: vectorClass(stop.vector) };
    }
  } else {
    for (let steps = 0; cpu.ripLinear !== end; steps++) {
      if (steps > 100_000) return { kind: 'fault', what: 'did not finish' };
      const stop = cpu.run(1);
      if (stop.kind === 'exception') return { kind: 'fault', what: vectorClass(stop.vector) };
      if (stop.kind === 'hlt') return { kind: 'fault', what: 'hlt' };
    }
  }
  const buffer = new Uint8Array(BUFFER_SIZE);
  memory.readBytes(BUFFER, buffer);
  return { kind: 'ok', regs: GPR_NAMES.map((n) => cpu.getReg(n)), rflags: cpu.rflags, buffer };
}

/** Describes how a vmkit outcome differs from the native one, or returns undefined. */
export function difference(c: Case, native: Outcome, mine: Outcome): string | undefined {
  if (native.kind === 'fault' || mine.kind === 'fault') {
    const a = native.kind === 'fault' ? native.what : 'ok';
    const b = mine.kind === 'fault' ? mine.what : 'ok';
    return a === b ? undefined : `native ${a}, vmkit ${b}`;
  }
  const diffs: string[] = [];
  for (let r = 0; r < 16; r++) {
    if (c.undefinedRegs?.includes(r)) continue;
    if (native.regs[r] !== mine.regs[r]) {
      diffs.push(`${GPR_NAMES[r]}: native ${hex64(native.regs[r]!)} vmkit ${hex64(mine.regs[r]!)}`);
    }
  }
  const mask = BigInt(~c.undefinedFlags >>> 0);
  if ((native.rflags & mask) !== (mine.rflags & mask)) {
    diffs.push(
      `rflags: native ${native.rflags.toString(16)} vmkit ${mine.rflags.toString(16)} (compared ${mask.toString(16)})`,
    );
  }
  for (let i = 0; i < BUFFER_SIZE; i++) {
    if (native.buffer[i] !== mine.buffer[i]) {
      diffs.push(`buffer[${i}]: native ${native.buffer[i]} vmkit ${mine.buffer[i]}`);
      break;
    }
  }
  return diffs.length === 0 ? undefined : diffs.join('; ');
}
