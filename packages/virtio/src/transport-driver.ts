import type { QueueAreas } from './mmio-driver.js';

/**
 * What a guest driver does with any virtio transport (virtio 1.2 §3.1 through §4.1 or §4.2):
 * the seam that lets the conformance suite run the same checks over MMIO and PCI.
 */
export interface TransportDriver {
  /** The device status byte. */
  readonly status: number;
  /** Writes the device status byte. */
  writeStatus(value: number): void;
  /** The 64 offered feature bits. */
  deviceFeatures(): bigint;
  /** Writes the 64 accepted feature bits. */
  writeFeatures(features: bigint): void;
  /**
   * §3.1.1 steps 1-6 (reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, re-read).
   *
   * @returns whether FEATURES_OK stuck
   */
  negotiate(choose: (offered: bigint) => bigint): boolean;
  /** The maximum size of queue `index`, 0 if it does not exist. */
  queueMaxSize(index: number): number;
  /** Whether queue `index` is enabled. */
  queueReady(index: number): boolean;
  /** Configures and enables queue `index`. */
  setupQueue(index: number, areas: QueueAreas): void;
  /** Sets DRIVER_OK. */
  driverOk(): void;
  /** Sends an available buffer notification for queue `index`. */
  notify(index: number): void;
  /** Reads (and acknowledges) the pending interrupt reasons: bit 0 used buffer, bit 1 config. */
  takeInterrupts(): number;
  /** Reads `size` bytes of device configuration at `offset`. */
  config(offset: number, size: 1 | 2 | 4): number;
}
