// The expected values below are transcribed from the SDM tables as bit positions or indices
// (not derived from src), so a wrong mask or index in src fails here.
import { describe, expect, it } from 'vitest';
import {
  CPUID_FEATURE,
  CR0,
  CR3,
  CR4,
  decodeAddressSizes,
  EFER,
  exceptionHasErrorCode,
  linearAddressBits,
  MSR,
  PagingLevel,
  PDE_2MB,
  PDE_4MB,
  PDPTE_1GB,
  PDPTE_PAE,
  PFEC,
  PTE,
  PTE_HI,
  pagingMode,
  physicalAddressHighMask,
  RFLAGS,
  Vector,
} from '../src/index.js';

const bit = (n: number) => 2 ** n;
const hiBit = (n: number) => 2 ** (n - 32);

function expectBits(group: Record<string, number>, table: [string, number][]) {
  for (const [name, position] of table) expect(group[name], name).toBe(bit(position));
}

describe('control registers (SDM Vol. 3A §2.5, §2.2.1)', () => {
  it('CR0 bit positions, Figure 2-7', () => {
    expectBits(CR0, [
      ['PE', 0],
      ['MP', 1],
      ['EM', 2],
      ['TS', 3],
      ['ET', 4],
      ['NE', 5],
      ['WP', 16],
      ['AM', 18],
      ['NW', 29],
      ['CD', 30],
      ['PG', 31],
    ]);
    expect(Object.keys(CR0)).toHaveLength(11);
  });
  it('CR4 bit positions, Figure 2-7', () => {
    expectBits(CR4, [
      ['VME', 0],
      ['PVI', 1],
      ['TSD', 2],
      ['DE', 3],
      ['PSE', 4],
      ['PAE', 5],
      ['MCE', 6],
      ['PGE', 7],
      ['PCE', 8],
      ['OSFXSR', 9],
      ['OSXMMEXCPT', 10],
      ['UMIP', 11],
      ['LA57', 12],
      ['VMXE', 13],
      ['SMXE', 14],
      ['FSGSBASE', 16],
      ['PCIDE', 17],
      ['OSXSAVE', 18],
      ['KL', 19],
      ['SMEP', 20],
      ['SMAP', 21],
      ['PKE', 22],
      ['CET', 23],
      ['PKS', 24],
      ['UINTR', 25],
    ]);
    expect(Object.keys(CR4)).toHaveLength(25);
  });
  it('IA32_EFER bit positions, Table 2-1', () => {
    expectBits(EFER, [
      ['SCE', 0],
      ['LME', 8],
      ['LMA', 10],
      ['NXE', 11],
    ]);
  });
  it('CR3 fields, Tables 4-3, 4-7, 4-12, 4-13 and §4.10.4.1', () => {
    expect(CR3.PWT).toBe(bit(3));
    expect(CR3.PCD).toBe(bit(4));
    expect(CR3.PCID).toBe(bit(12) - 1);
    expect(CR3.BASE_LO).toBe(bit(32) - bit(12));
    expect(CR3.PAE_PDPT_BASE).toBe(bit(32) - bit(5));
    expect(CR3.NOFLUSH_HI).toBe(hiBit(63));
  });
});

describe('RFLAGS (SDM Vol. 1 §3.4.3, Figure 3-8)', () => {
  it('flag positions', () => {
    expectBits(RFLAGS, [
      ['CF', 0],
      ['FIXED1', 1],
      ['PF', 2],
      ['AF', 4],
      ['ZF', 6],
      ['SF', 7],
      ['TF', 8],
      ['IF', 9],
      ['DF', 10],
      ['OF', 11],
      ['NT', 14],
      ['RF', 16],
      ['VM', 17],
      ['AC', 18],
      ['VIF', 19],
      ['VIP', 20],
      ['ID', 21],
    ]);
    expect(RFLAGS.IOPL).toBe(bit(12) + bit(13));
  });
});

