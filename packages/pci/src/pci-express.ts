import type { ConfigSpace } from './config-space.js';
import { PciError } from './errors.js';

/** Length of the PCI Express Capability structure, version 2 (PCIe Base 4.0 §7.5.3, Figure 7-10). */
export const PCIE_CAPABILITY_LENGTH = 0x3c;

/** Register offsets inside the PCI Express Capability (PCIe Base 4.0 §7.5.3). */
export const PcieCap = {
  /** Capabilities (0x02). */
  CAPABILITIES: 0x02,
  /** Device Capabilities (0x04). */
  DEVICE_CAPABILITIES: 0x04,
  /** Device Control (0x08). */
  DEVICE_CONTROL: 0x08,
  /** Device Status (0x0a). */
  DEVICE_STATUS: 0x0a,
  /** Link Capabilities (0x0c). */
  LINK_CAPABILITIES: 0x0c,
  /** Link Control (0x10). */
  LINK_CONTROL: 0x10,
  /** Link Status (0x12). */
  LINK_STATUS: 0x12,
  /** Device Capabilities 2 (0x24). */
  DEVICE_CAPABILITIES_2: 0x24,
  /** Device Control 2 (0x28). */
  DEVICE_CONTROL_2: 0x28,
  /** Device Status 2 (0x2a). */
  DEVICE_STATUS_2: 0x2a,
  /** Link Capabilities 2 (0x2c). */
  LINK_CAPABILITIES_2: 0x2c,
  /** Link Control 2 (0x30). */
  LINK_CONTROL_2: 0x30,
  /** Link Status 2 (0x32). */
  LINK_STATUS_2: 0x32,
} as const;

/** Device Control bits (PCIe Base 4.0 §7.5.3.4). */
export const DeviceControl = {
  /** Correctable Error Reporting (bit 0). */
  CORRECTABLE_ERROR_REPORTING: 1 << 0,
  /** Non Fatal Error Reporting (bit 1). */
  NON_FATAL_ERROR_REPORTING: 1 << 1,
  /** Fatal Error Reporting (bit 2). */
  FATAL_ERROR_REPORTING: 1 << 2,
  /** Unsupported Request Reporting (bit 3). */
  UNSUPPORTED_REQUEST_REPORTING: 1 << 3,
  /** Relaxed Ordering (bit 4). */
  RELAXED_ORDERING: 1 << 4,
  /** Max Payload Size field: lowest bit 5. */
  MAX_PAYLOAD_SIZE_SHIFT: 5,
  /** Extended Tag (bit 8). */
  EXTENDED_TAG: 1 << 8,
  /** Phantom Functions (bit 9). */
  PHANTOM_FUNCTIONS: 1 << 9,
  /** Aux Power PM (bit 10). */
  AUX_POWER_PM: 1 << 10,
  /** No Snoop (bit 11). */
  NO_SNOOP: 1 << 11,
  /** Max Read Request Size field: lowest bit 12. */
  MAX_READ_REQUEST_SIZE_SHIFT: 12,
  /** Initiate FLR (bit 15). */
  INITIATE_FLR: 1 << 15,
} as const;

/** Device/Port Type values of the PCI Express Capabilities register (§7.5.3.2) this package models. */
export const DevicePortType = {
  /** Endpoint (0b0000). */
  ENDPOINT: 0b0000,
  /** Legacy Endpoint (0b0001). */
  LEGACY_ENDPOINT: 0b0001,
  /** RC Integrated Endpoint (0b1001). */
  RC_INTEGRATED_ENDPOINT: 0b1001,
} as const;

/** What a function declares in its PCI Express Capability. */
export interface PciExpressOptions {
  /** Device/Port Type (default Endpoint). */
  readonly portType?: 'endpoint' | 'legacy-endpoint' | 'rc-integrated-endpoint';
  /** Max_Payload_Size Supported in bytes: 128 to 4096 (default 256). */
  readonly maxPayloadSupported?: 128 | 256 | 512 | 1024 | 2048 | 4096;
  /** Function Level Reset Capability (default true). */
  readonly functionLevelReset?: boolean;
  /** Max Link Speed code: 1 = 2.5 GT/s, 2 = 5, 3 = 8, 4 = 16 (default 2; ignored for RCiEPs). */
  readonly linkSpeed?: 1 | 2 | 3 | 4;
  /** Maximum and negotiated link width in lanes (default 8; ignored for RCiEPs). */
  readonly linkWidth?: 1 | 2 | 4 | 8 | 12 | 16 | 32;
  /** Interrupt Message Number (bits 13:9): which MSI/MSI-X vector status changes use. */
  readonly interruptMessageNumber?: number;
}

/**
 * The PCI Express Capability of an endpoint (PCIe Base 4.0 §7.5.3), version 2, 0x3C bytes.
 *
 * Implemented: PCI Express Capabilities (RO), Device Capabilities (RO: Max_Payload_Size
 * Supported, Extended Tag, FLR capability), Device Control (RW error-reporting enables, Relaxed
 * Ordering, Max_Payload_Size, Extended Tag, No Snoop, Max_Read_Request_Size; Initiate FLR,
 * which always reads 0 and triggers {@link onFunctionLevelReset}), Device Status (RW1C error
 * bits 3:0), and for link-attached endpoints Link Capabilities/Control/Status and their "2"
 * siblings. Slot and Root registers are reserved for endpoints and read 0.
 */
export class PciExpressCapability {
  /** Offset of the capability header. */
  readonly offset: number;
  /** Whether Function Level Reset is supported. */
  readonly functionLevelReset: boolean;
  /** Called when software writes 1 to Initiate Function Level Reset. */
  onFunctionLevelReset: () => void = () => {};
  private readonly config: ConfigSpace;

