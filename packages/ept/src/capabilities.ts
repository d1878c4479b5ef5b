import { EptError } from './errors.js';

/**
 * What the (virtual) processor supports and what the VMM enabled: the EPT bits of
 * IA32_VMX_EPT_VPID_CAP (SDM Vol. 3C Appendix A.10), MAXPHYADDR, and the VM-execution
 * controls that change EPT behaviour. Every field is optional; defaults describe a recent
 * processor with everything supported and the optional controls off.
 */
export interface EptFeatures {
  /** MAXPHYADDR, 32..52 (CPUID.80000008H:EAX[7:0]); default 52. */
  readonly maxPhyAddr?: number;
  /** Execute-only translations (capability bit 0); default true. */
  readonly executeOnly?: boolean;
  /** Page-walk length 4 (bit 6); default true. */
  readonly walkLength4?: boolean;
  /** Page-walk length 5 (bit 7); default true. */
  readonly walkLength5?: boolean;
  /** EPTP memory type UC (bit 8); default true. */
  readonly memoryTypeUC?: boolean;
  /** EPTP memory type WB (bit 14); default true. */
  readonly memoryTypeWB?: boolean;
  /** 2-MByte EPT pages, PDE bit 7 (bit 16); default true. */
  readonly pages2MB?: boolean;
  /** 1-GByte EPT pages, PDPTE bit 7 (bit 17); default true. */
  readonly pages1GB?: boolean;
  /** Accessed and dirty flags for EPT (bit 21); default true. */
  readonly accessedDirty?: boolean;
  /** Advanced VM-exit information for EPT violations (bit 22); default true. */
  readonly advancedExitInfo?: boolean;
  /** Supervisor shadow-stack control (bit 23); default false (not modelled). */
  readonly supervisorShadowStack?: boolean;
  /** VM-execution control "mode-based execute control for EPT" (MBEC); default false. */
  readonly modeBasedExecute?: boolean;
  /** VM-execution control "EPT-violation #VE"; default false. */
  readonly violationVe?: boolean;
}

/** {@link EptFeatures} with every field resolved. */
export interface ResolvedEptFeatures {
  /** MAXPHYADDR. */
  readonly maxPhyAddr: number;
  /** Execute-only translations supported. */
  readonly executeOnly: boolean;
  /** Page-walk length 4 supported. */
  readonly walkLength4: boolean;
  /** Page-walk length 5 supported. */
  readonly walkLength5: boolean;
  /** EPTP memory type UC supported. */
  readonly memoryTypeUC: boolean;
  /** EPTP memory type WB supported. */
  readonly memoryTypeWB: boolean;
  /** 2-MByte pages supported. */
  readonly pages2MB: boolean;
  /** 1-GByte pages supported. */
  readonly pages1GB: boolean;
  /** EPT accessed and dirty flags supported. */
  readonly accessedDirty: boolean;
  /** Advanced EPT-violation exit information supported. */
  readonly advancedExitInfo: boolean;
  /** Supervisor shadow-stack control supported. */
  readonly supervisorShadowStack: boolean;
  /** Mode-based execute control enabled. */
  readonly modeBasedExecute: boolean;
  /** EPT-violation #VE enabled. */
  readonly violationVe: boolean;
}

/**
 * Fills in the defaults of {@link EptFeatures} and checks MAXPHYADDR.
 *
 * @param features - the features given
 * @returns every field resolved
 * @throws {@link EptError} `INVALID_CONFIG` for a MAXPHYADDR outside 32..52
 * @example
 * ```ts
 * resolveEptFeatures({ maxPhyAddr: 46 }).pages1GB; // true
 * ```
 */
export function resolveEptFeatures(features: EptFeatures = {}): ResolvedEptFeatures {
  const maxPhyAddr = features.maxPhyAddr ?? 52;
  if (!Number.isInteger(maxPhyAddr) || maxPhyAddr < 32 || maxPhyAddr > 52) {
    throw new EptError('INVALID_CONFIG', `MAXPHYADDR ${maxPhyAddr} is not in 32..52`);
  }
  return {
    maxPhyAddr,
    executeOnly: features.executeOnly ?? true,
    walkLength4: features.walkLength4 ?? true,
    walkLength5: features.walkLength5 ?? true,
    memoryTypeUC: features.memoryTypeUC ?? true,
    memoryTypeWB: features.memoryTypeWB ?? true,
    pages2MB: features.pages2MB ?? true,
    pages1GB: features.pages1GB ?? true,
    accessedDirty: features.accessedDirty ?? true,
    advancedExitInfo: features.advancedExitInfo ?? true,
    supervisorShadowStack: features.supervisorShadowStack ?? false,
    modeBasedExecute: features.modeBasedExecute ?? false,
    violationVe: features.violationVe ?? false,
  };
}

/**
 * Reads the EPT capabilities from a value of IA32_VMX_EPT_VPID_CAP (SDM Vol. 3C Appendix
 * A.10): bits 0, 6, 7, 8, 14, 16, 17, 21, 22 and 23.
 *
 * @param msr - the MSR value
 * @param maxPhyAddr - MAXPHYADDR of the processor
 * @returns the capability part of {@link EptFeatures}
 * @example
 * ```ts
 * eptFeaturesFromMsr(0x0f01_06734141n, 46).walkLength5; // false
 * ```
 */
export function eptFeaturesFromMsr(msr: bigint, maxPhyAddr = 52): EptFeatures {
  const bit = (n: number): boolean => ((msr >> BigInt(n)) & 1n) === 1n;
  return {
    maxPhyAddr,
    executeOnly: bit(0),
    walkLength4: bit(6),
    walkLength5: bit(7),
    memoryTypeUC: bit(8),
    memoryTypeWB: bit(14),
    pages2MB: bit(16),
    pages1GB: bit(17),
    accessedDirty: bit(21),
    advancedExitInfo: bit(22),
    supervisorShadowStack: bit(23),
  };
}
