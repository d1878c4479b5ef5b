// The code cache keyed by physical address (code-cache.ts, Cpu.fetchBlock): blocks survive CR3
// loads and invalidations and are found again through whatever linear address maps their
// frame; a store reaching a frame holding cached code drops it before the next instruction,
// whichever linear mapping, CPU or host it comes from (SDM Vol. 3A §8.1.3 and §11.6); and a
// cached block never runs where a fresh fetch would fault (NX, SMEP, U/S). Each scenario is
// also run in the reference mode (decodeCacheSize 0: every instruction fetched afresh), an
// oracle that keeps nothing to go stale.
import { EPT, EptBuilder, NestedMmu } from '@vmkit/ept';
import { CR0, CR4, EFER, PFEC, Vector } from '@vmkit/x86';
import { describe, expect, it } from 'vitest';
import { Cpu, type CpuOptions, FlatMemory, MmuMemory, type StopReason } from '../src/index.js';
import { pteLow, Spaces, sharedCache } from './support/spaces.js';

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const movEax = (imm: number): number[] => [0xb8, ...le32(imm)];
const call = (from: number, to: number): number[] => [0xe8, ...le32((to - (from + 5)) >>> 0)];
/** mov byte [disp32], imm8 */
const storeByte = (at: number, imm: number): number[] => [0xc6, 0x04, 0x25, ...le32(at), imm];
/** mov [disp32], rbx */
const storeRbx = (at: number): number[] => [0x48, 0x89, 0x1c, 0x25, ...le32(at)];
/** invlpg [disp32] */
const invlpg = (at: number): number[] => [0x0f, 0x01, 0x3c, 0x25, ...le32(at)];
const HLT = 0xf4;
const RET = 0xc3;

const KERNEL = 0x2_0000; // supervisor code, identity-mapped in every space
const CODE = 0x1_0000; // the linear address whose frame differs between spaces
const ALIAS = 0x3_0000; // a second linear address of a code frame
const STACK_FROM = 0x7_0000;

/** Runs until a stop other than `budget`, in slices of `slice` instructions. */
function runToStop(cpu: Cpu, limit: number, slice = limit): StopReason {
  let stop: StopReason = { kind: 'budget' };
  while (cpu.instructions < limit) {
    stop = cpu.run(Math.min(slice, limit - cpu.instructions));
    if (stop.kind !== 'budget') return stop;
  }
  return stop;
}

/** A system with the kernel page and the stack identity-mapped in each of `count` spaces. */
function spaces(count: number): { s: Spaces; cr3: number[] } {
  const s = new Spaces();
  const cr3: number[] = [];
  for (let k = 0; k < count; k++) {
    const pml4 = s.space();
    s.identity(pml4, KERNEL, KERNEL + 0x1000, { write: false });
    s.identity(pml4, STACK_FROM, STACK_FROM + 0x1_0000);
    cr3.push(pml4);
  }
  return { s, cr3 };
}

