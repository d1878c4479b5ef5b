import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bootProtocol,
  DeviceType,
  decodeBootInfo,
  encodeBootInfo,
  encodeDeviceList,
  encodeMemoryMap,
  GuestError,
  MemoryType,
} from '../src/index.js';

const include = fileURLToPath(new URL('../native/include/', import.meta.url));

function gccAvailable(): boolean {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const gcc = gccAvailable();
if (!gcc) console.log('skipping the C-header oracle: gcc not installed');

/** Compiles a program against the C headers and returns what it prints: the header is the oracle. */
function fromHeaders(): Record<string, number> {
  const dir = mkdtempSync(join(tmpdir(), 'vmkit-guest-'));
  try {
    const src = join(dir, 'probe.c');
    writeFileSync(
      src,
      `#include <stdio.h>
#include <stddef.h>
#include "bootinfo.h"
#include "layout.h"
#include "hypercall.h"
#define P(name, v) printf("%s %llu\\n", name, (unsigned long long)(v))
#define O(f) P("off_" #f, offsetof(struct vmkit_boot_info, f))
int main(void) {
  P("magic", VMKIT_BOOT_MAGIC); P("version", VMKIT_BOOT_VERSION); P("size", sizeof(struct vmkit_boot_info));
  P("mem", sizeof(struct vmkit_mem_entry)); P("dev", sizeof(struct vmkit_device));
  O(cpu_count); O(cpu_id); O(cmdline); O(cmdline_len); O(mem_count); O(mem_map); O(device_count); O(devices);
  P("mem_type", offsetof(struct vmkit_mem_entry, type)); P("dev_base", offsetof(struct vmkit_device, base));
  P("uart", VMKIT_UART_PORT); P("exit", VMKIT_DEBUG_EXIT_PORT); P("fault", VMKIT_EXIT_KERNEL_FAULT); P("panic", VMKIT_EXIT_PANIC);
  P("usable", VMKIT_MEM_USABLE); P("reserved", VMKIT_MEM_RESERVED); P("duart", VMKIT_DEV_UART16550); P("dexit", VMKIT_DEV_DEBUG_EXIT);
  P("kbase", KERNEL_BASE); P("direct", DIRECT_MAP_LIMIT); P("ubase", USER_BASE);
  P("hc_print", VMKIT_HC_PRINT); P("hc_exit", VMKIT_HC_EXIT);
  printf("sig %s\\n", VMKIT_HV_SIGNATURE);
  return 0;
}
`,
    );
    execFileSync('gcc', ['-I', include, '-o', join(dir, 'probe'), src]);
    const out = execFileSync(join(dir, 'probe'), { encoding: 'utf8' });
    const map: Record<string, number> = {};
    for (const line of out.trim().split('\n')) {
      const [k, v] = line.split(' ');
      map[k as string] = k === 'sig' ? (v?.length ?? 0) : Number(v);
      if (k === 'magic') map.magic_hex = Number(BigInt(v as string) === bootProtocol.magic);
      if (k === 'sig') map.sig_ok = Number(v === bootProtocol.hypervisorSignature);
    }
    return map;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('boot protocol constants', () => {
  it.skipIf(!gcc)('match the C headers the kernel is built from', () => {
    const c = fromHeaders();
    expect(c.magic_hex).toBe(1);
    expect(c.sig_ok).toBe(1);
    expect([c.version, c.size, c.mem, c.dev]).toEqual([
      bootProtocol.version,
      bootProtocol.bootInfoSize,
      bootProtocol.memoryEntrySize,
      bootProtocol.deviceEntrySize,
    ]);
    expect([
      c.off_cpu_count,
      c.off_cpu_id,
      c.off_cmdline,
      c.off_cmdline_len,
      c.off_mem_count,
      c.off_mem_map,
      c.off_device_count,
      c.off_devices,
    ]).toEqual([0x10, 0x14, 0x18, 0x20, 0x24, 0x28, 0x30, 0x38]);
    expect([c.mem_type, c.dev_base]).toEqual([16, 8]);
    expect([c.uart, c.exit, c.fault, c.panic]).toEqual([
      bootProtocol.uartPort,
      bootProtocol.debugExitPort,
      bootProtocol.exitKernelFault,
      bootProtocol.exitPanic,
    ]);
    expect([c.usable, c.reserved, c.duart, c.dexit]).toEqual([
      MemoryType.usable,
      MemoryType.reserved,
      DeviceType.uart16550,
      DeviceType.debugExit,
    ]);
    expect([c.kbase, c.direct, c.ubase]).toEqual([
      bootProtocol.kernelLoadAddress,
      bootProtocol.directMapLimit,
      bootProtocol.userBase,
    ]);
    expect([c.hc_print, c.hc_exit]).toEqual([
      bootProtocol.hypercalls.print,
      bootProtocol.hypercalls.exit,
    ]);
  });
});

describe('boot-info encoding', () => {
  const info = fc.record({
    cpuCount: fc.integer({ min: 1, max: 8 }),
    cmdlineAddress: fc.integer({ min: 0, max: 2 ** 52 - 1 }),
    cmdlineLength: fc.integer({ min: 0, max: 0xffff_ffff }),
    memoryMapCount: fc.integer({ min: 0, max: 0xffff_ffff }),
    memoryMapAddress: fc.integer({ min: 0, max: 2 ** 52 - 1 }),
    deviceCount: fc.integer({ min: 0, max: 0xffff_ffff }),
    devicesAddress: fc.integer({ min: 0, max: 2 ** 52 - 1 }),
  });

  it('round-trips and places every field at its documented offset', () => {
    fc.assert(
      fc.property(info, fc.nat(7), (fields, id) => {
        const bi = { ...fields, cpuId: id % fields.cpuCount };
        const bytes = encodeBootInfo(bi);
        expect(decodeBootInfo(bytes)).toEqual(bi);
        const v = new DataView(bytes.buffer);
        expect(v.getUint32(0x14, true)).toBe(bi.cpuId);
        expect(Number(v.getBigUint64(0x28, true))).toBe(bi.memoryMapAddress);
        expect(v.getUint32(0x34, true)).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses out-of-range fields with BAD_OPTIONS', () => {
    const ok = {
      cpuCount: 2,
      cpuId: 0,
      cmdlineAddress: 0,
      cmdlineLength: 0,
      memoryMapCount: 0,
      memoryMapAddress: 0,
      deviceCount: 0,
      devicesAddress: 0,
    };
    for (const bad of [
      { cpuCount: 9 },
      { cpuId: 2 },
      { cmdlineAddress: 2 ** 52 },
      { cmdlineLength: -1 },
      { deviceCount: 1.5 },
    ]) {
      expect(() => encodeBootInfo({ ...ok, ...bad })).toThrow(GuestError);
    }
    expect(() => decodeBootInfo(new Uint8Array(64))).toThrow(/magic/);
  });

  it('encodes the memory map and device list as the runner does', () => {
    const map = encodeMemoryMap([
      { base: 0, length: 0x10_0000, type: MemoryType.reserved },
      { base: 0x10_0000, length: 127 * 2 ** 20, type: MemoryType.usable },
    ]);
    const v = new DataView(map.buffer);
    expect([
      Number(v.getBigUint64(24, true)),
      Number(v.getBigUint64(32, true)),
      v.getUint32(40, true),
    ]).toEqual([0x10_0000, 127 * 2 ** 20, 1]);
    const dev = new DataView(
      encodeDeviceList([{ type: DeviceType.uart16550, flags: 0, base: 0x3f8, size: 8 }]).buffer,
    );
    expect([
      dev.getUint32(0, true),
      Number(dev.getBigUint64(8, true)),
      Number(dev.getBigUint64(16, true)),
    ]).toEqual([1, 0x3f8, 8]);
    expect(() => encodeMemoryMap([{ base: -1, length: 1, type: 1 }])).toThrow(GuestError);
  });
});