  /**
   * Defines the capability's registers; use {@link PciFunction.addPciExpress} instead.
   *
   * @param config - the function's configuration space
   * @param offset - where the capability header was allocated
   * @param options - port type, payload size, FLR, link parameters
   */
  constructor(config: ConfigSpace, offset: number, options: PciExpressOptions) {
    this.config = config;
    this.offset = offset;
    const portType =
      options.portType === 'rc-integrated-endpoint'
        ? DevicePortType.RC_INTEGRATED_ENDPOINT
        : options.portType === 'legacy-endpoint'
          ? DevicePortType.LEGACY_ENDPOINT
          : DevicePortType.ENDPOINT;
    const mps = Math.log2((options.maxPayloadSupported ?? 256) / 128);
    if (!Number.isInteger(mps) || mps < 0 || mps > 5) {
      throw new PciError('INVALID_CAPABILITY', 'Max_Payload_Size Supported must be 128-4096');
    }
    const imn = options.interruptMessageNumber ?? 0;
    if (!Number.isInteger(imn) || imn < 0 || imn > 31) {
      throw new PciError('INVALID_CAPABILITY', `Interrupt Message Number ${imn} is not 0-31`);
    }
    this.functionLevelReset = options.functionLevelReset ?? true;
    const at = (reg: number) => offset + reg;
    // §7.5.3.2: Capability Version 2h, Device/Port Type, Interrupt Message Number.
    config.define({
      offset: at(PcieCap.CAPABILITIES),
      size: 2,
      value: 0x2 | (portType << 4) | (imn << 9),
    });
    // §7.5.3.3: Max_Payload_Size Supported (2:0), Extended Tag Field Supported (5),
    // Role-Based Error Reporting (15, must be 1 since 1.1), FLR Capability (28).
    config.define({
      offset: at(PcieCap.DEVICE_CAPABILITIES),
      size: 4,
      value: mps | (1 << 5) | (1 << 15) | (this.functionLevelReset ? 1 << 28 : 0),
    });
    // §7.5.3.4: reset values Relaxed Ordering 1, No Snoop 1, Max_Read_Request_Size 010b (512 B).
    config.define({
      offset: at(PcieCap.DEVICE_CONTROL),
      size: 2,
      value: DeviceControl.RELAXED_ORDERING | DeviceControl.NO_SNOOP | (0b010 << 12),
      writable:
        0x000f |
        DeviceControl.RELAXED_ORDERING |
        (0x7 << DeviceControl.MAX_PAYLOAD_SIZE_SHIFT) |
        DeviceControl.EXTENDED_TAG |
        DeviceControl.NO_SNOOP |
        (0x7 << DeviceControl.MAX_READ_REQUEST_SIZE_SHIFT),
    });
    config.onWrite(at(PcieCap.DEVICE_CONTROL), 2, (o, size, written) => {
      // Initiate FLR is a write-only trigger that always reads 0 (§7.5.3.4, bit 15).
      const base = at(PcieCap.DEVICE_CONTROL);
      const bits = (written * 2 ** (8 * (o - base))) & 0xffff;
      if (this.functionLevelReset && o + size > base + 1 && bits & DeviceControl.INITIATE_FLR) {
        this.onFunctionLevelReset();
      }
    });
    // §7.5.3.5: error-detected bits 3:0 are RW1C.
    config.define({ offset: at(PcieCap.DEVICE_STATUS), size: 2, writeOneToClear: 0x000f });
    config.define({ offset: at(PcieCap.DEVICE_CAPABILITIES_2), size: 4 });
    config.define({ offset: at(PcieCap.DEVICE_CONTROL_2), size: 2 });
    if (portType !== DevicePortType.RC_INTEGRATED_ENDPOINT) {
      const speed = options.linkSpeed ?? 2;
      const width = options.linkWidth ?? 8;
      // §7.5.3.6: Max Link Speed (3:0), Maximum Link Width (9:4).
      config.define({
        offset: at(PcieCap.LINK_CAPABILITIES),
        size: 4,
        value: speed | (width << 4),
      });
      // §7.5.3.7: ASPM Control (1:0), RCB (3), Common Clock (6), Extended Synch (7) are RW.
      config.define({ offset: at(PcieCap.LINK_CONTROL), size: 2, writable: 0x00cb });
      // §7.5.3.8: Current Link Speed (3:0), Negotiated Link Width (9:4).
      config.define({ offset: at(PcieCap.LINK_STATUS), size: 2, value: speed | (width << 4) });
      // §7.5.3.18-19: Supported Link Speeds Vector (7:1); Target Link Speed (3:0) RW.
      const vector = ((1 << speed) - 1) << 1;
      config.define({ offset: at(PcieCap.LINK_CAPABILITIES_2), size: 4, value: vector });
      config.define({
        offset: at(PcieCap.LINK_CONTROL_2),
        size: 2,
        value: speed,
        writable: 0x000f,
      });
    }
  }

  /** Max_Payload_Size programmed by software, in bytes. */
  get maxPayloadSize(): number {
    const v = this.config.read(this.offset + PcieCap.DEVICE_CONTROL, 2);
    return 128 << ((v >>> DeviceControl.MAX_PAYLOAD_SIZE_SHIFT) & 0x7);
  }

  /**
   * Records an error in Device Status, as the function does when it detects one.
   *
   * @param bit - 0 correctable, 1 non-fatal, 2 fatal, 3 unsupported request
   */
  reportError(bit: 0 | 1 | 2 | 3): void {
    this.config.setBits(this.offset + PcieCap.DEVICE_STATUS, 2, 1 << bit, true);
  }
}