describe('MSR indices (SDM Vol. 4, Table 2-2)', () => {
  it.each([
    ['IA32_TIME_STAMP_COUNTER', 0x10],
    ['IA32_APIC_BASE', 0x1b],
    ['IA32_FEATURE_CONTROL', 0x3a],
    ['IA32_TSC_ADJUST', 0x3b],
    ['IA32_SPEC_CTRL', 0x48],
    ['IA32_BIOS_SIGN_ID', 0x8b],
    ['IA32_MTRRCAP', 0xfe],
    ['IA32_SYSENTER_CS', 0x174],
    ['IA32_SYSENTER_ESP', 0x175],
    ['IA32_SYSENTER_EIP', 0x176],
    ['IA32_MISC_ENABLE', 0x1a0],
    ['IA32_DEBUGCTL', 0x1d9],
    ['IA32_PAT', 0x277],
    ['IA32_MTRR_DEF_TYPE', 0x2ff],
    ['IA32_VMX_BASIC', 0x480],
    ['IA32_VMX_PINBASED_CTLS', 0x481],
    ['IA32_VMX_PROCBASED_CTLS', 0x482],
    ['IA32_VMX_EXIT_CTLS', 0x483],
    ['IA32_VMX_ENTRY_CTLS', 0x484],
    ['IA32_VMX_MISC', 0x485],
    ['IA32_VMX_CR0_FIXED0', 0x486],
    ['IA32_VMX_CR0_FIXED1', 0x487],
    ['IA32_VMX_CR4_FIXED0', 0x488],
    ['IA32_VMX_CR4_FIXED1', 0x489],
    ['IA32_VMX_VMCS_ENUM', 0x48a],
    ['IA32_VMX_PROCBASED_CTLS2', 0x48b],
    ['IA32_VMX_EPT_VPID_CAP', 0x48c],
    ['IA32_VMX_TRUE_PINBASED_CTLS', 0x48d],
    ['IA32_VMX_TRUE_PROCBASED_CTLS', 0x48e],
    ['IA32_VMX_TRUE_EXIT_CTLS', 0x48f],
    ['IA32_VMX_TRUE_ENTRY_CTLS', 0x490],
    ['IA32_VMX_VMFUNC', 0x491],
    ['IA32_TSC_DEADLINE', 0x6e0],
    ['IA32_PKRS', 0x6e1],
    ['IA32_XSS', 0xda0],
    ['IA32_EFER', 0xc0000080],
    ['IA32_STAR', 0xc0000081],
    ['IA32_LSTAR', 0xc0000082],
    ['IA32_CSTAR', 0xc0000083],
    ['IA32_FMASK', 0xc0000084],
    ['IA32_FS_BASE', 0xc0000100],
    ['IA32_GS_BASE', 0xc0000101],
    ['IA32_KERNEL_GS_BASE', 0xc0000102],
    ['IA32_TSC_AUX', 0xc0000103],
  ] as const)('%s = %i', (name, index) => {
    expect(MSR[name]).toBe(index);
  });
});

describe('exceptions (SDM Vol. 3A §6.3.1, Table 6-1)', () => {
  // [vector, mnemonic, error code pushed]
  const table6_1: [number, string | undefined, boolean][] = [
    [0, 'DE', false],
    [1, 'DB', false],
    [2, 'NMI', false],
    [3, 'BP', false],
    [4, 'OF', false],
    [5, 'BR', false],
    [6, 'UD', false],
    [7, 'NM', false],
    [8, 'DF', true],
    [9, undefined, false],
    [10, 'TS', true],
    [11, 'NP', true],
    [12, 'SS', true],
    [13, 'GP', true],
    [14, 'PF', true],
    [15, undefined, false],
    [16, 'MF', false],
    [17, 'AC', true],
    [18, 'MC', false],
    [19, 'XM', false],
    [20, 'VE', false],
    [21, 'CP', true],
  ];
  it.each(table6_1)('vector %i is %s, error code %s', (vector, name, errorCode) => {
    if (name !== undefined) expect(Vector[name as keyof typeof Vector]).toBe(vector);
    expect(exceptionHasErrorCode(vector)).toBe(errorCode);
  });
  it('page-fault error code bits, Figure 4-12', () => {
    expectBits(PFEC, [
      ['P', 0],
      ['WR', 1],
      ['US', 2],
      ['RSVD', 3],
      ['ID', 4],
      ['PK', 5],
      ['SS', 6],
      ['HLAT', 7],
      ['SGX', 15],
    ]);
  });
});

