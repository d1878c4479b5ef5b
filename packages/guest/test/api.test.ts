import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as api from '../src/index.js';
import { GuestError, guestImages, guestPrograms, parseResults, runOnKvm } from '../src/index.js';

describe('public API', () => {
  it('exports exactly this surface', () => {
    expect(Object.keys(api).sort()).toEqual(
      [
        'DeviceType',
        'GuestError',
        'MemoryType',
        'bootProtocol',
        'decodeBootInfo',
        'encodeBootInfo',
        'encodeDeviceList',
        'encodeMemoryMap',
        'guestImagePath',
        'guestImages',
        'guestPrograms',
        'kvmRunnerPath',
        'kvmUsability',
        'parseElfImage',
        'parseResults',
        'runOnKvm',
      ].sort(),
    );
  });

  it('lists every program the image knows, and the image knows every listed program', () => {
    const table = readFileSync(new URL('../native/user/main.c', import.meta.url), 'utf8');
    const userPrograms = [...table.matchAll(/\{"(\w+)", prog_\w+\}/g)].map((m) => m[1]);
    expect(guestPrograms.filter((p) => p.mode === 'user').map((p) => p.name)).toEqual(userPrograms);
    const kmain = readFileSync(new URL('../native/kernel/main.c', import.meta.url), 'utf8');
    for (const p of guestPrograms.filter((q) => q.mode === 'kernel'))
      expect(kmain).toContain(`command_is("${p.name}")`);
    expect(guestImages[0]?.programs.length).toBe(guestPrograms.length);
  });

  it('parses RESULT lines and ignores everything else', () => {
    expect(
      parseResults(
        'boot\nRESULT spin procs=4 acquisitions=8\nnoise RESULT x\nRESULT  hello  pid=1 \n',
      ),
    ).toEqual([
      { program: 'spin', fields: { procs: '4', acquisitions: '8' } },
      { program: 'hello', fields: { pid: '1' } },
    ]);
  });

  it('validates run options before touching KVM', async () => {
    for (const bad of [
      { cpus: 0 },
      { cpus: 9 },
      { memoryMiB: 2 },
      { memoryMiB: 2048 },
      { command: 'x\0y' },
      { command: 'a'.repeat(1024) },
      { timeoutSeconds: 0 },
    ]) {
      await expect(runOnKvm(bad)).rejects.toSatisfy(
        (e: unknown) => e instanceof GuestError && e.code === 'BAD_OPTIONS',
      );
    }
    await expect(runOnKvm({ runner: '/nonexistent/kvm-run' })).rejects.toSatisfy(
      (e: unknown) =>
        e instanceof GuestError && (e.code === 'RUNNER_MISSING' || e.code === 'KVM_UNAVAILABLE'),
    );
  });
});
