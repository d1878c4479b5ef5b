import type { MmioHandler } from '@vmkit/memory';
import {
  type BarDefinition,
  Command,
  type DecodedBar,
  PciFunction,
  type PciFunctionOptions,
  Type0,
} from '@vmkit/pci';

/** What a VF looks like apart from its IDs, which the SR-IOV rules fix. */
export interface VfTemplate {
  /** Class Code (normally the PF's). */
  readonly classCode: number;
  /** Revision ID (default 0). */
  readonly revisionId?: number;
  /** Subsystem Vendor ID (normally the PF's). */
  readonly subsystemVendorId?: number;
  /** Subsystem ID. */
  readonly subsystemId?: number;
}

/**
 * Builds a Virtual Function's configuration space with the VF rules of PCIe Base 4.0 §9.3.4:
 * Vendor ID and Device ID read FFFFh (§9.3.4.1.1-2: software takes the VF Device ID from the PF's
 * SR-IOV capability); in Command only Bus Master Enable is RW, I/O and Memory Space Enable are
 * RO 0 (VF MSE in the PF governs VF memory decode) and Interrupt Disable is RO 0 (VFs have no
 * INTx); the BAR registers, Interrupt Line and Interrupt Pin read 0 (VF BARs live in the PF's
 * SR-IOV capability). `bars` gives each VF BAR's per-VF size and the VF's handler so MSI-X tables
 * can be placed in them; `decode` supplies where they currently decode.
 *
 * @param template - class and subsystem IDs
 * @param bars - the per-VF BAR definitions (with this VF's handlers)
 * @param decode - the VF's decoded BARs, computed from the PF's VF BARs
 * @returns the VF function (not yet placed in a segment)
 */
export function createVirtualFunction(
  template: VfTemplate,
  bars: readonly BarDefinition[],
  decode: (vf: PciFunction) => readonly DecodedBar[],
): PciFunction {
  const options: PciFunctionOptions = {
    vendorId: 0xffff,
    deviceId: 0xffff,
    classCode: template.classCode,
    revisionId: template.revisionId ?? 0,
    subsystemVendorId: template.subsystemVendorId ?? 0,
    subsystemId: template.subsystemId ?? 0,
    bars,
  };
  let vf: PciFunction | undefined;
  vf = new PciFunction(options, () => (vf === undefined ? [] : decode(vf)));
  const cs = vf.config;
  cs.setWritable(Type0.COMMAND, 2, Command.BUS_MASTER);
  cs.setWritable(Type0.INTERRUPT_LINE, 1, 0);
  for (const bar of vf.bars) {
    const words = bar.kind === 'memory64' ? 2 : 1;
    for (let k = 0; k < words; k++) {
      cs.setWritable(bar.offset + 4 * k, 4, 0);
      cs.setResetValue(bar.offset + 4 * k, 4, 0);
    }
  }
  return vf;
}

/** An MMIO handler that ignores writes and reads 0: a VF BAR with no registers behind it. */
export const EMPTY_BAR: MmioHandler = { read: () => 0n, write: () => {} };
