// Differential test against KVM (PLATFORM.md: here KVM runs on its shadow MMU, an independent
// implementation of x86 paging). A small guest (test/kvm/guest.S) runs page-table scenarios:
// for each case it writes the test PDE and PTE itself, sets CR0.WP, CR4.SMEP/SMAP, EFER.NXE and
// EFLAGS.AC, and makes one read, write or fetch at CPL 0 or 3. The outcome (success, or the
// vector, error code and CR2) and the A/D flags of the PDE and PTE afterwards are compared with
// the walker. Skipped, with the reason printed, where /dev/kvm or the toolchain is not usable.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestPhysicalMemory } from '@vmkit/memory';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ACCESS_FETCH,
  ACCESS_USER,
  ACCESS_WRITE,
  PageWalker,
  PagingState,
  WalkOutcome,
} from '../src/index.js';
import { buildGuest, buildRunner, kvmUnusable } from './support/kvm.js';

const MEM = 8 * 2 ** 20;
const CODE = 0x10_0000;
const USTUB = 0x20_0000;
const CASES = 0x60_0000;
const RESULTS = 0x70_0000;
const GDT = 0x8000;
const TSS = 0x9000;
const IDT = 0xa000;
const PML4 = 0x1000;
const PML5 = 0x7000;
const PDE_ADDR = 0x5000;
const PTE_ADDR = 0x6000;
const FRAME = 0x40_0000;
const TEST_LINEAR = 0x4000_0000;
const CASE_SIZE = 80;
const RESULT_SIZE = 48;
const KSTACK_IRQ = 0x52_0000;

interface Case {
  pde: bigint;
  pte: bigint;
  wp: boolean;
  smep: boolean;
  smap: boolean;
  ac: boolean;
  nxe: boolean;
  kind: 0 | 1 | 2;
  cpl: 0 | 3;
}

const P = 1n;
const RW = 2n;
const US = 4n;
const A = 0x20n;
const D = 0x40n;
const XD = 1n << 63n;
const RSVD51 = 1n << 51n;

const cr0Of = (c: Case) => (0x8000_0011 | (c.wp ? 1 << 16 : 0)) >>> 0;
const LA57 = 1 << 12;
let levels: 4 | 5 = 4;
const cr4Of = (c: Case) =>
  (1 << 5) | (levels === 5 ? LA57 : 0) | (c.smep ? 1 << 20 : 0) | (c.smap ? 1 << 21 : 0);
const root = () => (levels === 5 ? PML5 : PML4);
const eferOf = (c: Case) => 0x500 | (c.nxe ? 0x800 : 0);
const rflagsOf = (c: Case) => 2 | (c.ac ? 1 << 18 : 0);
const addressOf = (c: Case) => TEST_LINEAR + (c.kind === 2 ? (c.cpl === 3 ? 0x10 : 0) : 0x100);

