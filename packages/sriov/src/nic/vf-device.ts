import {
  type AccessSize,
  type GuestMemory,
  GuestMemoryError,
  type MmioHandler,
} from '@vmkit/memory';
import type { PciFunction } from '@vmkit/pci';
import type { SwitchPort } from './l2-switch.js';
import {
  CTRL_RESET,
  DESCRIPTOR_SIZE,
  DescStatus,
  QUEUE_ENABLE,
  TxCmd,
  VfCause,
  VfReg,
} from './vf-registers.js';

/** Counters of one VF. */
export interface VfStats {
  /** Frames transmitted. */
  txFrames: number;
  /** Frames received into the ring. */
  rxFrames: number;
  /** Frames dropped: no RX descriptor available, queue disabled, or frame longer than the buffer. */
  rxDropped: number;
  /** DMA requests that failed (blocked by the IOMMU or bus mastering off). */
  dmaErrors: number;
  /** Interrupt messages signalled. */
  interrupts: number;
}

const VECTOR_OF: Record<number, number> = {
  [VfCause.RX]: 0,
  [VfCause.TX]: 1,
  [VfCause.MAILBOX]: 2,
};

/**
 * The per-VF part of the NIC: its BAR0 registers, one legacy-descriptor RX and TX ring in guest
 * memory reached only through `dma` (the VF's IOMMU view), interrupt causes mapped onto 3 MSI-X
 * vectors, and its switch port.
 *
 * TX: a write to TDT processes descriptors from TDH up to TDT: each legacy descriptor (buffer
 * address 63:0, length 79:64, CMD 95:88, status 99:96) is read by DMA, its buffer read by DMA,
 * frames end at EOP and go to the switch; with RS the device writes DD back; TDH advances; the
 * TX cause is raised. RX: a frame for the VF takes the descriptor at RDH if RDH != RDT, is written
 * by DMA into its buffer, the descriptor gets length and DD|EOP, RDH advances, the RX cause is
 * raised. A DMA that the IOMMU blocks drops the frame and is counted, never performed.
 */
export class VfDevice implements MmioHandler, SwitchPort {
  /** VF number (1-based). */
  readonly vf: number;
  /** MAC address (set by the PF). */
  mac: Uint8Array;
  /** Port VLAN (set by the PF). */
  vlan: number | undefined;
  /** Counters. */
  readonly stats: VfStats = { txFrames: 0, rxFrames: 0, rxDropped: 0, dmaErrors: 0, interrupts: 0 };
  /** The VF function, once created (for Bus Master Enable and MSI-X). */
  fn: PciFunction | undefined;
  private readonly regs = new Map<number, number>();
  private readonly dma: () => GuestMemory;
  private readonly transmit: (vf: number, frame: Uint8Array) => void;
  private eicr = 0;
  private eims = 0;
  private pending: Uint8Array[] = [];

  /**
   * @param vf - VF number
   * @param mac - initial MAC
   * @param dma - the VF's DMA view (through the IOMMU)
   * @param transmit - hands a frame to the switch
   */
  constructor(
    vf: number,
    mac: Uint8Array,
    dma: () => GuestMemory,
    transmit: (vf: number, frame: Uint8Array) => void,
  ) {
    this.vf = vf;
    this.mac = mac;
    this.vlan = undefined;
    this.dma = dma;
    this.transmit = transmit;
  }

  /** Resets queues and interrupt state (VFCTRL.RST or FLR). */
  reset(): void {
    this.regs.clear();
    this.eicr = 0;
    this.eims = 0;
    this.pending = [];
  }

  read(offset: number, size: AccessSize): bigint {
    if (size === 8) return this.read(offset, 4) | (this.read(offset + 4, 4) << 32n);
    return (
      BigInt(this.read32(offset & ~3) >>> (8 * (offset & 3))) & ((1n << BigInt(8 * size)) - 1n)
    );
  }

  write(offset: number, size: AccessSize, value: bigint): void {
    if (size === 8) {
      this.write(offset, 4, value & 0xffff_ffffn);
      this.write(offset + 4, 4, value >> 32n);
      return;
    }
    if (size !== 4 || (offset & 3) !== 0) return; // registers take aligned DWORD writes
    this.write32(offset, Number(value & 0xffff_ffffn));
  }

  /**
   * A frame delivered by the switch (already untagged).
   *
   * @param frame - the frame
   * @returns whether it was placed in the RX ring
   */
  receive(frame: Uint8Array): boolean {
    const r = (reg: number) => this.regs.get(reg) ?? 0;
    const ringBytes = r(VfReg.RDLEN);
    const count = ringBytes / DESCRIPTOR_SIZE;
    const head = r(VfReg.RDH);
    if ((r(VfReg.RXDCTL) & QUEUE_ENABLE) === 0 || count === 0 || head === r(VfReg.RDT)) {
      this.stats.rxDropped++;
      return false;
    }
    const bufferSize = (r(VfReg.SRRCTL) & 0x1f || 2) * 1024;
    if (frame.length > bufferSize) {
      this.stats.rxDropped++;
      return false;
    }
    const desc = r(VfReg.RDBAH) * 2 ** 32 + r(VfReg.RDBAL) + head * DESCRIPTOR_SIZE;
    try {
      const mem = this.busMaster();
      const buffer = mem.read32(desc) + mem.read32(desc + 4) * 2 ** 32;
      mem.writeBytes(buffer, frame);
      // Write-back: length (bits 79:64), status DD|EOP (byte 12); checksum, errors, VLAN 0.
      mem.write32(desc + 8, frame.length);
      mem.write32(desc + 12, DescStatus.DD | DescStatus.EOP);
    } catch (e) {
      if (!(e instanceof GuestMemoryError)) throw e;
      this.stats.dmaErrors++;
      this.stats.rxDropped++;
      return false;
    }
    this.regs.set(VfReg.RDH, (head + 1) % count);
    this.stats.rxFrames++;
    this.raise(VfCause.RX);
    return true;
  }

