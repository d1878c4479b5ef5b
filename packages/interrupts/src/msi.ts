/** Delivery modes of an interrupt message (Intel SDM Vol. 3A §11.11.2, §11.6.1). */
export const DeliveryMode = {
  /** 000b: Fixed. */
  FIXED: 0,
  /** 001b: Lowest Priority. */
  LOWEST_PRIORITY: 1,
  /** 010b: SMI. */
  SMI: 2,
  /** 100b: NMI. */
  NMI: 4,
  /** 101b: INIT. */
  INIT: 5,
  /** 111b: ExtINT. */
  EXTINT: 7,
} as const;

/** An interrupt as the APICs see it, whatever carried it (MSI, I/O APIC, IPI, remapping). */
export interface ApicInterrupt {
  /** Vector 0-255. */
  readonly vector: number;
  /** Destination APIC ID (8-bit xAPIC, 32-bit x2APIC) or logical destination. */
  readonly destination: number;
  /** Physical or logical destination mode. */
  readonly destinationMode: 'physical' | 'logical';
  /** Delivery mode, see {@link DeliveryMode}. */
  readonly deliveryMode: number;
  /** Edge or level. */
  readonly triggerMode: 'edge' | 'level';
  /** Redirection hint (lowest-priority style delivery among the destinations). */
  readonly redirectionHint?: boolean;
}

/** An MSI/MSI-X message: the DWORD `data` written to `addressHigh:addressLow`. */
export interface MsiAddressData {
  /** Address bits 31:0. */
  readonly addressLow: number;
  /** Address bits 63:32 (0 for x86 MSIs). */
  readonly addressHigh: number;
  /** Data. */
  readonly data: number;
}

/**
 * Composes the MSI address and data of an interrupt in the x86 compatibility format (Intel SDM
 * Vol. 3A §11.11.1 "Message Address Register Format", §11.11.2 "Message Data Register Format"):
 * address 0xFEE in 31:20, destination ID 19:12, RH bit 3, DM bit 2; data vector 7:0, delivery
 * mode 10:8, level bit 14 (1 = assert, for level-triggered), trigger mode bit 15.
 *
 * @param irq - the interrupt; the destination must fit 8 bits
 * @returns the message
 */
export function composeMsi(irq: ApicInterrupt): MsiAddressData {
  const addressLow =
    (0xfee0_0000 |
      ((irq.destination & 0xff) << 12) |
      (irq.redirectionHint ? 0x8 : 0) |
      (irq.destinationMode === 'logical' ? 0x4 : 0)) >>>
    0;
  const level = irq.triggerMode === 'level';
  const data = (irq.vector & 0xff) | ((irq.deliveryMode & 7) << 8) | (level ? 0xc000 : 0);
  return { addressLow, addressHigh: 0, data };
}

/**
 * Decodes a compatibility-format MSI (the inverse of {@link composeMsi}). Returns undefined when
 * the address is not in the 0xFEEx_xxxx interrupt window, i.e. the write is not an interrupt.
 *
 * @param m - the message
 * @returns the interrupt, or undefined
 */
export function decodeMsi(m: MsiAddressData): ApicInterrupt | undefined {
  if (m.addressHigh !== 0 || m.addressLow >>> 20 !== 0xfee) return undefined;
  return {
    vector: m.data & 0xff,
    destination: (m.addressLow >>> 12) & 0xff,
    destinationMode: m.addressLow & 0x4 ? 'logical' : 'physical',
    deliveryMode: (m.data >>> 8) & 7,
    triggerMode: m.data & 0x8000 ? 'level' : 'edge',
    redirectionHint: (m.addressLow & 0x8) !== 0,
  };
}