describe('physical keying: blocks survive CR3 loads', () => {
  // The kernel alternates two address spaces that map CODE to different frames holding
  // different code, calling it in each: r8 counts the 1s, r9 the 2s.
  function alternating(options: Partial<CpuOptions>, rounds: number): Cpu {
    const { s, cr3 } = spaces(2);
    s.map(cr3[0]!, CODE, 0x4_0000, { write: false });
    s.map(cr3[1]!, CODE, 0x4_1000, { write: false });
    s.mem.writeBytes(0x4_0000, Uint8Array.from([...movEax(1), RET]));
    s.mem.writeBytes(0x4_1000, Uint8Array.from([...movEax(2), RET]));
    const k = KERNEL;
    const loop = [
      ...[0x0f, 0x22, 0xde], // mov cr3, rsi
      ...call(k + 3, CODE),
      ...[0x49, 0x01, 0xc0], // add r8, rax
      ...[0x0f, 0x22, 0xdf], // mov cr3, rdi
      ...call(k + 14, CODE),
      ...[0x49, 0x01, 0xc1], // add r9, rax
      ...[0xff, 0xc9], // dec ecx
    ];
    const code = [...loop, 0x75, (-(loop.length + 2) & 0xff) >>> 0, HLT];
    s.mem.writeBytes(KERNEL, Uint8Array.from(code));
    const cpu = s.cpu(cr3[0]!, options);
    cpu.setReg('rsi', BigInt(cr3[0]!));
    cpu.setReg('rdi', BigInt(cr3[1]!));
    cpu.setReg('rcx', BigInt(rounds));
    cpu.rip = BigInt(KERNEL);
    expect(runToStop(cpu, 100 * rounds + 100)).toEqual({ kind: 'hlt' });
    return cpu;
  }

  it('runs the right code in each space, every time, as the reference mode does', () => {
    const cpu = alternating({}, 200);
    expect(cpu.getReg('r8')).toBe(200n);
    expect(cpu.getReg('r9')).toBe(400n);
    const reference = alternating({ decodeCacheSize: 0 }, 200);
    expect(reference.getReg('r8')).toBe(200n);
    expect(reference.getReg('r9')).toBe(400n);
    expect(cpu.instructions).toBe(reference.instructions);
  });

  it('decodes each block once: 400 CR3 loads later the blocks are reused, not decoded again', () => {
    const few = alternating({}, 2).code.stats;
    const many = alternating({}, 200).code.stats;
    // The same blocks whatever the number of rounds: the two CODE frames' and the kernel's.
    expect(many.decodes).toBe(few.decodes);
    expect(many.decodes).toBeLessThanOrEqual(8);
    expect(many.clears).toBe(0);
    expect(many.invalidatedPages).toBe(0);
    // Each CR3 load makes the next entry translate RIP again and find its block by frame.
    expect(many.hits).toBeGreaterThanOrEqual(4 * 200 - few.hits);
  });
});

