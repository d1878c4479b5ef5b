import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bootProtocol,
  GuestError,
  guestImagePath,
  guestImages,
  parseElfImage,
} from '../src/index.js';

const bytes = new Uint8Array(readFileSync(guestImagePath));

function hasTool(name: string): boolean {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const binutils = hasTool('readelf') && hasTool('objdump');
if (!binutils) console.log('skipping readelf/objdump oracle tests: binutils not installed');

describe('the image file', () => {
  it('is an x86-64 ELF64 executable entered at 1 MiB, as the manifest and README say', () => {
    const image = parseElfImage(bytes);
    expect(image.entry).toBe(bootProtocol.kernelLoadAddress);
    expect(guestImages[0]?.entry).toBe(image.entry);
    for (const s of image.segments) {
      expect(s.physicalAddress).toBeGreaterThanOrEqual(bootProtocol.kernelLoadAddress);
      expect(s.physicalAddress + s.memorySize).toBeLessThan(bootProtocol.directMapLimit);
    }
    // The kernel runs where it is loaded; the user programs are linked at 1 GiB but stored after it.
    const user = image.segments.filter((s) => s.virtualAddress >= bootProtocol.userBase);
    expect(user.length).toBeGreaterThan(0);
    for (const s of image.segments.filter((x) => x.virtualAddress < bootProtocol.userBase))
      expect(s.virtualAddress).toBe(s.physicalAddress);
    const entrySegment = image.segments.find(
      (s) => s.physicalAddress <= image.entry && image.entry < s.physicalAddress + s.data.length,
    );
    expect(entrySegment?.flags && entrySegment.flags & 1).toBe(1);
  });

  it.skipIf(!binutils)('parses exactly as readelf does', () => {
    const text = execFileSync('readelf', ['-lhW', guestImagePath], { encoding: 'utf8' });
    const entry = Number.parseInt(/Entry point address:\s+0x([0-9a-f]+)/.exec(text)?.[1] ?? '', 16);
    const loads = [
      ...text.matchAll(
        /^\s+LOAD\s+0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+)/gm,
      ),
    ].map((m) => m.slice(2, 6).map((h) => Number.parseInt(h, 16)));
    const image = parseElfImage(bytes);
    expect(image.entry).toBe(entry);
    expect(
      image.segments.map((s) => [s.virtualAddress, s.physicalAddress, s.data.length, s.memorySize]),
    ).toEqual(loads);
  });

  it.skipIf(!binutils)(
    'uses only instructions that vmkit’s interpreter implements (issue #5 list)',
    () => {
      // Transcribed from issue #5: the integer subset gcc emits with -mgeneral-regs-only plus the
      // system instructions of a small kernel. Intel-syntax mnemonics as objdump prints them.
      const allowed = new Set(
        (
          'mov movzx movsx movsxd movabs lea add adc sub sbb and or xor cmp test inc dec neg not mul imul div idiv ' +
          'shl shr sar sal rol ror rcl rcr shld shrd bt bts btr btc bsf bsr tzcnt lzcnt popcnt call ret jmp push pop ' +
          'pushf pushfq popf popfq enter leave xchg cmpxchg cmpxchg16b xadd cbw cwde cdqe cwd cdq cqo bswap lahf sahf ' +
          'clc stc cmc cld std nop endbr64 ud2 mfence lfence sfence pause hlt cli sti int int3 iretq syscall sysretq ' +
          'swapgs lgdt lidt ltr rdmsr wrmsr rdtsc rdtscp cpuid invlpg invpcid in out ins outs insb outsb vmcall ' +
          'movs movsb movsw movsd movsq stos stosb stosw stosd stosq lods cmps scas'
        ).split(' '),
      );
      const conditional =
        /^(j|set|cmov)(o|no|b|nb|ae|nae|c|nc|e|z|ne|nz|be|nbe|a|na|s|ns|p|np|pe|po|l|nl|ge|nge|le|nle|g|ng)$/;
      const prefixes = new Set([
        'rep',
        'repz',
        'repe',
        'repnz',
        'repne',
        'lock',
        'data16',
        'cs',
        'ds',
        'ss',
        'es',
        'notrack',
        'bnd',
      ]);
      const text = execFileSync(
        'objdump',
        ['-d', '-M', 'intel', '--no-show-raw-insn', guestImagePath],
        {
          encoding: 'utf8',
          maxBuffer: 64 << 20,
        },
      );
      const seen = new Set<string>();
      for (const line of text.split('\n')) {
        const insn = line.split('\t')[1];
        if (!insn) continue;
        const words = insn.trim().split(/\s+/);
        while (words.length > 1 && prefixes.has(words[0] as string)) words.shift();
        seen.add(words[0] as string);
      }
      const outside = [...seen].filter((m) => !allowed.has(m) && !conditional.test(m));
      expect(outside).toEqual([]);
      for (const m of [
        'syscall',
        'sysretq',
        'swapgs',
        'iretq',
        'wrmsr',
        'pause',
        'vmcall',
        'invlpg',
        'ltr',
      ])
        expect(seen).toContain(m);
    },
  );
});

describe('parseElfImage on hostile input', () => {
  it('refuses non-images with BAD_ELF', () => {
    expect(() => parseElfImage(new Uint8Array(10))).toThrow(GuestError);
    const noMagic = bytes.slice();
    noMagic[0] = 0;
    expect(() => parseElfImage(noMagic)).toThrow(/no ELF magic/);
    const arm = bytes.slice();
    arm[18] = 183; // EM_AARCH64
    expect(() => parseElfImage(arm)).toThrow(/not x86-64/);
  });

  it('never crashes on truncations or byte flips: an image or a GuestError', () => {
    fc.assert(
      fc.property(
        fc.nat(bytes.length),
        fc.array(fc.tuple(fc.nat(200), fc.nat(255)), { maxLength: 8 }),
        (len, flips) => {
          const b = bytes.slice(0, len);
          for (const [at, v] of flips) if (at < b.length) b[at] = v;
          try {
            const image = parseElfImage(b);
            for (const s of image.segments) expect(s.data.length).toBeLessThanOrEqual(s.memorySize);
          } catch (e) {
            expect(e).toBeInstanceOf(GuestError);
            expect((e as GuestError).code).toBe('BAD_ELF');
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
