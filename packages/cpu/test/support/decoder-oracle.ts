// The decoder oracle: decodes byte sequences with vmkit and with iced-x86 and reports every
// disagreement. Shared by the short run in `pnpm test` and the long run in bench.
import { Code, Decoder, DecoderOptions, Instruction, Mnemonic, OpKind } from 'iced-x86';
import { MNEMONICS } from '../../src/decoder/opcodes.js';
import { CpuFault, decode, type Instr } from '../../src/index.js';
import { describeIced, describeVmkit } from './iced-compare.js';
import { mulberry32 } from './prng.js';

/**
 * Encodings vmkit decodes to #UD on purpose although iced-x86 decodes them to a mnemonic that
 * vmkit implements in other forms (iced `Code` names): the 16-bit stack operations (66h),
 * MOVSXD without REX.W, BSWAP r16 (undefined in the SDM), LOOP/JECXZ with 67h, segment
 * registers and far transfers (system work of a later session).
 */
export const UNIMPLEMENTED_FORMS: readonly RegExp[] = [
  /^Push_r16$|^Pop_r16$|^Push_rm16$|^Pop_rm16$|^Push_imm16$|^Pushw_imm8$|^Pushf$|^Popf$/,
  /^Enterw_imm16_imm8$|^Leavew$/,
  /^Movsxd_r16_rm16$|^Movsxd_r32_rm32$|^Bswap_r16$/,
  /_ECX$|^Jecxz_rel8_64$/,
  /Sreg|_FS$|_GS$|_m16(16|32|64)$|^Retf/,
  /(^|_)(dr|cr|tr)(_|$)/,
  /xmm|ymm|zmm|(^|_)mm/, // SSE forms that share a mnemonic with a string instruction (MOVSD, CMPSD)
];

/** One disagreement between vmkit and iced-x86. */
export interface Mismatch {
  readonly bytes: string;
  readonly vmkit: string;
  readonly iced: string;
}

const STRING_KINDS = new Set<OpKind>([
  OpKind.MemorySegRSI,
  OpKind.MemoryESRDI,
  OpKind.MemorySegESI,
  OpKind.MemoryESEDI,
]);

/**
 * Compares vmkit with iced-x86 on one byte sequence (at least 16 bytes, so that a 15-byte
 * instruction never runs out of input). `known` is the set of mnemonics vmkit implements.
 */
export function compareOne(
  bytes: Uint8Array,
  position: number,
  decoder: Decoder,
  out: Instruction,
  known: ReadonlySet<string>,
  ip: bigint,
  seen?: Set<string>,
  faults?: Map<number, number>,
): Mismatch | undefined {
  let ins: Instr | undefined;
  let fault: CpuFault | undefined;
  try {
    ins = decode((k) => bytes[k]!);
  } catch (e) {
    if (!(e instanceof CpuFault)) throw e;
    fault = e;
    faults?.set(e.vector, (faults.get(e.vector) ?? 0) + 1);
  }
  decoder.position = position;
  decoder.ip = ip;
  decoder.decodeOut(out);
  const hex = Buffer.from(bytes).toString('hex');
  const icedValid = out.code !== Code.INVALID;
  const icedMn = icedValid ? Mnemonic[out.mnemonic]! : 'INVALID';
  if (ins !== undefined) {
    const mine = `${describeVmkit(ins, ip)} /${ins.length}`;
    if (!icedValid) return { bytes: hex, vmkit: mine, iced: 'INVALID' };
    let string = false;
    for (let k = 0; k < out.opCount; k++) if (STRING_KINDS.has(out.opKind(k))) string = true;
    const theirs = string
      ? `${icedMn}  /${out.length}`
      : `${describeIced(out, ins.osize)} /${out.length}`;
    const mineCmp = string ? `${ins.mnemonic}  /${ins.length}` : mine;
    if (mineCmp !== theirs) return { bytes: hex, vmkit: mineCmp, iced: theirs };
    // Prefix semantics that the operand description does not show.
    if (out.hasLockPrefix !== ins.lock)
      return { bytes: hex, vmkit: `${mine} lock=${ins.lock}`, iced: theirs };
    if (string && (out.hasRepePrefix || out.hasRepnePrefix) !== (ins.rep !== 0)) {
      return { bytes: hex, vmkit: `${mine} rep=${ins.rep}`, iced: `${theirs} rep` };
    }
    seen?.add(ins.mnemonic);
    return undefined;
  }
  // vmkit refused it: iced must agree that it is invalid, or decode it to something vmkit
  // does not claim to implement.
  if (!icedValid) return undefined;
  const code = Code[out.code]!;
  if (!known.has(icedMn) || UNIMPLEMENTED_FORMS.some((r) => r.test(code))) return undefined;
  for (let k = 0; k < out.opCount; k++) {
    const kind = out.opKind(k);
    // 67h string instructions (32-bit addresses) are not implemented.
    if (kind === OpKind.MemoryESEDI || kind === OpKind.MemorySegESI) return undefined;
  }
  return {
    bytes: hex,
    vmkit: fault!.vector === 6 ? '#UD' : `#${fault!.vector}`,
    iced: `${describeIced(out, 8)} /${out.length} (${code})`,
  };
}

