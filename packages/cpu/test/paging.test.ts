// The CPU through 4-level paging (@vmkit/paging's Mmu behind MmuMemory): page faults with
// paging's error code delivered through the IDT with CR2, a guest #PF handler that maps the
// page and returns, user/supervisor and fetch rights, accesses crossing pages, INVLPG and CR3
// effects on data and on cached code, and implicit supervisor accesses under SMAP. Error-code
// bits are SDM Vol. 3A §4.7 (Figure 4-12).
import { CR4, EFER, PFEC, PTE, RFLAGS, Vector } from '@vmkit/x86';
import { describe, expect, it } from 'vitest';
import { buildTables, PD, paged, pteOf } from './support/paged.js';
import { frame, handlerOf, KERNEL_CODE, USER_CODE, USER_STACK } from './support/system.js';

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
// mov r32, [disp32] with ModRM reg = r
const load = (r: number, at: number): number[] => [0x8b, 0x04 | (r << 3), 0x25, ...le32(at)];
// mov dword [disp32], imm32
const store = (at: number, v: number): number[] => [0xc7, 0x04, 0x25, ...le32(at), ...le32(v)];

describe('page faults', () => {
  it('delivers #PF for an unmapped page with CR2; a guest handler maps it and IRETQ retries', () => {
    const s = paged([...load(0, 0x200010), 0xf4]);
    // The #PF handler: PDE[1] -> a new page table whose entry 0 maps physical 0x80000, then
    // drop the error code and return to the faulting instruction.
    const handler = [
      ...store(PD + 8, 0x94000 | 3),
      ...store(0x94000, 0x80000 | 3),
      0x48,
      0x83,
      0xc4,
      0x08,
      0x48,
      0xcf,
    ];
    s.mem.writeBytes(handlerOf(Vector.PF), Uint8Array.from(handler));
    s.mem.write32(0x80010, 0x5eed);
    // Delivery retires nothing: one instruction of the handler (an 11-byte store) runs.
    expect(s.cpu.run(1)).toEqual({ kind: 'budget' });
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.PF) + 11));
    expect(s.cpu.cr2).toBe(0x200010n);
    expect(frame(s, 2)).toEqual([0n, BigInt(KERNEL_CODE)]); // not present, read, supervisor
    expect(s.cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(s.cpu.getReg('rax')).toBe(0x5eedn);
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE + 8));
  });

  it('reports user reads and writes of supervisor pages with P|U/S(|W/R)', () => {
    const r = paged([...load(0, 0x30000)], 3);
    r.cpu.run(10);
    expect(r.cpu.cr2).toBe(0x30000n);
    expect(frame(r, 2)).toEqual([BigInt(PFEC.P | PFEC.US), BigInt(USER_CODE)]);
    const w = paged([...store(0x30000, 1)], 3);
    w.cpu.run(10);
    expect(frame(w, 1)).toEqual([BigInt(PFEC.P | PFEC.US | PFEC.WR)]);
  });

  it('faults a CPL 3 fetch from a supervisor page even when CPL 0 ran it first (I/D with NXE)', () => {
    // Kernel: call 0x30000 (a RET there), then IRETQ to user code, which jumps to 0x30000.
    const s = paged(
      [0xe8, ...le32(0x30000 - (KERNEL_CODE + 5)), 0xf4],
      0,
      EFER.LME | EFER.LMA | EFER.NXE,
    );
    s.mem.write8(0x30000, 0xc3);
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    s.mem.writeBytes(USER_CODE, Uint8Array.from([0xe9, ...le32(0x30000 - (USER_CODE + 5))]));
    s.cpu.cpl = 3;
    s.cpu.cs = 0x2b;
    s.cpu.rip = BigInt(USER_CODE);
    s.cpu.setReg('rsp', BigInt(USER_STACK));
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.PF) + 1));
    expect(s.cpu.cr2).toBe(0x30000n);
    expect(frame(s, 2)).toEqual([BigInt(PFEC.P | PFEC.US | PFEC.ID), 0x30000n]);
  });
});

describe('accesses crossing a page boundary', () => {
  it('a write into a read-only next page faults on that page and writes nothing', () => {
    // mov [0x40ffc], rax (8 bytes: 4 in page 0x40000, 4 in read-only page 0x41000)
    const s = paged([0x48, 0x89, 0x04, 0x25, ...le32(0x40ffc), 0xf4]);
    s.mem.write32(pteOf(0x41000), 0x41000 | PTE.P);
    s.cpu.setReg('rax', 0x1122334455667788n);
    s.mem.write32(0x40ffc, 0xa5a5a5a5);
    s.cpu.run(10);
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.PF) + 1));
    expect(s.cpu.cr2).toBe(0x41000n);
    expect(frame(s, 1)).toEqual([BigInt(PFEC.P | PFEC.WR)]);
    expect(s.mem.read32(0x40ffc)).toBe(0xa5a5a5a5);
  });

  it('a read spanning two mapped pages reads both physical pages', () => {
    // Linear 0x42000 maps physical 0x60000: a read at 0x41ffe takes 2 bytes from each.
    const s = paged([...load(0, 0x41ffe), 0xf4]);
    s.mem.write32(pteOf(0x42000), 0x60000 | PTE.P | PTE.RW);
    s.mem.write16(0x41ffe, 0xbbaa);
    s.mem.write16(0x60000, 0xddcc);
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.cpu.getReg('rax')).toBe(0xddccbbaan);
  });
});

