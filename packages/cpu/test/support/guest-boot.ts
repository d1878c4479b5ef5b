// A tiny VMM for booting @vmkit/guest's kernel image on the interpreter, written from the
// boot protocol in packages/guest/README.md: PT_LOAD segments copied to their physical
// addresses, a 2 MiB-page identity map, the boot-info block, command line, memory map and
// device list below 1 MiB, then a run loop serving the 16550 UART (0x3F8), the debug-exit
// port (0xF4) and the x2APIC MSRs (with a periodic timer on vector 32).
import { existsSync, readFileSync } from 'node:fs';
import { guestImagePath } from '@vmkit/guest';
import { GuestPhysicalMemory } from '@vmkit/memory';
import { Mmu } from '@vmkit/paging';
import { Cpu, MmuMemory } from '../../src/index.js';

/** The image built by @vmkit/guest (a dev dependency, so turbo builds it before cpu's tests). */
export const GUEST_IMAGE = guestImagePath;

const MIB = 1 << 20;

export interface BootResult {
  /** The console output. */
  output: string;
  /** The debug-exit status, or undefined when the run did not reach it. */
  status: number | undefined;
  /** Why the run ended. */
  end: string;
  /** Instructions retired. */
  instructions: number;
  /** The CPU, for inspecting where it stopped. */
  cpu: Cpu;
}

function loadElf(mem: GuestPhysicalMemory, image: Uint8Array): number {
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const entry = Number(v.getBigUint64(24, true));
  const phoff = Number(v.getBigUint64(32, true));
  const phentsize = v.getUint16(54, true);
  const phnum = v.getUint16(56, true);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (v.getUint32(ph, true) !== 1) continue; // PT_LOAD
    const offset = Number(v.getBigUint64(ph + 8, true));
    const paddr = Number(v.getBigUint64(ph + 24, true));
    const filesz = Number(v.getBigUint64(ph + 32, true));
    mem.writeBytes(paddr, image.subarray(offset, offset + filesz));
  }
  return entry;
}

/**
 * Boots the image with `command` on one vCPU and runs up to `budget` instructions.
 *
 * @param command - the kernel command line
 * @param budget - instruction limit
 * @param ramMiB - guest RAM
 */
export function bootGuest(command: string, budget: number, ramMiB = 128): BootResult {
  const ram = ramMiB * MIB;
  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: ram }] });
  const entry = loadElf(mem, new Uint8Array(readFileSync(GUEST_IMAGE)));
  // Identity map of [0, min(RAM, 1 GiB)) with 2 MiB pages: PML4 0x1000, PDPT 0x2000, PD 0x3000.
  mem.write32(0x1000, 0x2000 | 3);
  mem.write32(0x2000, 0x3000 | 3);
  for (let k = 0; k * 2 * MIB < Math.min(ram, 1024 * MIB); k++) {
    mem.write32(0x3000 + 8 * k, ((k * 2 * MIB) | 0x83) >>> 0);
  }
  // Boot info (0x5000), command line (0x6000), memory map (0x7000), devices (0x7400).
  const w64 = (at: number, v: number) => {
    mem.write32(at, v >>> 0);
    mem.write32(at + 4, Math.floor(v / 2 ** 32));
  };
  w64(0x5000, 0x494b4d56);
  mem.write32(0x5004, 0x31494254);
  mem.write32(0x5008, 1);
  mem.write32(0x500c, 64);
  mem.write32(0x5010, 1);
  mem.write32(0x5014, 0);
  w64(0x5018, 0x6000);
  mem.write32(0x5020, command.length);
  mem.write32(0x5024, 2);
  w64(0x5028, 0x7000);
  mem.write32(0x5030, 2);
  w64(0x5038, 0x7400);
  mem.writeBytes(0x6000, new TextEncoder().encode(`${command}\0`));
  w64(0x7000, 0);
  w64(0x7008, MIB);
  mem.write32(0x7010, 2);
  w64(0x7018, MIB);
  w64(0x7020, ram - MIB);
  mem.write32(0x7028, 1);
  mem.write32(0x7400, 1);
  w64(0x7408, 0x3f8);
  w64(0x7410, 8);
  mem.write32(0x7418, 2);
  w64(0x7420, 0xf4);
  w64(0x7428, 4);

  let cpu: Cpu | undefined;
  const mmu = new Mmu(mem, { features: { maxPhyAddr: 36 } });
  const memory = new MmuMemory(mmu, mem, { rflags: () => cpu!.flags });
  cpu = new Cpu({
    memory,
    exceptionDelivery: 'idt',
    hostMsr: (i) => i >= 0x800 && i <= 0x8ff,
  });
  cpu.cs = 0x10;
  cpu.ss = 0x18;
  cpu.tr = { selector: 0, base: 0n, limit: 0x67 };
  cpu.cr3 = 0x1000n;
  cpu.syncPaging();
  cpu.rip = BigInt(entry);
  cpu.setReg('rdi', 0x5000n);

  let output = '';
  let status: number | undefined;
  let timerArmed = false;
  let lcr = 0;
  const TICK = 1_000_000;
  let nextTick = TICK;
  let end = 'budget';
  const slice = 200_000;
  while (cpu.instructions < budget) {
    const stop = cpu.run(Math.min(slice, budget - cpu.instructions));
    if (timerArmed && cpu.instructions >= nextTick && cpu.pendingInterrupt === undefined) {
      cpu.requestInterrupt(32);
      nextTick = cpu.instructions + TICK;
    }
    if (stop.kind === 'budget') continue;
    if (stop.kind === 'io') {
      if (stop.direction === 'out') {
        // 16550: with LCR.DLAB (bit 7) set, port 0x3F8 is the divisor latch, not THR.
        if (stop.port === 0x3fb) lcr = stop.value! & 0xff;
        else if (stop.port === 0x3f8 && (lcr & 0x80) === 0) {
          output += String.fromCharCode(stop.value! & 0xff);
        } else if (stop.port === 0xf4) {
          status = stop.value;
          end = 'exit';
          break;
        }
      } else {
        cpu.completeIn(stop.port === 0x3fd ? 0x60 : 0);
      }
      continue;
    }
    if (stop.kind === 'msr') {
      if (stop.direction === 'read') cpu.completeRdmsr(0n);
      else if (stop.index === 0x838 && stop.value !== 0n) timerArmed = true;
      continue;
    }
    if (stop.kind === 'hlt') {
      if (!timerArmed || (cpu.flags & 0x200) === 0) {
        end = 'hlt with no interrupt to wait for';
        break;
      }
      if (cpu.pendingInterrupt === undefined) cpu.requestInterrupt(32);
      nextTick = cpu.instructions + TICK;
      continue;
    }
    end = JSON.stringify(stop, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v));
    break;
  }
  return { output, status, end, instructions: cpu.instructions, cpu };
}

/** Whether the guest image exists (it is built by packages/guest). */
export function guestImageAvailable(): boolean {
  return existsSync(GUEST_IMAGE);
}
