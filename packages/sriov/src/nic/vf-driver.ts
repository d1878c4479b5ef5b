import type { MsiAddressData } from '@vmkit/interrupts';
import type { GuestMemory } from '@vmkit/memory';
import { CapabilityId, Command, listCapabilities } from '@vmkit/pci';
import { SriovError } from '../errors.js';
import {
  DESCRIPTOR_SIZE,
  DescStatus,
  QUEUE_ENABLE,
  TxCmd,
  VfCause,
  VfReg,
} from './vf-registers.js';

/** Configuration-space access to one function, as a guest kernel has it. */
export interface ConfigAccess {
  /** Reads `size` bytes at `offset`. */
  read(offset: number, size: 1 | 2 | 4): number;
  /** Writes `size` bytes at `offset`. */
  write(offset: number, size: 1 | 2 | 4, value: number): void;
}

/** What the VF driver is given by its "guest kernel". */
export interface VfDriverOptions {
  /** The VF's configuration space. */
  readonly config: ConfigAccess;
  /** The guest's view of its physical address space: RAM plus the VF's mapped BARs. */
  readonly memory: GuestMemory;
  /** Guest-physical address where VF BAR0 (registers) is mapped. */
  readonly bar0: number;
  /** Guest-physical address where VF BAR3 (MSI-X table) is mapped. */
  readonly bar3: number;
  /** Guest-physical RAM the driver may use for rings and buffers (at least 8 KiB + 4 KiB per descriptor). */
  readonly dmaArea: number;
  /** Descriptors per ring, a multiple of 8 (default 64). */
  readonly ringSize?: number;
  /** The MSI-X message of each vector (0 RX, 1 TX, 2 mailbox), as the guest's interrupt setup chose. */
  readonly msix: (vector: number) => MsiAddressData;
}

const BUFFER = 2048;

/**
 * A VF driver in TypeScript, doing what the guest's ixgbevf-style driver does, only through
 * configuration accesses, MMIO and guest RAM: enable bus mastering and MSI-X (3 vectors), read the
 * MAC the PF assigned, set up one RX and one TX ring of legacy descriptors, post RX buffers, send
 * frames by writing descriptors and the TDT doorbell, and harvest received frames. The guest-side C
 * driver will follow the same steps.
 */
export class VfDriver {
  /** Descriptors per ring. */
  readonly ringSize: number;
  /** The driver's inputs. */
  private readonly o: VfDriverOptions;
  private txTail = 0;
  private txClean = 0;
  private rxNext = 0;

  /** @param options - config access, guest memory, BAR and DMA-area addresses, MSI-X messages */
  constructor(options: VfDriverOptions) {
    const n = options.ringSize ?? 64;
    if (!Number.isInteger(n) || n < 8 || n % 8 !== 0)
      throw new SriovError('INVALID_CONFIG', 'ring size must be a multiple of 8');
    this.ringSize = n;
    this.o = options;
  }

  private get txRing(): number {
    return this.o.dmaArea;
  }

  private get rxRing(): number {
    return this.o.dmaArea + 0x1000;
  }

  private txBuffer(i: number): number {
    return this.o.dmaArea + 0x2000 + i * BUFFER;
  }

  private rxBuffer(i: number): number {
    return this.o.dmaArea + 0x2000 + (this.ringSize + i) * BUFFER;
  }

  private reg(offset: number): number {
    return this.o.memory.read32(this.o.bar0 + offset);
  }

  private setReg(offset: number, value: number): void {
    this.o.memory.write32(this.o.bar0 + offset, value >>> 0);
  }

  /** The MAC address the PF assigned (RAL/RAH). */
  get mac(): Uint8Array {
    const lo = this.reg(VfReg.RAL);
    const hi = this.reg(VfReg.RAH);
    return Uint8Array.from([
      lo & 0xff,
      (lo >>> 8) & 0xff,
      (lo >>> 16) & 0xff,
      lo >>> 24,
      hi & 0xff,
      (hi >>> 8) & 0xff,
    ]);
  }