  private read32(offset: number): number {
    switch (offset) {
      case VfReg.STATUS:
        return (1 << 1) | (3 << 6);
      case VfReg.EICR:
        return this.eicr;
      case VfReg.EIMS:
        return this.eims;
      case VfReg.RAL:
        return (
          (this.mac[0]! | (this.mac[1]! << 8) | (this.mac[2]! << 16) | (this.mac[3]! << 24)) >>> 0
        );
      case VfReg.RAH:
        return (this.mac[4]! | (this.mac[5]! << 8) | 0x8000_0000) >>> 0;
      default:
        return this.regs.get(offset) ?? 0;
    }
  }

  private write32(offset: number, v: number): void {
    switch (offset) {
      case VfReg.CTRL:
        if (v & CTRL_RESET) this.reset();
        return;
      case VfReg.EICR:
        this.eicr &= ~v;
        return;
      case VfReg.EICS:
        this.raise(v & 7);
        return;
      case VfReg.EIMS:
        this.eims |= v & 7;
        this.flush();
        return;
      case VfReg.EIMC:
        this.eims &= ~v;
        return;
      case VfReg.STATUS:
      case VfReg.RAL:
      case VfReg.RAH:
      case VfReg.RDH:
      case VfReg.TDH:
        return; // read-only to the VF (heads belong to the device)
      case VfReg.RDLEN:
      case VfReg.TDLEN:
        this.regs.set(offset, v & 0xf_ff80);
        return;
      case VfReg.RDT:
      case VfReg.TDT: {
        const len =
          (this.regs.get(offset === VfReg.RDT ? VfReg.RDLEN : VfReg.TDLEN) ?? 0) / DESCRIPTOR_SIZE;
        this.regs.set(offset, len === 0 ? 0 : v % len);
        if (offset === VfReg.TDT) this.processTx();
        return;
      }
      default:
        this.regs.set(offset, v >>> 0);
    }
  }

  /** Processes TX descriptors from TDH to TDT. */
  private processTx(): void {
    const r = (reg: number) => this.regs.get(reg) ?? 0;
    if ((r(VfReg.TXDCTL) & QUEUE_ENABLE) === 0) return;
    const count = r(VfReg.TDLEN) / DESCRIPTOR_SIZE;
    if (count === 0) return;
    const base = r(VfReg.TDBAH) * 2 ** 32 + r(VfReg.TDBAL);
    let head = r(VfReg.TDH);
    const tail = r(VfReg.TDT);
    let any = false;
    while (head !== tail) {
      const desc = base + head * DESCRIPTOR_SIZE;
      try {
        const mem = this.busMaster();
        const buffer = mem.read32(desc) + mem.read32(desc + 4) * 2 ** 32;
        const word = mem.read32(desc + 8);
        const length = word & 0xffff;
        const cmd = word >>> 24;
        const data = new Uint8Array(length);
        mem.readBytes(buffer, data);
        this.pending.push(data);
        if (cmd & TxCmd.RS) mem.write32(desc + 12, DescStatus.DD);
        if (cmd & TxCmd.EOP) {
          const frame = concat(this.pending);
          this.pending = [];
          this.stats.txFrames++;
          this.transmit(this.vf, frame);
        }
      } catch (e) {
        if (!(e instanceof GuestMemoryError)) throw e;
        this.stats.dmaErrors++;
        this.pending = [];
      }
      head = (head + 1) % count;
      any = true;
    }
    this.regs.set(VfReg.TDH, head);
    if (any) this.raise(VfCause.TX);
  }

  /** The DMA view, refused while Bus Master Enable is clear (PCIe 4.0 §7.5.1.1.3). */
  private busMaster(): GuestMemory {
    if (this.fn !== undefined && !this.fn.busMasterEnabled) {
      throw new GuestMemoryError('OUT_OF_RANGE', 'bus mastering is disabled');
    }
    return this.dma();
  }

  private raise(causes: number): void {
    this.eicr |= causes;
    this.flush();
  }

  /**
   * Signals the MSI-X vector of every cause that is set and enabled; a cause whose message goes
   * out auto-clears, as the 82599 does for MSI-X causes in its auto-clear register (VFEIAC).
   */
  private flush(): void {
    const due = this.eicr & this.eims;
    for (const cause of [VfCause.RX, VfCause.TX, VfCause.MAILBOX]) {
      if ((due & cause) === 0) continue;
      if (this.fn?.signalInterrupt(VECTOR_OF[cause]!) === 'sent') {
        this.eicr &= ~cause;
        this.stats.interrupts++;
      }
    }
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