describe('paging-structure entries (SDM Vol. 3A §4.3-§4.5)', () => {
  it('low-half flags, Table 4-20 and Table 4-18', () => {
    expectBits(PTE, [
      ['P', 0],
      ['RW', 1],
      ['US', 2],
      ['PWT', 3],
      ['PCD', 4],
      ['A', 5],
      ['D', 6],
      ['PS', 7],
      ['PAT', 7],
      ['G', 8],
      ['PAT_LARGE', 12],
    ]);
  });
  it('XD is bit 63 and the protection key bits 62:59', () => {
    expect(PTE_HI.XD).toBe(hiBit(63));
    expect(PTE_HI.PK_MASK).toBe(hiBit(59) + hiBit(60) + hiBit(61) + hiBit(62));
    expect(PTE_HI.PK_SHIFT).toBe(59 - 32);
  });
  it('4-MByte PDE of 32-bit paging, Table 4-4', () => {
    let high = 0;
    for (let b = 13; b <= 20; b++) high += bit(b);
    expect(PDE_4MB.ADDRESS_HIGH_MASK).toBe(high);
    expect(PDE_4MB.ADDRESS_HIGH_SHIFT).toBe(13);
    expect(PDE_4MB.RESERVED_BIT21).toBe(bit(21));
    expect(PDE_4MB.ADDRESS_MASK).toBe(bit(32) - bit(22));
  });
  it('PAE PDPTE reserved bits 2:1 and 8:5, Table 4-8', () => {
    expect(PDPTE_PAE.RESERVED_LO).toBe(bit(1) + bit(2) + bit(5) + bit(6) + bit(7) + bit(8));
  });
  it('2-MByte PDE, Tables 4-9 and 4-18; 1-GByte PDPTE, Table 4-16', () => {
    let r20_13 = 0;
    for (let b = 13; b <= 20; b++) r20_13 += bit(b);
    let r29_13 = 0;
    for (let b = 13; b <= 29; b++) r29_13 += bit(b);
    expect(PDE_2MB.RESERVED_LO).toBe(r20_13);
    expect(PDE_2MB.ADDRESS_LO).toBe(bit(32) - bit(21));
    expect(PDPTE_1GB.RESERVED_LO).toBe(r29_13);
    expect(PDPTE_1GB.ADDRESS_LO).toBe(bit(32) - bit(30));
  });
  it('levels are numbered from the PTE up', () => {
    expect(PagingLevel).toEqual({ PTE: 1, PDE: 2, PDPTE: 3, PML4E: 4, PML5E: 5 });
  });
});

describe('paging modes (SDM Vol. 3A §4.1.1, Table 4-1)', () => {
  // [PG, PAE, LME, LA57] -> mode, transcribed from Table 4-1.
  const table4_1: [number, number, number, number, string][] = [
    [0, 0, 0, 0, 'none'],
    [0, 1, 1, 1, 'none'],
    [1, 0, 0, 0, '32-bit'],
    [1, 0, 0, 1, '32-bit'],
    [1, 1, 0, 0, 'pae'],
    [1, 1, 0, 1, 'pae'],
    [1, 1, 1, 0, '4-level'],
    [1, 1, 1, 1, '5-level'],
  ];
  it.each(table4_1)('PG=%i PAE=%i LME=%i LA57=%i -> %s', (pg, pae, lme, la57, mode) => {
    const cr0 = pg ? bit(31) : 0;
    const cr4 = (pae ? bit(5) : 0) | (la57 ? bit(12) : 0);
    expect(pagingMode(cr0, cr4, lme ? bit(8) : 0)).toBe(mode);
  });
  it('linear-address widths', () => {
    expect(linearAddressBits('32-bit')).toBe(32);
    expect(linearAddressBits('pae')).toBe(32);
    expect(linearAddressBits('4-level')).toBe(48);
    expect(linearAddressBits('5-level')).toBe(57);
  });
});

describe('CPUID (SDM Vol. 3A §4.1.4)', () => {
  it.each([
    ['PSE', 1, 'edx', 3],
    ['PAE', 1, 'edx', 6],
    ['PGE', 1, 'edx', 13],
    ['PAT', 1, 'edx', 16],
    ['PSE36', 1, 'edx', 17],
    ['PCID', 1, 'ecx', 17],
    ['SMEP', 7, 'ebx', 7],
    ['INVPCID', 7, 'ebx', 10],
    ['SMAP', 7, 'ebx', 20],
    ['PKU', 7, 'ecx', 3],
    ['OSPKE', 7, 'ecx', 4],
    ['LA57', 7, 'ecx', 16],
    ['PKS', 7, 'ecx', 31],
    ['NX', 0x80000001, 'edx', 20],
    ['PAGE1GB', 0x80000001, 'edx', 26],
    ['LM', 0x80000001, 'edx', 29],
  ] as const)('%s is CPUID.%xH:%s[%i]', (name, leaf, register, position) => {
    expect(CPUID_FEATURE[name]).toEqual({ leaf, subleaf: 0, register, bit: position });
  });
  it('decodes CPUID.80000008H:EAX', () => {
    expect(decodeAddressSizes(0x302e)).toEqual({ maxPhyAddr: 46, linearAddressBits: 48 });
  });
  it('MAXPHYADDR high-half masks', () => {
    expect(physicalAddressHighMask(32)).toBe(0);
    expect(physicalAddressHighMask(36)).toBe(0xf);
    expect(physicalAddressHighMask(52)).toBe(0xf_ffff);
    expect(() => physicalAddressHighMask(53)).toThrow(RangeError);
    expect(() => physicalAddressHighMask(31.5)).toThrow(RangeError);
  });
});
