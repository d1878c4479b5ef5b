// A small long-mode system for the event and system-instruction tests: GDT, IDT and 64-bit
// TSS built in guest memory by hand from the SDM's descriptor formats (Vol. 3A Figures 3-8,
// 6-8 and 8-4), with selectors laid out the way SYSCALL/SYSRET expect (STAR).
import { GuestPhysicalMemory } from '@vmkit/memory';
import { Cpu, type CpuMemory, type CpuOptions, FlatMemory } from '../../src/index.js';

export const GDT = 0x2000;
export const IDT = 0x3000;
export const TSS = 0x5000;
export const KERNEL_CODE = 0x10000;
export const USER_CODE = 0x20000;
export const RSP0 = 0x70000;
export const IST1 = 0x60000;
export const USER_STACK = 0x50000;

export const KERNEL_CS = 0x08;
export const KERNEL_SS = 0x10;
export const USER32_CS = 0x18;
export const USER_SS = 0x23;
export const USER_CS = 0x2b;
export const TSS_SEL = 0x30;

/** High dwords of the code and data descriptors (base 0, limit 0xfffff, G = 1). */
export const DESCRIPTOR_HIGH: Record<number, number> = {
  [KERNEL_CS]: 0x00af9a00, // P, DPL 0, code execute/read, L = 1
  [KERNEL_SS]: 0x00cf9200, // P, DPL 0, data read/write
  [USER32_CS]: 0x00cffa00, // P, DPL 3, code, D = 1 (compatibility mode)
  [USER_SS & ~3]: 0x00cff200, // P, DPL 3, data read/write
  [USER_CS & ~3]: 0x00affa00, // P, DPL 3, code, L = 1
};

export interface GateOptions {
  type?: number;
  dpl?: number;
  ist?: number;
  selector?: number;
  present?: boolean;
}

/** Writes a 16-byte IDT gate (SDM Vol. 3A Figure 6-8). */
export function setGate(
  mem: GuestPhysicalMemory,
  vector: number,
  handler: number,
  o: GateOptions = {},
): void {
  const at = IDT + vector * 16;
  const type = o.type ?? 0xe;
  const w1 =
    (handler & 0xffff0000) |
    ((o.present ?? true) ? 0x8000 : 0) |
    ((o.dpl ?? 0) << 13) |
    (type << 8) |
    (o.ist ?? 0);
  mem.write32(at, ((o.selector ?? KERNEL_CS) << 16) | (handler & 0xffff));
  mem.write32(at + 4, w1 >>> 0);
  mem.write32(at + 8, Math.floor(handler / 2 ** 32) >>> 0);
  mem.write32(at + 12, 0);
}

/** The vector's handler address: each vector gets a HLT at KERNEL_CODE + 0x1000 + 16 * vector. */
export function handlerOf(vector: number): number {
  return KERNEL_CODE + 0x1000 + 16 * vector;
}

export interface System {
  cpu: Cpu;
  mem: GuestPhysicalMemory;
}

/**
 * 1 MiB of RAM with a GDT, an IDT whose 256 interrupt gates (DPL 0) point at HLTs
 * ({@link handlerOf}), a TSS with RSP0 and IST1, and the CPU at `code` (placed at
 * KERNEL_CODE for CPL 0, USER_CODE for CPL 3) with IDT delivery.
 */
export function system(
  code: number[],
  cpl: 0 | 3 = 0,
  options: Partial<CpuOptions> = {},
  memoryFor: (mem: GuestPhysicalMemory) => CpuMemory = (mem) => new FlatMemory(mem),
): System {
  const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: 1 << 20 }] });
  for (const [sel, high] of Object.entries(DESCRIPTOR_HIGH)) {
    mem.write32(GDT + Number(sel), 0xffff);
    mem.write32(GDT + Number(sel) + 4, high);
  }
  // 64-bit TSS descriptor (Figure 8-4): type 9 (available), P = 1, limit 0x67.
  mem.write32(GDT + TSS_SEL, ((TSS & 0xffff) << 16) | 0x67);
  mem.write32(GDT + TSS_SEL + 4, (TSS & 0xff000000) | 0x8900 | ((TSS >>> 16) & 0xff));
  mem.write32(GDT + TSS_SEL + 8, 0);
  mem.write32(GDT + TSS_SEL + 12, 0);
  mem.write32(TSS + 4, RSP0);
  mem.write32(TSS + 36, IST1);
  for (let v = 0; v < 256; v++) {
    setGate(mem, v, handlerOf(v));
    mem.write8(handlerOf(v), 0xf4);
  }
  const at = cpl === 0 ? KERNEL_CODE : USER_CODE;
  mem.writeBytes(at, Uint8Array.from(code));
  const cpu = new Cpu({ memory: memoryFor(mem), cpl, exceptionDelivery: 'idt', ...options });
  cpu.gdtr = { base: BigInt(GDT), limit: 0x3f };
  cpu.idtr = { base: BigInt(IDT), limit: 0xfff };
  cpu.tr = { selector: TSS_SEL, base: BigInt(TSS), limit: 0x67 };
  cpu.rip = BigInt(at);
  cpu.setReg('rsp', BigInt(cpl === 0 ? RSP0 - 0x1000 : USER_STACK));
  return { cpu, mem };
}

/** The qwords at [RSP, RSP + 8 * n). */
export function frame(s: System, n: number): bigint[] {
  const rsp = Number(s.cpu.getReg('rsp'));
  const out: bigint[] = [];
  for (let k = 0; k < n; k++) {
    out.push(BigInt(s.mem.read32(rsp + 8 * k)) | (BigInt(s.mem.read32(rsp + 8 * k + 4)) << 32n));
  }
  return out;
}