describe('cross-modifying code through a second mapping', () => {
  // One frame, 0x4_0000, mapped at CODE (read-only, executable) and at ALIAS (writable).
  function aliased(code: number[], options: Partial<CpuOptions> = {}): { cpu: Cpu; s: Spaces } {
    const { s, cr3 } = spaces(1);
    s.map(cr3[0]!, CODE, 0x4_0000, { write: false });
    s.map(cr3[0]!, ALIAS, 0x4_0000, { nx: true });
    s.mem.writeBytes(0x4_0000, Uint8Array.from(code));
    const cpu = s.cpu(cr3[0]!, options);
    cpu.rip = BigInt(CODE);
    return { cpu, s };
  }

  it('a store through the alias changes the very next instruction', () => {
    // CODE+0: mov byte [ALIAS + 9], 7   (the imm32 of the next instruction)
    // CODE+8: mov eax, 0   -> mov eax, 7
    // CODE+13: hlt
    const code = [...storeByte(ALIAS + 9, 7), ...movEax(0), HLT];
    for (const options of [{}, { decodeCacheSize: 0 }]) {
      const { cpu } = aliased(code, options);
      expect(cpu.run(100)).toEqual({ kind: 'hlt' });
      expect(cpu.getReg('rax')).toBe(7n);
      expect(cpu.instructions).toBe(3);
    }
  });

  it('a loop running at CODE sees the store made through ALIAS on its next pass', () => {
    // CODE+0:  mov eax, 0          (imm32 at CODE+1)
    // CODE+5:  inc ecx
    // CODE+7:  cmp ecx, 5
    // CODE+10: jne CODE+20
    // CODE+12: mov byte [ALIAS + 1], 7
    // CODE+20: cmp eax, 0
    // CODE+23: je CODE+0
    // CODE+25: hlt
    const code = [
      ...movEax(0),
      ...[0xff, 0xc1],
      ...[0x83, 0xf9, 0x05],
      ...[0x75, 0x08],
      ...storeByte(ALIAS + 1, 7),
      ...[0x83, 0xf8, 0x00],
      ...[0x74, (-25 & 0xff) >>> 0],
      HLT,
    ];
    for (const slice of [1, 3, 1000]) {
      const { cpu } = aliased(code);
      expect(runToStop(cpu, 1000, slice)).toEqual({ kind: 'hlt' });
      expect(cpu.getReg('rax')).toBe(7n);
      expect(cpu.getReg('rcx')).toBe(6n);
      // Four passes of 6, the storing pass of 7, the last of 7 (to the hlt).
      expect(cpu.instructions).toBe(4 * 6 + 7 + 7);
      expect(cpu.code.stats.invalidatedPages).toBe(1);
    }
  });

  it('a loop patching its own immediate through ALIAS on every pass sees each new value', () => {
    // CODE+0:  mov eax, 0          (imm32 at CODE+1)
    // CODE+5:  inc ecx
    // CODE+7:  mov [ALIAS + 1], cl (the translation of ALIAS is cached after the first pass)
    // CODE+14: cmp eax, 4
    // CODE+17: jne CODE+0
    // CODE+19: hlt
    const code = [
      ...movEax(0),
      ...[0xff, 0xc1],
      ...[0x88, 0x0c, 0x25, ...le32(ALIAS + 1)],
      ...[0x83, 0xf8, 0x04],
      ...[0x75, (-19 & 0xff) >>> 0],
      HLT,
    ];
    for (const slice of [1, 2, 1000]) {
      const { cpu } = aliased(code);
      expect(runToStop(cpu, 1000, slice)).toEqual({ kind: 'hlt' });
      expect(cpu.getReg('rax')).toBe(4n);
      expect(cpu.getReg('rcx')).toBe(5n);
      expect(cpu.instructions).toBe(5 * 5 + 1);
    }
  });

  it('a store next to the code through the alias leaves the blocks cached (exact bytes)', () => {
    // A loop storing into the byte right after its hlt, through ALIAS, 100 times.
    // CODE+0: mov byte [ALIAS + 16], 1; CODE+8: dec ecx; CODE+10: jne CODE+0; CODE+12..14:
    // nop x3; CODE+15: hlt; CODE+16: data
    const code = [...storeByte(ALIAS + 16, 1), 0xff, 0xc9, 0x75, 0xf4, 0x90, 0x90, 0x90, HLT, 0];
    const { cpu, s } = aliased(code);
    cpu.setReg('rcx', 100n);
    expect(cpu.run(1000)).toEqual({ kind: 'hlt' });
    expect(s.mem.read8(0x4_0010)).toBe(1);
    expect(cpu.code.stats.invalidatedPages).toBe(0);
    expect(cpu.code.stats.decodes).toBe(2);
  });
});

