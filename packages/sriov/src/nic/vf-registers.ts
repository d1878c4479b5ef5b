/**
 * VF register offsets in BAR0, after the 82599 VF register map (82599 datasheet §8.3, as the
 * Linux ixgbevf driver uses it): control and status, extended interrupt registers, and one RX and
 * one TX queue. The receive address registers (RAL/RAH) are read-only to the VF: the PF owns the
 * VF's MAC address.
 */
export const VfReg = {
  /** VFCTRL: bit 26 resets the VF's queues and interrupt state. */
  CTRL: 0x0000,
  /** VFSTATUS: bit 1 link up; speed 10 Gb/s in bits 7:6 = 11b. */
  STATUS: 0x0008,
  /** VFEICR: interrupt causes, write 1 to clear. */
  EICR: 0x0100,
  /** VFEICS: write 1 to set a cause (software-triggered interrupt). */
  EICS: 0x0104,
  /** VFEIMS: write 1 to enable (unmask) a cause; reads the mask. */
  EIMS: 0x0108,
  /** VFEIMC: write 1 to disable (mask) a cause. */
  EIMC: 0x010c,
  /** VFRDBAL: RX ring base, low. */
  RDBAL: 0x1000,
  /** VFRDBAH: RX ring base, high. */
  RDBAH: 0x1004,
  /** VFRDLEN: RX ring length in bytes (multiple of 128). */
  RDLEN: 0x1008,
  /** VFRDH: RX head (device owned). */
  RDH: 0x1010,
  /** VFSRRCTL: RX buffer size in 1 KiB units (bits 4:0). */
  SRRCTL: 0x1014,
  /** VFRDT: RX tail (driver owned). */
  RDT: 0x1018,
  /** VFRXDCTL: bit 25 enables the queue. */
  RXDCTL: 0x1028,
  /** VFTDBAL: TX ring base, low. */
  TDBAL: 0x2000,
  /** VFTDBAH: TX ring base, high. */
  TDBAH: 0x2004,
  /** VFTDLEN: TX ring length in bytes. */
  TDLEN: 0x2008,
  /** VFTDH: TX head (device owned). */
  TDH: 0x2010,
  /** VFTDT: TX tail (driver owned): writing it is the doorbell. */
  TDT: 0x2018,
  /** VFTXDCTL: bit 25 enables the queue. */
  TXDCTL: 0x2028,
  /** RAL: MAC address bytes 0-3 (RO to the VF). */
  RAL: 0x3000,
  /** RAH: MAC address bytes 4-5 in 15:0, Address Valid in bit 31 (RO to the VF). */
  RAH: 0x3004,
} as const;

/** Queue enable bit of RXDCTL/TXDCTL. */
export const QUEUE_ENABLE = 1 << 25;
/** VFCTRL reset bit. */
export const CTRL_RESET = 1 << 26;

/** Interrupt causes (EICR bits) and the MSI-X vector of each: 3 vectors per VF as on the 82599. */
export const VfCause = {
  /** RX queue 0: MSI-X vector 0. */
  RX: 1 << 0,
  /** TX queue 0: MSI-X vector 1. */
  TX: 1 << 1,
  /** Mailbox / link change: MSI-X vector 2. */
  MAILBOX: 1 << 2,
} as const;

/** Legacy descriptor size in bytes. */
export const DESCRIPTOR_SIZE = 16;

/** Legacy TX descriptor CMD bits (byte 11): EOP, IFCS, RS (82599 datasheet §7.2.3.2.2). */
export const TxCmd = {
  /** End of packet. */
  EOP: 1 << 0,
  /** Insert FCS. */
  IFCS: 1 << 1,
  /** Report status: write DD back when done. */
  RS: 1 << 3,
} as const;

/** Descriptor status bits: DD (done) in both rings, EOP in the RX status. */
export const DescStatus = {
  /** Descriptor done. */
  DD: 1 << 0,
  /** End of packet (RX). */
  EOP: 1 << 1,
} as const;
