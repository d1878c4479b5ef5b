import type { PioDevice, PortSize } from './pio-bus.js';

/**
 * The debug-exit device of the boot protocol (README of `@vmkit/guest`, "Exit"): an OUT of any
 * width ends the run with the value written as the guest's status. Reads return 0.
 *
 * @example
 * ```ts
 * const exit = new DebugExit();
 * exit.write(0, 4, 0x1000e);
 * console.log(exit.status); // 65550
 * ```
 */
export class DebugExit implements PioDevice {
  /** The status the guest wrote, or undefined before it wrote one. */
  status: number | undefined;

  /** @returns 0 */
  read(_offset: number, _size: PortSize): number {
    return 0;
  }

  /**
   * Records the exit status.
   *
   * @param value - the status
   */
  write(_offset: number, _size: PortSize, value: number): void {
    this.status = value >>> 0;
  }
}