describe('remapping a code page', () => {
  // The kernel calls CODE (frame 0x4_0000: mov eax, 1), rewrites CODE's PTE to frame 0x4_1000
  // (mov eax, 2), calls CODE again without INVLPG (r8), then with INVLPG (rax).
  function remap(options: Partial<CpuOptions>, patchOld: boolean): Cpu {
    const { s, cr3 } = spaces(1);
    const pml4 = cr3[0]!;
    s.map(pml4, CODE, 0x4_0000, { write: false });
    s.map(pml4, ALIAS, 0x4_0000); // the old frame, writable
    const pte = s.pte(pml4, CODE);
    s.map(pml4, pte & ~0xfff, pte & ~0xfff); // the page table itself, writable
    s.mem.writeBytes(0x4_0000, Uint8Array.from([...movEax(1), RET]));
    s.mem.writeBytes(0x4_1000, Uint8Array.from([...movEax(2), RET]));
    const k = KERNEL;
    const code = [
      ...call(k, CODE), // k+0
      ...storeRbx(pte), // k+5: the PTE now maps frame 0x4_1000
      // k+13: optionally rewrite the old frame's immediate to 3 through ALIAS
      ...(patchOld ? storeByte(ALIAS + 1, 3) : [0x0f, 0x1f, 0x80, 0, 0, 0, 0, 0x90]),
      ...call(k + 21, CODE), // k+21
      ...[0x49, 0x89, 0xc0], // k+26: mov r8, rax
      ...invlpg(CODE), // k+29
      ...call(k + 37, CODE), // k+37
      HLT,
    ];
    s.mem.writeBytes(KERNEL, Uint8Array.from(code));
    const cpu = s.cpu(pml4, options);
    cpu.setReg('rbx', BigInt(pteLow(0x4_1000, { write: false })));
    cpu.rip = BigInt(KERNEL);
    expect(cpu.run(100)).toEqual({ kind: 'hlt' });
    return cpu;
  }

  it('after INVLPG the new frame runs; before it, the old translation may (the TLB allows)', () => {
    for (const options of [{}, { decodeCacheSize: 0 }]) {
      const cpu = remap(options, false);
      expect(cpu.getReg('rax')).toBe(2n);
      expect([1n, 2n]).toContain(cpu.getReg('r8'));
    }
  });

  it('never runs bytes that are in neither frame any more', () => {
    // The old frame now says 3: a stale translation may run it (3) or the new frame (2), never
    // the 1 that no longer exists anywhere.
    for (const options of [{}, { decodeCacheSize: 0 }]) {
      const cpu = remap(options, true);
      expect(cpu.getReg('rax')).toBe(2n);
      expect([2n, 3n]).toContain(cpu.getReg('r8'));
    }
  });
});

describe('two CPUs over one memory', () => {
  // CPU 0 loops at 0x1000 until its `mov eax, imm32` loads something other than 0:
  // 0x1000: mov eax, 0; pause; cmp eax, 0; je 0x1000; hlt
  const spin = [...movEax(0), 0xf3, 0x90, 0x83, 0xf8, 0x00, 0x74, (-12 & 0xff) >>> 0, HLT];
  // CPU 1 patches the immediate: mov byte [0x1001], 9; hlt (at 0x2000)
  const patch = [...storeByte(0x1001, 9), HLT];

  it('sharing a FlatMemory: the patch reaches CPU 0 at its next entry to the code', () => {
    const { s } = spaces(0);
    s.mem.writeBytes(0x1000, Uint8Array.from(spin));
    s.mem.writeBytes(0x2000, Uint8Array.from(patch));
    const flat = new FlatMemory(s.mem);
    const cpu0 = new Cpu({ memory: flat });
    const cpu1 = new Cpu({ memory: flat });
    cpu0.rip = 0x1000n;
    cpu1.rip = 0x2000n;
    expect(cpu0.run(1000)).toEqual({ kind: 'budget' });
    expect(cpu1.run(10)).toEqual({ kind: 'hlt' });
    expect(cpu0.run(1000)).toEqual({ kind: 'hlt' });
    expect(cpu0.getReg('rax')).toBe(9n);
  });

  // Each CPU has its own paging: CPU 0 runs the frame at CODE, CPU 1 writes it at ALIAS.
  function pair(share: boolean): Cpu {
    const { s, cr3 } = spaces(2);
    s.map(cr3[0]!, CODE, 0x4_0000, { write: false });
    s.map(cr3[1]!, ALIAS, 0x4_0000);
    s.identity(cr3[1]!, 0x5_0000, 0x5_1000, { write: false });
    s.mem.writeBytes(0x4_0000, Uint8Array.from(spin));
    s.mem.writeBytes(0x5_0000, Uint8Array.from([...storeByte(ALIAS + 1, 9), HLT]));
    const cache = share ? sharedCache() : undefined;
    const cpu0 = s.cpu(cr3[0]!, { codeCache: cache });
    const cpu1 = s.cpu(cr3[1]!, { codeCache: cache });
    cpu0.rip = BigInt(CODE);
    cpu1.rip = 0x5_0000n;
    expect(cpu0.run(1000)).toEqual({ kind: 'budget' });
    expect(cpu1.run(10)).toEqual({ kind: 'hlt' });
    cpu0.run(1000);
    return cpu0;
  }

  it('each with its own MmuMemory, sharing a CodeCache: CPU 0 runs the patched instruction', () => {
    const cpu0 = pair(true);
    expect(cpu0.getReg('rax')).toBe(9n);
    expect(cpu0.rip).toBe(BigInt(CODE + 13)); // after the hlt
  });

  it('without the shared cache CPU 0 would keep its stale block (why the VMM shares one)', () => {
    // Not a supported configuration: it shows the test can see a missed invalidation.
    expect(pair(false).getReg('rax')).toBe(0n);
  });
});