function buildImage(guest: Uint8Array, cases: Case[]): Uint8Array {
  const image = new Uint8Array(MEM);
  const view = new DataView(image.buffer);
  const q = (at: number, v: bigint) => view.setBigUint64(at, v, true);
  // GDT: null, kernel code64 (0x08), kernel data (0x10), user data (0x1b), user code64 (0x23), TSS (0x28).
  q(GDT + 0x08, 0x0020_9a00_0000_0000n);
  q(GDT + 0x10, 0x00cf_9200_0000_ffffn);
  q(GDT + 0x18, 0x00cf_f200_0000_ffffn);
  q(GDT + 0x20, 0x0020_fa00_0000_0000n);
  q(GDT + 0x28, 0x67n | (BigInt(TSS) << 16n) | (0x89n << 40n));
  q(TSS + 4, BigInt(KSTACK_IRQ)); // RSP0
  image.set(guest, CODE);
  const handler = (i: number) => Number(view.getBigUint64(CODE + 8 + i * 8, true));
  const gate = (vector: number, target: number, dpl: number) => {
    const at = IDT + vector * 16;
    view.setUint16(at, target & 0xffff, true);
    view.setUint16(at + 2, 0x08, true);
    view.setUint8(at + 5, 0x8e | (dpl << 5));
    view.setUint16(at + 6, (target >>> 16) & 0xffff, true);
  };
  // INT3 (vector 3) is the way back from CPL 3 (PVM turns INT 0x80 into #UD), so its gate has DPL 3.
  for (let v = 0; v < 32; v++) gate(v, handler(v), v === 3 ? 3 : 0);
  const stubStart = handler(32) - CODE;
  const stubEnd = handler(33) - CODE;
  image.set(guest.subarray(stubStart, stubEnd), USTUB);
  // Paging: PML4[0] -> PDPT; PDPT[0] -> PD (0-8 MiB in 2 MiB pages: supervisor, user, supervisor,
  // supervisor),
  // PDPT[1] -> test PD at 0x5000, whose PDE 0 (varied) -> test PT at 0x6000, PTE 0 (varied) -> FRAME.
  q(PML5, BigInt(PML4) | P | RW | US); // used with 5-level paging only
  q(PML4, 0x2000n | P | RW | US);
  q(0x2000, 0x3000n | P | RW | US);
  q(0x2000 + 8, 0x5000n | P | RW | US);
  q(0x3000, 0x00_0000n | P | RW | 0x80n);
  q(0x3000 + 8, 0x20_0000n | P | RW | US | 0x80n);
  q(0x3000 + 16, 0x40_0000n | P | RW | 0x80n);
  q(0x3000 + 24, 0x60_0000n | P | RW | 0x80n); // case table and results
  image[FRAME] = 0xc3; // ret: a CPL-0 fetch returns
  image[FRAME + 0x10] = 0xcc; // int3: a CPL-3 fetch reports success
  q(CASES, BigInt(cases.length));
  cases.forEach((c, i) => {
    const at = CASES + 8 + i * CASE_SIZE;
    q(at, c.pde);
    q(at + 8, c.pte);
    q(at + 16, BigInt(cr0Of(c)));
    q(at + 24, BigInt(cr4Of(c)));
    q(at + 32, BigInt(eferOf(c)));
    q(at + 40, BigInt(rflagsOf(c)));
    q(at + 48, BigInt(c.kind));
    q(at + 56, BigInt(c.cpl));
    q(at + 64, BigInt(addressOf(c)));
  });
  return image;
}

/** Deterministic xorshift so that the case list is the same on every run. */
function* random(seed: number): Generator<number> {
  let x = seed >>> 0;
  for (;;) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    yield x;
  }
}

const CASE_COUNT = 12_000;

function makeCases(): Case[] {
  const cases: Case[] = [];
  const rnd = random(0x5eed);
  const bit = () => (rnd.next().value as number) % 2 === 1;
  const rare = () => bit() && bit() && bit();
  for (let i = 0; i < CASE_COUNT; i++) {
    // A 4 KiB page (PDE -> PTE) or, one case in four, a 2 MiB page mapped by the PDE.
    const large = bit() && bit();
    let leaf = large ? BigInt(FRAME) | 0x80n : BigInt(FRAME);
    if (!rare()) leaf |= P;
    if (bit()) leaf |= RW;
    if (bit()) leaf |= US;
    if (bit()) leaf |= A;
    if (bit()) leaf |= D;
    if (bit() && bit()) leaf |= XD;
    if (rare()) leaf |= bit() ? RSVD51 : 1n << BigInt(guestCpu.maxPhyAddr);
    if (large && rare()) leaf |= 1n << 13n; // reserved in a 2 MiB PDE
    let pde = BigInt(PTE_ADDR) | P;
    if (rare()) pde &= ~P;
    if (bit() || bit()) pde |= RW;
    if (bit() || bit()) pde |= US;
    if (bit()) pde |= A;
    if (bit() && bit()) pde |= XD;
    if (rare()) pde |= bit() ? RSVD51 : 1n << BigInt(guestCpu.maxPhyAddr);
    cases.push({
      pde: large ? leaf : pde,
      pte: large ? BigInt(FRAME) | P | RW | US : leaf,
      wp: bit(),
      smep: bit(),
      smap: bit(),
      ac: bit(),
      nxe: bit() || bit(),
      kind: ((rnd.next().value as number) % 3) as 0 | 1 | 2,
      cpl: bit() ? 3 : 0,
    });
  }
  return cases;
}

const reason = kvmUnusable();
if (reason !== undefined) console.log(`KVM differential test skipped: ${reason}`);
const dir = reason === undefined ? mkdtempSync(join(tmpdir(), 'vmkit-paging-kvm-')) : '';
/** The guest's MAXPHYADDR and LA57 support as KVM reports them. */
const guestCpu = { maxPhyAddr: 46, la57: false };
if (reason === undefined) {
  buildRunner(dir);
  buildGuest(dir, 'guest.S');
  const [m, la57] = execFileSync(join(dir, 'runner'), ['--cpuid']).toString().trim().split(' ');
  guestCpu.maxPhyAddr = Number(m);
  guestCpu.la57 = la57 === '1';
  if (!guestCpu.la57) {
    console.log('KVM differential test, 5-level paging skipped: KVM does not offer LA57 here');
  }
}