  /** Brings the VF up: bus mastering, MSI-X, rings, queues, RX buffers posted. */
  init(): void {
    const { config, memory } = this.o;
    config.write(0x04, 2, config.read(0x04, 2) | Command.BUS_MASTER);
    const msix = listCapabilities((o, s) => config.read(o, s)).find(
      (c) => c.id === CapabilityId.MSI_X,
    );
    if (msix === undefined) throw new SriovError('NO_CAPABILITY', 'the VF has no MSI-X capability');
    for (let v = 0; v < 3; v++) {
      const m = this.o.msix(v);
      memory.write32(this.o.bar3 + v * 16, m.addressLow);
      memory.write32(this.o.bar3 + v * 16 + 4, m.addressHigh);
      memory.write32(this.o.bar3 + v * 16 + 8, m.data);
      memory.write32(this.o.bar3 + v * 16 + 12, 0);
    }
    config.write(msix.offset + 2, 2, 0x8000);
    const bytes = this.ringSize * DESCRIPTOR_SIZE;
    memory.fill(this.txRing, bytes, 0);
    memory.fill(this.rxRing, bytes, 0);
    this.setReg(VfReg.TDBAL, this.txRing % 2 ** 32);
    this.setReg(VfReg.TDBAH, Math.floor(this.txRing / 2 ** 32));
    this.setReg(VfReg.TDLEN, bytes);
    this.setReg(VfReg.TXDCTL, QUEUE_ENABLE);
    this.setReg(VfReg.RDBAL, this.rxRing % 2 ** 32);
    this.setReg(VfReg.RDBAH, Math.floor(this.rxRing / 2 ** 32));
    this.setReg(VfReg.RDLEN, bytes);
    this.setReg(VfReg.SRRCTL, BUFFER / 1024);
    for (let i = 0; i < this.ringSize; i++) this.postRx(i);
    this.setReg(VfReg.RXDCTL, QUEUE_ENABLE);
    this.setReg(VfReg.RDT, this.ringSize - 1);
    this.setReg(VfReg.EIMS, VfCause.RX | VfCause.TX | VfCause.MAILBOX);
  }

  /**
   * Queues one frame: writes the buffer and a legacy descriptor (EOP | IFCS | RS) and rings TDT.
   *
   * @param frame - the frame (at most 2048 bytes)
   * @returns false when the TX ring is full
   */
  send(frame: Uint8Array): boolean {
    this.reclaimTx();
    const next = (this.txTail + 1) % this.ringSize;
    if (next === this.txClean || frame.length > BUFFER) return false;
    const { memory } = this.o;
    const desc = this.txRing + this.txTail * DESCRIPTOR_SIZE;
    memory.writeBytes(this.txBuffer(this.txTail), frame);
    memory.write32(desc, this.txBuffer(this.txTail) % 2 ** 32);
    memory.write32(desc + 4, Math.floor(this.txBuffer(this.txTail) / 2 ** 32));
    memory.write32(desc + 8, (frame.length | ((TxCmd.EOP | TxCmd.IFCS | TxCmd.RS) << 24)) >>> 0);
    memory.write32(desc + 12, 0);
    this.txTail = next;
    this.setReg(VfReg.TDT, this.txTail);
    return true;
  }

  /**
   * Harvests received frames (descriptors with DD set) and gives their buffers back to the device.
   *
   * @returns the frames, in order
   */
  receive(): Uint8Array[] {
    const { memory } = this.o;
    const out: Uint8Array[] = [];
    for (;;) {
      const desc = this.rxRing + this.rxNext * DESCRIPTOR_SIZE;
      const status = memory.read32(desc + 12);
      if ((status & DescStatus.DD) === 0) break;
      const length = memory.read32(desc + 8) & 0xffff;
      const frame = new Uint8Array(length);
      memory.readBytes(this.rxBuffer(this.rxNext), frame);
      out.push(frame);
      this.postRx(this.rxNext);
      this.setReg(VfReg.RDT, this.rxNext);
      this.rxNext = (this.rxNext + 1) % this.ringSize;
    }
    return out;
  }

  /** Frees TX descriptors the device finished (DD written back). */
  private reclaimTx(): void {
    const { memory } = this.o;
    while (this.txClean !== this.txTail) {
      const desc = this.txRing + this.txClean * DESCRIPTOR_SIZE;
      if ((memory.read32(desc + 12) & DescStatus.DD) === 0) break;
      this.txClean = (this.txClean + 1) % this.ringSize;
    }
  }

  private postRx(i: number): void {
    const { memory } = this.o;
    const desc = this.rxRing + i * DESCRIPTOR_SIZE;
    memory.write32(desc, this.rxBuffer(i) % 2 ** 32);
    memory.write32(desc + 4, Math.floor(this.rxBuffer(i) / 2 ** 32));
    memory.write32(desc + 8, 0);
    memory.write32(desc + 12, 0);
  }
}