describe('execution rights are checked at every block entry', () => {
  /** The kernel calls CODE, then runs `change`, then calls CODE again. */
  function twice(change: number[], flags: { user?: boolean }): { cpu: Cpu; stop: StopReason } {
    const { s, cr3 } = spaces(1);
    const pml4 = cr3[0]!;
    s.map(pml4, CODE, 0x4_0000, { write: false, ...flags });
    const pte = s.pte(pml4, CODE);
    s.map(pml4, pte & ~0xfff, pte & ~0xfff);
    s.mem.writeBytes(0x4_0000, Uint8Array.from([...movEax(1), RET]));
    const k = KERNEL;
    const code = [...call(k, CODE), ...change];
    code.push(...call(k + code.length, CODE), HLT);
    s.mem.writeBytes(KERNEL, Uint8Array.from(code.map((b) => (b === -1 ? pte : b))));
    const cpu = s.cpu(pml4);
    cpu.setReg('rbx', BigInt(pte));
    cpu.rip = BigInt(KERNEL);
    return { cpu, stop: cpu.run(100) };
  }
  const fetchFault = (code: number): StopReason => ({
    kind: 'exception',
    vector: Vector.PF,
    errorCode: code,
    address: CODE,
  });

  it('NX: the page loses X (PTE.XD, then INVLPG): the cached block is not run', () => {
    // mov dword [pte + 4], 0x80000000 (through rbx: mov dword [rbx + 4], imm32); invlpg [CODE]
    const change = [0xc7, 0x43, 0x04, ...le32(0x8000_0000), ...invlpg(CODE)];
    const { cpu, stop } = twice(change, {});
    expect(stop).toEqual(fetchFault(PFEC.P | PFEC.ID));
    expect(cpu.code.stats.decodes).toBeGreaterThan(0);
  });

  it('SMEP: CR4.SMEP set while a user page holds cached code: a CPL 0 fetch there faults', () => {
    // mov rax, cr4; or eax, SMEP; mov cr4, rax
    const change = [0x0f, 0x20, 0xe0, 0x0d, ...le32(CR4.SMEP), 0x0f, 0x22, 0xe0];
    const { stop } = twice(change, { user: true });
    expect(stop).toEqual(fetchFault(PFEC.P | PFEC.ID));
  });

  it('U/S: a block cached at CPL 0 on a supervisor page faults at CPL 3, before and after', () => {
    const { s, cr3 } = spaces(1);
    s.map(cr3[0]!, CODE, 0x4_0000, { write: false });
    s.mem.writeBytes(0x4_0000, Uint8Array.from([...movEax(1), HLT]));
    const cpu = s.cpu(cr3[0]!);
    cpu.rip = BigInt(CODE);
    expect(cpu.run(10)).toEqual({ kind: 'hlt' });
    cpu.cpl = 3;
    cpu.cs = 0x2b;
    cpu.rip = BigInt(CODE);
    expect(cpu.run(10)).toEqual(fetchFault(PFEC.P | PFEC.US | PFEC.ID));
  });

  it('U/S: the PTE loses U (then INVLPG): CPL 3 code cached there faults', () => {
    const { s, cr3 } = spaces(1);
    const pml4 = cr3[0]!;
    s.map(pml4, CODE, 0x4_0000, { write: false, user: true });
    s.mem.writeBytes(0x4_0000, Uint8Array.from([...movEax(1), 0xcc]));
    const cpu = s.cpu(pml4, { cpl: 3 });
    cpu.rip = BigInt(CODE);
    expect(cpu.run(10)).toMatchObject({ kind: 'exception', vector: Vector.BP });
    // The kernel's PTE write and INVLPG, done by the host here.
    s.map(pml4, CODE, 0x4_0000, { write: false, user: false });
    cpu.memory.invlpg?.(CODE);
    cpu.rip = BigInt(CODE);
    expect(cpu.run(10)).toEqual(fetchFault(PFEC.P | PFEC.US | PFEC.ID));
  });
});