describe.skipIf(reason !== undefined)('differential test against KVM', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (paging: 4 | 5) => {
    levels = paging;
    const guest = new Uint8Array(readFileSync(join(dir, 'guest.S.bin')));
    const cases = makeCases();
    const image = buildImage(guest, cases);
    writeFileSync(join(dir, 'image.bin'), image);
    const hex = (n: number) => n.toString(16);
    const out = execFileSync(
      join(dir, 'runner'),
      [
        join(dir, 'image.bin'),
        hex(MEM),
        hex(CODE),
        hex(0x51_0000),
        hex(root()),
        hex(0x8001_0011),
        hex((1 << 5) | (levels === 5 ? LA57 : 0)),
        hex(0xd00),
        hex(GDT),
        hex(0x37),
        hex(IDT),
        hex(TSS),
        hex(RESULTS),
        hex(cases.length * RESULT_SIZE),
      ],
      { maxBuffer: 64 * 2 ** 20 },
    );
    const results = new DataView(out.buffer, out.byteOffset, out.byteLength);

    const mem = new GuestPhysicalMemory({ ram: [{ base: 0, size: MEM }] });
    mem.writeBytes(0, image);
    const walker = new PageWalker(mem);
    const mismatches: string[] = [];
    let faults = 0;
    cases.forEach((c, i) => {
      mem.write64(PDE_ADDR, c.pde);
      mem.write64(PTE_ADDR, c.pte);
      const state = new PagingState({
        features: { maxPhyAddr: guestCpu.maxPhyAddr, page1GB: false },
        cr0: cr0Of(c),
        cr4: cr4Of(c),
        efer: eferOf(c),
        rflags: rflagsOf(c),
        cr3: BigInt(root()),
      });
      const access =
        (c.kind === 1 ? ACCESS_WRITE : c.kind === 2 ? ACCESS_FETCH : 0) |
        (c.cpl === 3 ? ACCESS_USER : 0);
      const outcome = walker.walk(state, 0, addressOf(c), access);
      const at = i * RESULT_SIZE;
      const status = Number(results.getBigUint64(at, true));
      const errorCode = Number(results.getBigUint64(at + 8, true));
      const cr2 = Number(results.getBigUint64(at + 16, true));
      const pdeAfter = results.getBigUint64(at + 24, true);
      const pteAfter = results.getBigUint64(at + 32, true);
      const mine =
        outcome === WalkOutcome.OK
          ? 'ok'
          : outcome === WalkOutcome.PAGE_FAULT
            ? `#PF ${walker.result.errorCode.toString(16)} cr2 ${addressOf(c).toString(16)}`
            : `outcome ${outcome}`;
      const kvm =
        status === 0x100 || status === 3
          ? 'ok'
          : status === 14
            ? `#PF ${errorCode.toString(16)} cr2 ${cr2.toString(16)}`
            : `vector ${status}`;
      if (status === 14) faults++;
      const adMine = `${(mem.read64(PDE_ADDR) & (A | D)).toString(16)}/${(mem.read64(PTE_ADDR) & (A | D)).toString(16)}`;
      const adKvm = `${(pdeAfter & (A | D)).toString(16)}/${(pteAfter & (A | D)).toString(16)}`;
      if (mine !== kvm || adMine !== adKvm) {
        mismatches.push(
          `case ${i} ${JSON.stringify(c, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v))}: walker ${mine} A/D ${adMine}, KVM ${kvm} A/D ${adKvm}`,
        );
      }
    });
    console.log(
      `KVM differential, ${levels}-level: ${cases.length} cases, ${faults} page faults, ${mismatches.length} mismatches`,
    );
    expect(mismatches.slice(0, 10)).toEqual([]);
    expect(faults).toBeGreaterThan(CASE_COUNT / 10);
    expect(cases.length - faults).toBeGreaterThan(CASE_COUNT / 10);
  };

  it('4-level paging: agrees with KVM on outcome, error code, CR2 and A/D flags', () => run(4));
  it.skipIf(!guestCpu.la57)('5-level paging: agrees with KVM likewise', () => run(5));
});
