// EPT violations and misconfigurations as VM exits (SDM Vol. 3C §29.3.3, exit information
// §28.2.1 with Table 28-7), through a real @vmkit/ept NestedMmu over tables written by its
// EptBuilder: guest-physical [0, 4 MiB) lives at host-physical HOST + gpa, one page left
// unmapped. The expected qualifications are written out from Table 28-7: bit 0 read, 1 write,
// 2 fetch, 5:3 the entry's permissions, 7 guest-linear address valid, 8 access to the
// translated linear address (0: to a guest paging-structure entry), and with bit 8 set the
// advanced information of bits 11:9 (user-mode, writable, execute-disable linear address: the
// guest's supervisor, writable, executable 2-MiB page gives bit 10 only).
import { Ept, EptBuilder, NestedMmu } from '@vmkit/ept';
import { GuestPhysicalMemory } from '@vmkit/memory';
import { Mmu } from '@vmkit/paging';
import { InterruptionType } from '@vmkit/vmx';
import { CR0, CR4, EFER } from '@vmkit/x86';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cpu, MmuMemory } from '../src/index.js';
import { exitStop, NONE } from './support/vmx.js';

const HOST = 0x4000_0000;
const HOLE = 0x1f_0000; // the unmapped guest-physical page
const CODE = 0x1_0000;
const GDT = 0x4000;
const IDT = 0x5000;
const HANDLER = 0x8000;

function setup(options: { twoLevel?: 'nested' | 'mmu' } = {}) {
  const host = new GuestPhysicalMemory({
    ram: [
      { base: 0, size: 0x40_0000 },
      { base: HOST, size: 0x40_0000 },
    ],
  });
  const b = new EptBuilder(host, { tableBase: 0x10_0000, tableLimit: 0x20_0000 });
  b.map(0, HOST, HOLE);
  b.map(HOLE + 0x1000, HOST + HOLE + 0x1000, 0x40_0000 - HOLE - 0x1000);
  const g32 = (gpa: number, v: number) => host.write32(HOST + gpa, v >>> 0);
  // Guest tables: PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000; PD[0] a 2-MiB identity page (P,
  // R/W, A, D, PS); PD[2] (linear 4 MiB) a page table inside the hole.
  g32(0x1000, 0x2000 | 0x23);
  g32(0x2000, 0x3000 | 0x23);
  g32(0x3000, 0xe3);
  g32(0x3000 + 2 * 8, HOLE | 0x23);
  // GDT[1] = 64-bit code, DPL 0; IDT[0x40] -> HANDLER (hlt).
  g32(GDT + 8, 0xffff);
  g32(GDT + 12, 0x00af9a00);
  g32(IDT + 0x40 * 16, (0x08 << 16) | HANDLER);
  g32(IDT + 0x40 * 16 + 4, 0x8e00);
  host.write8(HOST + HANDLER, 0xf4);
  const guest = {
    cr0: (CR0.PE | CR0.PG | CR0.WP | CR0.ET | CR0.NE) >>> 0,
    cr4: CR4.PAE,
    efer: EFER.LME | EFER.LMA,
    cr3: 0x1000n,
  };
  let cpu: Cpu | undefined;
  const rflags = () => cpu!.flags;
  let memory: MmuMemory<NestedMmu> | MmuMemory<Mmu>;
  let mmu: NestedMmu | undefined;
  if (options.twoLevel === 'mmu') {
    const ept = new Ept(host, { eptp: b.eptp() });
    const m = new Mmu(host, { secondStage: ept });
    memory = new MmuMemory(m, host, { rflags, secondStageExit: ept.exit });
  } else {
    mmu = new NestedMmu(host, { eptp: b.eptp(), vpid: 1, guest });
    memory = new MmuMemory(mmu, host, { rflags });
  }
  cpu = new Cpu({ memory, exceptionDelivery: 'idt' });
  cpu.cr0 = guest.cr0;
  cpu.cr4 = guest.cr4;
  cpu.efer = guest.efer;
  cpu.cr3 = guest.cr3;
  cpu.syncPaging();
  cpu.gdtr = { base: BigInt(GDT), limit: 0x0f };
  cpu.idtr = { base: BigInt(IDT), limit: 0xfff };
  cpu.rip = BigInt(CODE);
  cpu.setReg('rsp', 0x9000n);
  const load = (code: number[]) => host.writeBytes(HOST + CODE, Uint8Array.from(code));
  return { host, b, cpu, mmu, load };
}

const abs32 = (a: number) => [a & 0xff, (a >>> 8) & 0xff, (a >>> 16) & 0xff, a >>> 24];

