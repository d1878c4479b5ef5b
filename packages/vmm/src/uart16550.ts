import type { PioDevice, PortSize } from './pio-bus.js';

// Register offsets of the National Semiconductor PC16550D (data sheet, Table II "Register
// Summary"): with LCR.DLAB = 0, offset 0 is THR/RBR and 1 is IER; with DLAB = 1 they are the
// divisor latch (DLL, DLM).
const THR = 0;
const IER = 1;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const SCR = 7;
const DLAB = 0x80;
/** LSR: THR empty (bit 5) and transmitter empty (bit 6): the transmitter never backs up. */
const LSR_IDLE = 0x60;

/**
 * A 16550 UART, transmit side only (the console the guest writes): bytes written to THR go to
 * the sink; writes to offset 0/1 while LCR.DLAB is set program the divisor latch and are not
 * output (the guest's console driver sets the baud rate that way). LSR always reports the
 * transmitter empty; there is no receive data and no interrupt.
 *
 * @example
 * ```ts
 * let out = '';
 * const uart = new Uart16550((b) => { out += String.fromCharCode(b); });
 * uart.write(0, 1, 0x41);
 * ```
 */
export class Uart16550 implements PioDevice {
  private lcr = 0;
  private ier = 0;
  private mcr = 0;
  private scr = 0;
  private divisor = 0;

  /** @param sink - receives each transmitted byte */
  constructor(private readonly sink: (byte: number) => void) {}

  /** The divisor latch value the guest last programmed (DLM:DLL). */
  get divisorLatch(): number {
    return this.divisor;
  }

  /**
   * Reads a register.
   *
   * @param offset - register offset, 0..7
   * @returns its value
   */
  read(offset: number, _size: PortSize): number {
    const dlab = (this.lcr & DLAB) !== 0;
    switch (offset) {
      case THR:
        return dlab ? this.divisor & 0xff : 0;
      case IER:
        return dlab ? this.divisor >>> 8 : this.ier;
      case LCR:
        return this.lcr;
      case MCR:
        return this.mcr;
      case LSR:
        return LSR_IDLE;
      case SCR:
        return this.scr;
      default:
        return 0;
    }
  }

  /**
   * Writes a register (only the low byte counts: the 16550's registers are 8 bits wide).
   *
   * @param offset - register offset, 0..7
   * @param value - the value
   */
  write(offset: number, _size: PortSize, value: number): void {
    const b = value & 0xff;
    const dlab = (this.lcr & DLAB) !== 0;
    switch (offset) {
      case THR:
        if (dlab) this.divisor = (this.divisor & 0xff00) | b;
        else this.sink(b);
        return;
      case IER:
        if (dlab) this.divisor = (this.divisor & 0xff) | (b << 8);
        else this.ier = b & 0x0f;
        return;
      case LCR:
        this.lcr = b;
        return;
      case MCR:
        this.mcr = b & 0x1f;
        return;
      case SCR:
        this.scr = b;
        return;
      default:
        return;
    }
  }
}
