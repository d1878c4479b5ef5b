import type { ResolvedEptFeatures } from './capabilities.js';
import { EPTP } from './constants.js';

/** The decoded fields of an EPTP (SDM Vol. 3C §25.6.11, Table 25-9). */
export interface EptpFields {
  /** Bits 2:0: memory type used for the EPT paging structures. */
  readonly memoryType: number;
  /** Bits 5:3 plus 1: the EPT page-walk length. */
  readonly walkLength: number;
  /** Bit 6: accessed and dirty flags enabled. */
  readonly accessedDirty: boolean;
  /** Bit 7: supervisor shadow-stack access rights enabled. */
  readonly supervisorShadowStack: boolean;
  /** Bits 51:12: the physical address of the root table (the "EP4TA"). */
  readonly root: number;
}

/**
 * Why an EPTP fails the VM-entry checks, or `undefined` when it passes.
 *
 * - `MEMORY_TYPE`: bits 2:0 are neither UC (0) nor WB (6), or name an unsupported type.
 * - `WALK_LENGTH`: bits 5:3 are not 3 (4-level) or 4 (5-level), or name an unsupported length.
 * - `ACCESSED_DIRTY`: bit 6 is 1 but EPT A/D flags are not supported.
 * - `SHADOW_STACK`: bit 7 is 1 but supervisor shadow-stack control is not supported.
 * - `RESERVED`: bits 11:8 or 63:MAXPHYADDR are not 0.
 */
export type EptpViolation =
  | 'MEMORY_TYPE'
  | 'WALK_LENGTH'
  | 'ACCESSED_DIRTY'
  | 'SHADOW_STACK'
  | 'RESERVED';

/**
 * Decodes an EPTP.
 *
 * @param eptp - the 64-bit EPTP
 * @returns its fields (not validated: see {@link checkEptp})
 * @example
 * ```ts
 * decodeEptp(0x5000n | 6n | (3n << 3n)).walkLength; // 4
 * ```
 */
export function decodeEptp(eptp: bigint): EptpFields {
  const lo = Number(eptp & 0xfffn);
  return {
    memoryType: lo & EPTP.MEMORY_TYPE_MASK,
    walkLength: ((lo >>> EPTP.WALK_LENGTH_SHIFT) & 7) + 1,
    accessedDirty: (lo & EPTP.AD) !== 0,
    supervisorShadowStack: (lo & EPTP.SSS) !== 0,
    root: Number(eptp & 0x000f_ffff_ffff_f000n),
  };
}

/**
 * Applies the VM-entry checks on the EPTP field (SDM Vol. 3C §27.2.1.1, "enable EPT" = 1):
 * the memory type must be supported (UC or WB as IA32_VMX_EPT_VPID_CAP reports them), bits 5:3
 * must name a supported page-walk length (3 for 4, 4 for 5), bit 6 may be 1 only if EPT A/D
 * flags are supported, bit 7 only if supervisor shadow-stack control is, and bits 11:8 and
 * 63:MAXPHYADDR must be 0.
 *
 * @param eptp - the 64-bit EPTP
 * @param features - the processor's EPT features
 * @returns the first check that fails, or `undefined`
 * @example
 * ```ts
 * checkEptp(0x1000n | 6n | (3n << 3n), resolveEptFeatures()); // undefined
 * checkEptp(0x1000n | 2n | (3n << 3n), resolveEptFeatures()); // 'MEMORY_TYPE'
 * ```
 */
export function checkEptp(eptp: bigint, features: ResolvedEptFeatures): EptpViolation | undefined {
  if (typeof eptp !== 'bigint' || eptp < 0n || eptp >= 1n << 64n) return 'RESERVED';
  const f = decodeEptp(eptp);
  const typeOk =
    (f.memoryType === 0 && features.memoryTypeUC) || (f.memoryType === 6 && features.memoryTypeWB);
  if (!typeOk) return 'MEMORY_TYPE';
  const lengthOk =
    (f.walkLength === 4 && features.walkLength4) || (f.walkLength === 5 && features.walkLength5);
  if (!lengthOk) return 'WALK_LENGTH';
  if (f.accessedDirty && !features.accessedDirty) return 'ACCESSED_DIRTY';
  if (f.supervisorShadowStack && !features.supervisorShadowStack) return 'SHADOW_STACK';
  if ((eptp & BigInt(EPTP.RESERVED_LO)) !== 0n) return 'RESERVED';
  if (eptp >> BigInt(features.maxPhyAddr) !== 0n) return 'RESERVED';
  return undefined;
}

/**
 * Builds an EPTP value.
 *
 * @param root - physical address of the root table (4-KByte aligned)
 * @param options - walk length (default 4), memory type (default WB = 6), A/D enable
 * @returns the EPTP
 * @example
 * ```ts
 * makeEptp(0x10_0000, { walkLength: 4, accessedDirty: true }); // 0x10005en
 * ```
 */
export function makeEptp(
  root: number,
  options: { walkLength?: 4 | 5; memoryType?: number; accessedDirty?: boolean } = {},
): bigint {
  const walk = (options.walkLength ?? 4) - 1;
  const lo =
    (options.memoryType ?? 6) |
    (walk << EPTP.WALK_LENGTH_SHIFT) |
    (options.accessedDirty === true ? EPTP.AD : 0);
  return BigInt(root) | BigInt(lo);
}