const PREFIXES = [0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65];

/**
 * Generates a byte sequence: half the time fully random, otherwise a few prefixes, an
 * optional REX, an opcode (one-byte or 0F map) and random ModRM/SIB/displacement/immediate
 * bytes, which reaches far more valid encodings than uniform bytes do.
 */
export function generate(rand: () => number, out: Uint8Array): void {
  for (let k = 0; k < out.length; k++) out[k] = (rand() * 256) | 0;
  if (rand() < 0.35) return;
  let p = 0;
  const nPrefix = rand() < 0.5 ? 0 : rand() < 0.9 ? 1 + ((rand() * 3) | 0) : 8 + ((rand() * 8) | 0);
  for (let k = 0; k < nPrefix && p < out.length - 4; k++) {
    out[p++] = PREFIXES[(rand() * PREFIXES.length) | 0]!;
  }
  if (rand() < 0.5 && p < out.length - 3) out[p++] = 0x40 | ((rand() * 16) | 0);
  if (rand() < 0.3 && p < out.length - 2) out[p++] = 0x0f;
}

const SLOT = 24;

/**
 * Encodings that random bytes almost never produce (exact ModRM values, prefix orders),
 * compared first; the oracle, not this list, says what they decode to.
 */
export const CORPUS = [
  'e480',
  '66e580',
  '48e580',
  'e680',
  'ec',
  '66ed',
  'ee',
  '48ef',
  'f30f1efa',
  'f3660f1efa',
  '66f30f1efa',
  'f2f30f1efa',
  'f3f20f1efa',
  'f30f1efb',
  '0faee8',
  '0faeef',
  '0faef0',
  '0faef8',
  '660faef0',
  'f390',
  'f34190',
  '4190',
  '4890',
  '480fc70e',
  '0fc70e',
  'f0480fc70e',
  '480fc7ce',
  '0f0b',
  'f4',
  '9c',
  '9d',
  '489d',
  '669c',
  'c8100001',
  'c9',
  'e3fe',
  '67e3fe',
  'f3a4',
  'f348ab',
  'f2ae',
  'f3a6',
  '67f3a4',
  '64a4',
  '0fbcc1',
  'f30fbcc1',
  'f30fbdc1',
  'f30fb8c1',
  '660fc8',
  '480fc8',
  '48a10102030405060708',
  '67a101020304',
  '8d0425f0ffffff',
  '8d05f0ffffff',
  '678d05f0ffffff',
  // System instructions: exact ModRM values and prefixes random bytes rarely produce.
  '0f01f8',
  'f30f01f8',
  '660f01f8',
  '480f01f8',
  '0f01f9',
  'f20f01f9',
  '0f20c0',
  '0f20d8',
  '440f20c0',
  '410f22e7',
  '0f2000',
  '660f22d8',
  'f00f20c0',
  '440f20c8',
  '660f388208',
  '66410f38820c24',
  '660f3882c0',
  'f3660f388208',
  '660f38824d10',
  '0f0118',
  '0f0110',
  '0f0100',
  '0f0108',
  '0f0138',
  '0f00d8',
  '660f00d8',
  '480f0018',
  '480f07',
  '0f07',
  '0f05',
  '480fcf',
  'cf',
  '8ed0',
  '668ed0',
  '488ed3',
  '8e16',
  '418e10',
  '8ed8',
  // VMCALL and prefixed forms
  '0f01c1',
  '660f01c1',
  'f30f01c1',
  '480f01c1',
];

/** Runs `count` random comparisons from `seed`; returns the mismatches (at most `limit`). */
export function runOracle(
  seed: number,
  count: number,
  limit = 20,
): {
  mismatches: Mismatch[];
  decoded: number;
  compared: number;
  seen: Set<string>;
  faults: Map<number, number>;
} {
  const rand = mulberry32(seed);
  const all = new Uint8Array(count * SLOT);
  const ips: bigint[] = [];
  for (let n = 0; n < count; n++) {
    const slot = all.subarray(n * SLOT, n * SLOT + SLOT);
    generate(rand, slot);
    if (n < CORPUS.length) slot.set(Buffer.from(CORPUS[n]!, 'hex'));
    ips.push(BigInt(Math.floor(rand() * 2 ** 47)));
  }
  const decoder = new Decoder(64, all, DecoderOptions.None);
  const out = new Instruction();
  const mismatches: Mismatch[] = [];
  const seen = new Set<string>();
  const faults = new Map<number, number>();
  let decoded = 0;
  let n = 0;
  for (; n < count && mismatches.length < limit; n++) {
    const bytes = all.subarray(n * SLOT, n * SLOT + SLOT);
    const m = compareOne(bytes, n * SLOT, decoder, out, MNEMONICS, ips[n]!, seen, faults);
    if (m !== undefined) mismatches.push(m);
    else if (out.code !== Code.INVALID) decoded++;
  }
  decoder.free();
  out.free();
  return { mismatches, decoded, compared: n, seen, faults };
}