describe('EPT violations (basic exit reason 48)', () => {
  it('a read of an unmapped GPA exits with read, GLA valid, linear access; resume completes', () => {
    const s = setup();
    s.load([0x8b, 0x04, 0x25, ...abs32(HOLE + 0x10), 0xf4]); // mov eax, [HOLE + 0x10]; hlt
    s.cpu.setReg('rax', 0x1234n);
    s.cpu.vmEntry(NONE);
    expect(s.cpu.run(100)).toEqual(
      exitStop({
        exitReason: 48,
        exitQualification: 0x581n,
        guestPhysicalAddress: HOLE + 0x10,
        guestLinearAddress: BigInt(HOLE + 0x10),
      }),
    );
    expect(s.cpu.rip).toBe(BigInt(CODE));
    expect(s.cpu.getReg('rax')).toBe(0x1234n);
    // The VMM maps the page (fresh entries need no INVEPT: nothing was cached for it).
    s.host.write32(HOST + 0x30_0010, 0xcafe);
    s.b.map(HOLE, HOST + 0x30_0000, 0x1000);
    expect(s.cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(s.cpu.getReg('rax')).toBe(0xcafen);
  });

  it('a write exits with the write bit and stores nothing', () => {
    const s = setup();
    // mov dword [HOLE + 0x20], 7; hlt
    s.load([0xc7, 0x04, 0x25, ...abs32(HOLE + 0x20), 7, 0, 0, 0, 0xf4]);
    s.cpu.vmEntry(NONE);
    expect(s.cpu.run(100)).toEqual(
      exitStop({
        exitReason: 48,
        exitQualification: 0x582n,
        guestPhysicalAddress: HOLE + 0x20,
        guestLinearAddress: BigInt(HOLE + 0x20),
      }),
    );
    s.b.map(HOLE, HOST + 0x30_0000, 0x1000);
    expect(s.cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(s.host.read32(HOST + 0x30_0020)).toBe(7);
  });

  it('an instruction fetch from the page exits with the fetch bit', () => {
    const s = setup();
    s.load([0xe9, ...abs32(HOLE - (CODE + 5))]); // jmp HOLE
    s.cpu.vmEntry(NONE);
    expect(s.cpu.run(100)).toEqual(
      exitStop({
        exitReason: 48,
        exitQualification: 0x584n,
        guestPhysicalAddress: HOLE,
        guestLinearAddress: BigInt(HOLE),
      }),
    );
    expect(s.cpu.rip).toBe(BigInt(HOLE));
  });

  it('a guest page-table read in the page exits with bit 8 clear', () => {
    const s = setup();
    s.load([0x8b, 0x04, 0x25, ...abs32(0x40_0008), 0xf4]); // mov eax, [4 MiB + 8]
    s.cpu.vmEntry(NONE);
    expect(s.cpu.run(100)).toEqual(
      exitStop({
        exitReason: 48,
        exitQualification: 0x81n,
        guestPhysicalAddress: HOLE,
        guestLinearAddress: 0x40_0008n,
      }),
    );
  });

  it('reports the event being delivered when its delivery touches the page', () => {
    const s = setup();
    s.load([0x90]);
    s.cpu.setReg('rsp', BigInt(HOLE + 0x800)); // the frame goes into the hole
    const stop = s.cpu.vmEntry(NONE, { type: InterruptionType.EXTERNAL_INTERRUPT, vector: 0x40 });
    expect(stop).toEqual(
      exitStop({
        exitReason: 48,
        exitQualification: 0x582n,
        guestPhysicalAddress: HOLE + 0x800 - 8,
        guestLinearAddress: BigInt(HOLE + 0x800 - 8),
        idtVectoringInfo: 0x8000_0040,
      }),
    );
    expect(s.cpu.rip).toBe(BigInt(CODE));
  });

  it('works the same through paging Mmu with an Ept second stage', () => {
    const s = setup({ twoLevel: 'mmu' });
    s.load([0x8b, 0x04, 0x25, ...abs32(HOLE + 0x10), 0xf4]);
    s.cpu.vmEntry(NONE);
    expect(s.cpu.run(100)).toEqual(
      exitStop({
        exitReason: 48,
        exitQualification: 0x581n,
        guestPhysicalAddress: HOLE + 0x10,
        guestLinearAddress: BigInt(HOLE + 0x10),
      }),
    );
  });

  it('mapped memory runs without exits', () => {
    const s = setup();
    s.load([0x8b, 0x04, 0x25, ...abs32(HOLE - 0x10), 0xf4]);
    s.host.write32(HOST + HOLE - 0x10, 99);
    s.cpu.vmEntry(NONE);
    expect(s.cpu.run(100)).toEqual({ kind: 'hlt' });
    expect(s.cpu.getReg('rax')).toBe(99n);
  });
});

describe('EPT misconfigurations (basic exit reason 49)', () => {
  it('a write-only leaf exits with the GPA and no qualification', () => {
    const s = setup();
    s.b.map(HOLE, HOST + HOLE, 0x1000, { rights: 2 });
    s.load([0x8b, 0x04, 0x25, ...abs32(HOLE + 0x40), 0xf4]);
    s.cpu.vmEntry(NONE);
    expect(s.cpu.run(100)).toEqual(exitStop({ exitReason: 49, guestPhysicalAddress: HOLE + 0x40 }));
    expect(s.cpu.rip).toBe(BigInt(CODE));
  });
});

describe('EPT exits for random accesses', () => {
  it('exit exactly for accesses to an unmapped page, with its GPA and the access kind', () => {
    fc.assert(
      fc.property(
        // a page of the first 2 MiB above the guest's tables, IDT and code
        fc.integer({ min: 0x20, max: 0x1ff }),
        fc.integer({ min: 0, max: 0xffc }),
        fc.boolean(),
        fc.boolean(),
        (page, offset, write, unmap) => {
          const s = setup();
          const gpa = page * 0x1000 + offset;
          // mov [gpa], eax or mov eax, [gpa]; hlt
          s.load([write ? 0x89 : 0x8b, 0x04, 0x25, ...abs32(gpa), 0xf4]);
          if (unmap) s.b.map(page * 0x1000, HOST + page * 0x1000, 0x1000, { rights: 0 });
          s.cpu.vmEntry(NONE);
          const stop = s.cpu.run(10);
          if (unmap || page * 0x1000 === HOLE) {
            expect(stop).toEqual(
              exitStop({
                exitReason: 48,
                exitQualification: write ? 0x582n : 0x581n,
                guestPhysicalAddress: gpa,
                guestLinearAddress: BigInt(gpa),
              }),
            );
          } else {
            expect(stop).toEqual({ kind: 'hlt' });
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