describe('host writes', () => {
  it('invalidateCode takes physical addresses: code rewritten by the host runs at every alias', () => {
    const { s, cr3 } = spaces(1);
    s.map(cr3[0]!, CODE, 0x4_0000, { write: false });
    s.mem.writeBytes(0x4_0000, Uint8Array.from([...movEax(1), HLT]));
    const cpu = s.cpu(cr3[0]!);
    cpu.rip = BigInt(CODE);
    expect(cpu.run(10)).toEqual({ kind: 'hlt' });
    s.mem.writeBytes(0x4_0000, Uint8Array.from(movEax(5)));
    cpu.invalidateCode(0x4_0000, 5);
    cpu.rip = BigInt(CODE);
    expect(cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(cpu.getReg('rax')).toBe(5n);
  });
});

describe('EPT execute right', () => {
  it('a block cached while its frame was executable exits (EPT violation, fetch) after the VMM removes X and runs INVEPT', () => {
    // Guest: one 2-MiB identity page; EPT: guest-physical [0, 4 MiB) at host HOST + gpa.
    const HOST = 0x40_0000;
    const host = new Spaces(8 << 20).mem;
    const b = new EptBuilder(host, { tableBase: 0x38_0000, tableLimit: 0x3f_0000 });
    b.map(0, HOST, 0x20_0000);
    host.write32(HOST + 0x1000, 0x2000 | 0x23);
    host.write32(HOST + 0x2000, 0x3000 | 0x23);
    host.write32(HOST + 0x3000, 0xe3);
    const guest = {
      cr0: (CR0.PE | CR0.PG | CR0.WP | CR0.ET | CR0.NE) >>> 0,
      cr4: CR4.PAE,
      efer: EFER.LME | EFER.LMA,
      cr3: 0x1000n,
    };
    const mmu = new NestedMmu(host, { eptp: b.eptp(), vpid: 1, guest });
    let cpu: Cpu | undefined;
    const memory = new MmuMemory(mmu, host, { rflags: () => cpu!.flags });
    cpu = new Cpu({ memory });
    Object.assign(cpu, { cr0: guest.cr0, cr4: guest.cr4, efer: guest.efer, cr3: guest.cr3 });
    cpu.syncPaging();
    host.writeBytes(HOST + CODE, Uint8Array.from([...movEax(1), HLT]));
    const enter = (): void => {
      cpu!.rip = BigInt(CODE);
      cpu!.vmEntry({ pinBased: 0, primary: 0, secondary: 0, exceptionBitmap: 0 });
    };
    enter();
    expect(cpu.run(10)).toEqual({ kind: 'hlt' });
    expect(cpu.code.stats.decodes).toBe(1);
    // The VMM takes X away from the code's frame and invalidates (INVEPT, and the CPU's cache
    // of translations in front of the MMU).
    b.map(CODE, HOST + CODE, 0x1000, { rights: EPT.R | EPT.W });
    mmu.invept(2);
    memory.flush();
    enter();
    const stop = cpu.run(10);
    expect(stop.kind).toBe('vm-exit');
    if (stop.kind !== 'vm-exit') return;
    expect(stop.info.exitReason).toBe(48);
    expect(stop.info.guestPhysicalAddress).toBe(CODE);
    // Qualification bit 2: the access was an instruction fetch (SDM Vol. 3C Table 28-7).
    expect(Number(stop.info.exitQualification) & 0x4).toBe(0x4);
  });
});
