import type { ConfigSpace } from './config-space.js';
import { PciError } from './errors.js';

/** Length of the ARI Extended Capability: header, ARI Capability, ARI Control. */
export const ARI_CAPABILITY_LENGTH = 8;

/** What a function declares in its ARI Extended Capability. */
export interface AriOptions {
  /**
   * Next Function Number (bits 15:8 of the ARI Capability register): the next function of the
   * same ARI device, 0 to end the list (PCIe Base 4.0 §6.13 and the ARI Extended Capability).
   */
  readonly nextFunction: number;
  /** MFVC Function Groups Capability (bit 0). */
  readonly mfvcFunctionGroups?: boolean;
  /** ACS Function Groups Capability (bit 1). */
  readonly acsFunctionGroups?: boolean;
}

/**
 * The ARI (Alternative Routing-ID Interpretation) Extended Capability, ID 000Eh, version 1.
 *
 * With ARI a device's routing ID is bus:function with an 8-bit function number and no device
 * number (PCIe Base 4.0 §6.13); functions are found by following Next Function Number from
 * function 0 instead of probing device/function pairs. ARI Capability is RO; in ARI Control,
 * MFVC Function Groups Enable (bit 0) and ACS Function Groups Enable (bit 1) are RW when the
 * matching capability bit is set and RO 0 otherwise, and Function Group (6:4) is RW when either is.
 */
export class AriCapability {
  /** Offset of the extended capability header. */
  readonly offset: number;
  private readonly config: ConfigSpace;

  /**
   * Defines the registers; use {@link PciFunction.addAri} instead.
   *
   * @param config - the function's configuration space
   * @param offset - where the extended capability header was allocated
   * @param options - Next Function Number and function-group capabilities
   */
  constructor(config: ConfigSpace, offset: number, options: AriOptions) {
    const next = options.nextFunction;
    if (!Number.isInteger(next) || next < 0 || next > 255) {
      throw new PciError('INVALID_CAPABILITY', `ARI Next Function Number ${next} is not 0-255`);
    }
    this.config = config;
    this.offset = offset;
    const mfvc = options.mfvcFunctionGroups ?? false;
    const acs = options.acsFunctionGroups ?? false;
    config.define({
      offset: offset + 4,
      size: 2,
      value: (mfvc ? 1 : 0) | (acs ? 2 : 0) | (next << 8),
    });
    config.define({
      offset: offset + 6,
      size: 2,
      writable: (mfvc ? 1 : 0) | (acs ? 2 : 0) | (mfvc || acs ? 0x70 : 0),
    });
  }

  /** The Next Function Number this function advertises. */
  get nextFunction(): number {
    return this.config.read(this.offset + 5, 1);
  }
}