describe('INVLPG and CR3', () => {
  it('a remapped page reads stale until INVLPG', () => {
    const s = paged([
      ...load(0, 0x40000),
      ...store(pteOf(0x40000), 0x41000 | 3),
      ...load(3, 0x40000),
      0x0f,
      0x01,
      0x3c,
      0x25,
      ...le32(0x40000), // invlpg [0x40000]
      ...load(1, 0x40000),
      0xf4,
    ]);
    s.mem.write32(0x40000, 111);
    s.mem.write32(0x41000, 222);
    expect(s.cpu.run(20)).toEqual({ kind: 'hlt' });
    expect([s.cpu.getReg('rax'), s.cpu.getReg('rbx'), s.cpu.getReg('rcx')]).toEqual([
      111n,
      111n,
      222n,
    ]);
  });

  it('MOV CR3 switches address spaces, for data and for cached code at the same linear address', () => {
    // Second address space: the same mapping except linear 0x60000 -> physical 0x61000.
    const s = paged([
      0xe8,
      ...le32(0x60000 - (KERNEL_CODE + 5)), // call 0x60000 (eax = 1)
      0x89,
      0xc6, // mov esi, eax
      0x0f,
      0x22,
      0xdb, // mov cr3, rbx
      0xe8,
      ...le32(0x60000 - (KERNEL_CODE + 15)), // call 0x60000 (eax = 2)
      0xf4,
    ]);
    buildTables(s.mem, 0x98000, 0x99000, 0x9a000, 0x9b000);
    s.mem.write32(pteOf(0x60000, 0x9b000), 0x61000 | 3);
    s.mem.writeBytes(0x60000, Uint8Array.of(0xb8, 1, 0, 0, 0, 0xc3));
    s.mem.writeBytes(0x61000, Uint8Array.of(0xb8, 2, 0, 0, 0, 0xc3));
    s.cpu.setReg('rbx', 0x98000n);
    expect(s.cpu.run(20)).toEqual({ kind: 'hlt' });
    expect(s.cpu.getReg('rsi')).toBe(1n);
    expect(s.cpu.getReg('rax')).toBe(2n);
    expect(s.cpu.cr3).toBe(0x98000n);
  });
});

describe('SMAP and implicit supervisor accesses', () => {
  it('blocks explicit supervisor reads of user pages unless RFLAGS.AC = 1', () => {
    const code = [...load(0, USER_CODE), 0xf4];
    const s = paged(code);
    s.cpu.cr4 |= CR4.SMAP;
    s.cpu.syncPaging();
    s.cpu.run(10);
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.PF) + 1));
    expect(frame(s, 1)).toEqual([BigInt(PFEC.P)]);
    const t = paged(code);
    t.cpu.cr4 |= CR4.SMAP;
    t.cpu.syncPaging();
    t.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.AC);
    expect(t.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(t.cpu.getReg('rax')).toBe(BigInt(t.mem.read32(USER_CODE)));
  });

  it('makes GDT reads implicit: SMAP faults them on a user page even with AC = 1', () => {
    // ltr ax with the GDT moved onto the user stack page.
    const s = paged([0xb8, 0x30, 0, 0, 0, 0x0f, 0x00, 0xd8, 0xf4]);
    const gdt = USER_STACK - 4096;
    for (let k = 0; k < 0x40; k += 4) s.mem.write32(gdt + k, s.mem.read32(0x2000 + k));
    s.cpu.cr4 |= CR4.SMAP;
    s.cpu.syncPaging();
    s.cpu.gdtr = { base: BigInt(gdt), limit: 0x3f };
    s.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.AC);
    // Delivery itself reads the GDT, so take the #PF as a stop.
    s.cpu.interceptException = (v) => v === Vector.PF;
    expect(s.cpu.run(10)).toEqual({
      kind: 'exception',
      vector: Vector.PF,
      errorCode: PFEC.P,
      address: gdt + 0x30,
    });
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE + 5));
  });
});

describe('the fast path in front of the Mmu', () => {
  it('forgets a SMAP-permitted translation when RFLAGS.AC is cleared', () => {
    // read user page (AC = 1); pushfq; and qword [rsp], ~AC; popfq; read it again
    const s = paged([
      ...load(0, USER_CODE),
      0x9c, // pushfq
      0x48,
      0x81,
      0x24,
      0x24,
      ...le32(~RFLAGS.AC >>> 0), // and qword [rsp], ~AC
      0x9d, // popfq
      ...load(1, USER_CODE),
      0xf4,
    ]);
    s.cpu.cr4 |= CR4.SMAP;
    s.cpu.syncPaging();
    s.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.AC);
    s.mem.write32(USER_CODE, 0x600d);
    s.cpu.run(20);
    // The first read succeeded; the second (at offset 17) faulted: P, supervisor, read.
    expect(s.cpu.getReg('rax')).toBe(0x600dn);
    expect(s.cpu.rip).toBe(BigInt(handlerOf(Vector.PF) + 1));
    expect(s.cpu.cr2).toBe(BigInt(USER_CODE));
    expect(frame(s, 2)).toEqual([BigInt(PFEC.P), BigInt(KERNEL_CODE + 17)]);
  });

  it('a write after a read of the same page still sets the dirty flag', () => {
    const s = paged([...load(0, 0x40000), ...store(0x40008, 1), 0xf4]);
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(s.mem.read32(pteOf(0x40000)) & (PTE.A | PTE.D)).toBe(PTE.A | PTE.D);
  });
});
